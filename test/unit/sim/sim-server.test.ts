import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorBody, health } from '../../../src/contracts/common.ts';
import {
  domainChangeResult,
  domainList,
  domainState,
  gatewayAuditPage,
  queueList,
  spamMetrics,
} from '../../../src/contracts/gateway.ts';
import {
  complianceHistory,
  complianceReport,
  devicePage,
  patchList,
  patchStatePage,
  regionList,
} from '../../../src/contracts/inventory.ts';
import { clockState } from '../../../src/contracts/sim.ts';
import { MAX_BODY_BYTES, type SimServer, startSimServer } from '../../../src/sim/server.ts';

const TOKENS = { inventory: 'inv-secret', gateway: 'gw-secret' };
const auth = (api: 'inventory' | 'gateway') => ({ authorization: `Bearer ${TOKENS[api]}` });

let server: SimServer;
before(async () => {
  server = await startSimServer({ port: 0, speed: 0, devices: 2_000, tokens: TOKENS });
});
after(() => server.close());

async function call(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  const api = path.startsWith('/gateway') ? 'gateway' : 'inventory';
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...auth(api),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    body: init.body,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

async function expectError(res: Awaited<ReturnType<typeof call>>, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  const body = errorBody.parse(res.json);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  assert.doesNotMatch(res.text, /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace in error bodies');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
}

const patchBody = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ inbound: 'open', reason: 'fully patched', actor: 'op-1', ...over });

describe('sim server: the wire contract', () => {
  test('every GET answers in the contract’s shape', async () => {
    health.parse((await call('GET', '/inventory/v1/health')).json);
    health.parse((await call('GET', '/gateway/v1/health')).json);
    assert.equal(regionList.parse((await call('GET', '/inventory/v1/regions')).json).items.length, 66);
    assert.equal(patchList.parse((await call('GET', '/inventory/v1/patches')).json).items.length, 2);
    const devices = devicePage.parse(
      (await call('GET', '/inventory/v1/devices?region=kr-olpe&kind=server&limit=5')).json,
    );
    assert.ok(devices.items.every((d) => d.kind === 'server' && d.kreis === 'kr-olpe'));
    const rows = patchStatePage.parse(
      (
        await call(
          'GET',
          '/inventory/v1/patch-states?patch=outlook-2024-02&region=vb-sued&state=pending,failed&limit=3',
        )
      ).json,
    );
    assert.equal(rows.items.length, 3);
    complianceReport.parse((await call('GET', '/inventory/v1/compliance?region=vb-nord')).json);
    const h = complianceHistory.parse(
      (
        await call(
          'GET',
          '/inventory/v1/compliance/history?region=kr-olpe&patch=outlook-2024-02&from=2024-02-14T17:00:00Z&to=2024-02-15T17:00:00Z&stepMinutes=120',
        )
      ).json,
    );
    assert.equal(h.points.length, 13);
    assert.equal(domainList.parse((await call('GET', '/gateway/v1/domains?kreis=kr-olpe')).json).items.length, 8);
    const one = await call('GET', '/gateway/v1/domains/olpe.de');
    assert.equal(one.headers.get('etag'), `"${domainState.parse(one.json).version}"`);
    assert.equal(queueList.parse((await call('GET', '/gateway/v1/queues?kreis=kr-olpe')).json).items.length, 16);
    spamMetrics.parse(
      (
        await call(
          'GET',
          '/gateway/v1/metrics/spam?from=2024-02-15T16:00:00Z&to=2024-02-15T17:00:00Z&domain=olpe.de,wenden.de',
        )
      ).json,
    );
    gatewayAuditPage.parse((await call('GET', '/gateway/v1/audit?limit=10')).json);
    clockState.parse((await call('GET', '/sim/v1/clock')).json);
  });

  test('PATCH: replay carries Idempotent-Replayed, key reuse is 422, stale If-Match is 409', async () => {
    const headers = { 'idempotency-key': 'http-1' };
    const first = await call('PATCH', '/gateway/v1/domains/wenden.de', { headers, body: patchBody() });
    assert.equal(first.status, 200);
    const r = domainChangeResult.parse(first.json);
    assert.equal(first.headers.get('etag'), `"${r.domain.version}"`);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const replay = await call('PATCH', '/gateway/v1/domains/wenden.de', { headers, body: patchBody() });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.json, { ...r, replayed: true });
    await expectError(
      await call('PATCH', '/gateway/v1/domains/wenden.de', { headers, body: patchBody({ inbound: 'blocked' }) }),
      422,
      'idempotency_key_reused',
    );
    await expectError(
      await call('PATCH', '/gateway/v1/domains/wenden.de', {
        headers: { 'idempotency-key': 'http-2', 'if-match': '"1"' },
        body: patchBody({ inbound: 'blocked' }),
      }),
      409,
      'version_conflict',
    );
    const ok = await call('PATCH', '/gateway/v1/domains/wenden.de', {
      headers: { 'idempotency-key': 'http-2', 'if-match': `"${r.domain.version}"` },
      body: patchBody({ inbound: 'blocked' }),
    });
    assert.equal(ok.status, 200);
  });

  test('bulk changes and queue release over HTTP', async () => {
    const bulk = await call('POST', '/gateway/v1/changes', {
      headers: { 'idempotency-key': 'bulk-http' },
      body: JSON.stringify({
        selector: { municipality: 'ko-attendorn' },
        outbound: 'open',
        reason: 'patched',
        actor: 'op',
      }),
    });
    assert.equal(bulk.status, 200);
    assert.deepEqual(
      (bulk.json as { results: { domain: string }[] }).results.map((x) => x.domain),
      ['attendorn.de'],
    );
    const release = await call('POST', '/gateway/v1/queues/olpe.de/inbound/release', {
      headers: { 'idempotency-key': 'rel-http' },
      body: JSON.stringify({ actor: 'op', reason: 'deliver now' }),
    });
    assert.equal(release.status, 200);
    await expectError(
      await call('POST', '/gateway/v1/queues/olpe.de/sideways/release', {
        headers: { 'idempotency-key': 'rel-x' },
        body: JSON.stringify({ actor: 'op', reason: 'deliver now' }),
      }),
      404,
      'not_found',
    );
  });
});

describe('sim server: errors', () => {
  test('401 without or with a wrong bearer token; the controls are open', async () => {
    const none = await fetch(`${server.url}/gateway/v1/domains`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(errorBody.parse(await none.json()).error.code, 'unauthorized');
    await expectError(
      await call('GET', '/inventory/v1/regions', { headers: { authorization: 'Bearer gw-secret' } }),
      401,
      'unauthorized',
    );
    await expectError(
      await call('GET', '/inventory/v1/regions', { headers: { authorization: 'Basic aW52LXNlY3JldA==' } }),
      401,
      'unauthorized',
    );
    assert.equal((await fetch(`${server.url}/sim/v1/clock`)).status, 200);
  });

  test('404 for unknown paths and ids', async () => {
    await expectError(await call('GET', '/nowhere'), 404, 'not_found');
    await expectError(await call('GET', '/inventory/v1/nowhere'), 404, 'not_found');
    await expectError(await call('GET', '/inventory/v2/regions'), 404, 'not_found');
    await expectError(await call('GET', '/gateway/v1/domains/example.org'), 404, 'domain_not_found');
    await expectError(await call('GET', '/inventory/v1/compliance?region=kr-atlantis'), 404, 'region_not_found');
    await expectError(await call('GET', '/inventory/v1/patch-states?patch=windows-95'), 404, 'patch_not_found');
  });

  test('405 with Allow for a wrong method', async () => {
    const res = await call('DELETE', '/gateway/v1/domains/olpe.de');
    await expectError(res, 405, 'method_not_allowed');
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'PATCH']);
    await expectError(await call('POST', '/inventory/v1/regions', { body: '{}' }), 405, 'method_not_allowed');
  });

  test('400 for malformed JSON, invalid bodies and queries, missing Idempotency-Key', async () => {
    const key = { 'idempotency-key': 'bad-1' };
    await expectError(
      await call('PATCH', '/gateway/v1/domains/olpe.de', { headers: key, body: '{"inbound": ' }),
      400,
      'invalid_json',
    );
    const invalid = await call('PATCH', '/gateway/v1/domains/olpe.de', {
      headers: key,
      body: JSON.stringify({ inbound: 'wide-open' }),
    });
    await expectError(invalid, 400, 'invalid_request');
    assert.ok(Array.isArray(errorBody.parse(invalid.json).error.details));
    await expectError(
      await call('PATCH', '/gateway/v1/domains/olpe.de', { body: patchBody() }),
      400,
      'idempotency_key_required',
    );
    await expectError(
      await call('PATCH', '/gateway/v1/domains/olpe.de', {
        headers: { ...key, 'if-match': 'yesterday' },
        body: patchBody(),
      }),
      400,
      'invalid_request',
    );
    await expectError(await call('GET', '/inventory/v1/compliance'), 400, 'invalid_request');
    await expectError(await call('GET', '/inventory/v1/devices?limit=0'), 400, 'invalid_request');
    await expectError(await call('GET', '/inventory/v1/devices?cursor=garbage'), 400, 'invalid_cursor');
    await expectError(
      await call('GET', '/inventory/v1/patch-states?patch=outlook-2024-02&state=sleepy'),
      400,
      'invalid_request',
    );
    await expectError(
      await call('GET', '/gateway/v1/metrics/spam?from=2024-02-13T00:00:00Z&to=2024-02-15T00:00:00Z'),
      400,
      'range_too_large',
    );
    await expectError(
      await call(
        'GET',
        '/gateway/v1/metrics/spam?from=2024-02-14T00:00:00Z&to=2024-02-14T01:00:00Z&kreis=kr-olpe&verband=vb-sued',
      ),
      400,
      'invalid_request',
    );
    await expectError(
      await call('POST', '/sim/v1/spam', {
        body: JSON.stringify({ domain: 'olpe.de', region: 'kr-olpe', factor: 2, minutes: 5 }),
      }),
      400,
      'invalid_request',
    );
    assert.equal(server.sim.domain('olpe.de').version, 1, 'nothing changed');
  });

  test('413 for a body over 1 MiB, declared or streamed; the server keeps serving', async () => {
    const big = 'x'.repeat(MAX_BODY_BYTES + 1);
    await expectError(await call('POST', '/sim/v1/reset', { body: big }), 413, 'payload_too_large');
    const chunk = new Uint8Array(64 * 1024).fill(32);
    const streamed = await fetch(`${server.url}/sim/v1/reset`, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let k = 0; k < 20; k++) c.enqueue(chunk);
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal(errorBody.parse(await streamed.json()).error.code, 'payload_too_large');
    assert.equal((await call('GET', '/inventory/v1/health')).status, 200);
  });
});

describe('sim server: controls and faults', () => {
  test('clock, reset and spam controls', async () => {
    const post = (path: string, body: unknown) => call('POST', `/sim/v1${path}`, { body: JSON.stringify(body) });
    const advanced = clockState.parse((await post('/clock', { advanceMinutes: 90 })).json);
    assert.equal(advanced.now, '2024-02-15T18:30:00.000Z');
    await expectError(await post('/clock', {}), 400, 'invalid_request');
    const spike = await post('/spam', { region: 'ko-olpe', factor: 5, minutes: 10 });
    assert.equal(spike.status, 200);
    assert.deepEqual((spike.json as { domains: string[] }).domains, ['olpe.de']);
    await expectError(await post('/spam', { domain: 'nowhere.de', factor: 5, minutes: 10 }), 404, 'domain_not_found');
    const reset = clockState.parse((await post('/reset', { scenario: 'all-patched', seed: 3 })).json);
    assert.deepEqual(reset, { now: '2024-02-15T17:00:00.000Z', speed: 0, scenario: 'all-patched', seed: 3 });
    assert.equal(clockState.parse((await post('/reset', {})).json).scenario, 'feb-2024');
    await expectError(await post('/reset', { scenario: 'mars-2030' }), 400, 'invalid_request');
  });

  test('error faults: the next `count` requests of the target fail, the other API is untouched', async () => {
    const set = await call('POST', '/sim/v1/faults', {
      body: JSON.stringify({ target: 'gateway', mode: 'error', count: 2 }),
    });
    assert.equal(set.status, 200);
    await expectError(await call('GET', '/gateway/v1/domains'), 503, 'fault_injected');
    assert.equal((await call('GET', '/inventory/v1/health')).status, 200);
    await expectError(await call('GET', '/gateway/v1/health'), 503, 'fault_injected');
    assert.equal((await call('GET', '/gateway/v1/domains')).status, 200);
    await call('POST', '/sim/v1/faults', { body: JSON.stringify({ target: 'inventory', mode: 'error', status: 500 }) });
    await expectError(await call('GET', '/inventory/v1/regions'), 500, 'fault_injected');
    await call('POST', '/sim/v1/faults', { body: JSON.stringify({ target: 'inventory', mode: 'none' }) });
    assert.equal((await call('GET', '/inventory/v1/regions')).status, 200);
  });

  test('phase after: the change is applied, the answer is lost; the retry with the same key replays it', async () => {
    await call('POST', '/sim/v1/faults', {
      body: JSON.stringify({ target: 'gateway', mode: 'error', phase: 'after', count: 1 }),
    });
    const headers = { 'idempotency-key': 'lost-1' };
    const body = patchBody({ inbound: 'open', outbound: 'open' });
    await expectError(
      await call('PATCH', '/gateway/v1/domains/lennestadt.de', { headers, body }),
      503,
      'fault_injected',
    );
    const applied = server.sim.domain('lennestadt.de');
    assert.equal(applied.inbound, 'open');
    const retry = await call('PATCH', '/gateway/v1/domains/lennestadt.de', { headers, body });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(domainChangeResult.parse(retry.json).domain.version, applied.version);
    assert.equal(
      server.sim.audit().items.filter((e) => e.idempotencyKey === 'lost-1' && e.action === 'domain.change').length,
      1,
    );
  });

  test('timeout drops the connection after `ms`; latency still answers', async () => {
    await call('POST', '/sim/v1/faults', {
      body: JSON.stringify({ target: 'inventory', mode: 'timeout', ms: 50, count: 1 }),
    });
    await assert.rejects(fetch(`${server.url}/inventory/v1/health`, { headers: auth('inventory') }));
    await call('POST', '/sim/v1/faults', {
      body: JSON.stringify({ target: 'inventory', mode: 'latency', ms: 20, count: 1 }),
    });
    assert.equal((await call('GET', '/inventory/v1/health')).status, 200);
    await expectError(
      await call('POST', '/sim/v1/faults', { body: JSON.stringify({ target: 'dns', mode: 'error' }) }),
      400,
      'invalid_request',
    );
  });

  test('partial fault rates are drawn from the seed: the same seed fails the same requests', async () => {
    const pattern = async () => {
      const s = await startSimServer({ port: 0, speed: 0, devices: 0, seed: 11 });
      try {
        await fetch(`${s.url}/sim/v1/faults`, {
          method: 'POST',
          body: JSON.stringify({ target: 'gateway', mode: 'error', rate: 0.5 }),
        });
        const statuses: number[] = [];
        for (let k = 0; k < 24; k++) statuses.push((await fetch(`${s.url}/gateway/v1/health`)).status);
        return statuses;
      } finally {
        await s.close();
      }
    };
    const a = await pattern();
    assert.deepEqual(await pattern(), a);
    assert.ok(a.includes(503) && a.includes(200), a.join(','));
  });

  test('close() does not wait for a request held by a timeout fault', { timeout: 10_000 }, async () => {
    const s = await startSimServer({ port: 0, speed: 0, devices: 0 });
    await fetch(`${s.url}/sim/v1/faults`, {
      method: 'POST',
      body: JSON.stringify({ target: 'gateway', mode: 'timeout', ms: 120_000, count: 1 }),
    });
    const pending = fetch(`${s.url}/gateway/v1/health`).catch((e: unknown) => e);
    // The fault is used up when the request arrives and is held.
    while (s.sim.faults().length > 0) await new Promise((r) => setImmediate(r));
    await s.close();
    assert.ok((await pending) instanceof Error);
  });
});
