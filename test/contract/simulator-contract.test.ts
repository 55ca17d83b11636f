import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { GatewayHttpClient, type GatewayHttpClientOptions } from '../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../src/adapters/inventory-http-client.ts';
import { isLagebotError, type LagebotError } from '../../src/domain/errors.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { createContractChecker } from './contract-checking-fetch.ts';

// The real simulator against the published documents: every operation is called through the
// clients (and raw where the clients never go: error cases, controls), and every answer — success
// or error — is validated with ajv against the OpenAPI document of its API.

const checker = createContractChecker();
let sim: Awaited<ReturnType<typeof startSimServer>>;
let url: string;

before(async () => {
  sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
  url = sim.url.replace(/\/+$/, '');
});
after(() => sim.close());
afterEach(() => {
  assert.deepEqual(checker.takeViolations(), [], 'answers that break the OpenAPI documents');
});

const noWait = async () => {};

function inventoryClient() {
  return new InventoryHttpClient({ baseUrl: `${url}/inventory/v1`, fetch: checker.fetch, sleep: noWait });
}
function gatewayClient(options: Partial<GatewayHttpClientOptions> = {}) {
  return new GatewayHttpClient({ baseUrl: `${url}/gateway/v1`, fetch: checker.fetch, sleep: noWait, ...options });
}

async function raw(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; base?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await checker.fetch(`${options.base ?? url}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function errorCode(body: Record<string, unknown>): string {
  return (body['error'] as { code: string }).code;
}

async function rejection(promise: Promise<unknown>): Promise<LagebotError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isLagebotError(e), `expected a LagebotError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

async function resetSim() {
  const { status } = await raw('POST', '/sim/v1/reset', { body: { scenario: 'feb-2024', seed: 42 } });
  assert.equal(status, 200);
}

async function simNow(): Promise<Date> {
  const { body } = await raw('GET', '/sim/v1/clock');
  return new Date(String(body['now']));
}

describe('inventory API', () => {
  let inventory: InventoryHttpClient;
  before(() => {
    inventory = inventoryClient();
  });

  test('health, regions and patches', async () => {
    await inventory.ping();
    const regions = await inventory.listRegions();
    const ids = new Set(regions.items.map((r) => r.id));
    assert.deepEqual(
      regions.levels?.map((l) => l.kind),
      ['verband', 'kreis', 'kommune'],
    );
    for (const id of [
      'vb-nord',
      'vb-sued',
      'kr-olpe',
      'kr-siegen-wittgenstein',
      'kr-soest',
      'kr-hsk',
      'kr-mk',
      'ko-attendorn',
    ]) {
      assert.ok(ids.has(id), `region ${id}`);
    }
    const patches = await inventory.listPatches();
    assert.ok(patches.some((p) => p.id === 'exchange-2024-02'));
    assert.ok(patches.some((p) => p.id === 'outlook-2024-02'));
  });

  test('devices page through with the cursor', async () => {
    const first = await inventory.listDevices({ regionId: 'kr-olpe', limit: 5 });
    assert.equal(first.items.length, 5);
    assert.ok(first.total > 5);
    assert.ok(first.nextCursor);
    const second = await inventory.listDevices({ regionId: 'kr-olpe', limit: 5, cursor: first.nextCursor });
    assert.equal(second.total, first.total);
    const seen = new Set([...first.items, ...second.items].map((d) => d.id));
    assert.equal(seen.size, 10);
    for (const d of [...first.items, ...second.items]) assert.equal(d.kreis, 'kr-olpe');
    await inventory.listDevices({ kind: 'server', limit: 1 });
  });

  test('patch states filter, sort and page', async () => {
    const page = await inventory.listPatchStates({
      patchId: 'exchange-2024-02',
      regionId: 'vb-sued',
      kind: 'server',
      sort: 'priority',
      limit: 20,
    });
    assert.ok(page.items.length > 0);
    for (const row of page.items) {
      assert.equal(row.patchId, 'exchange-2024-02');
      assert.equal(row.kind, 'server');
    }
    const pending = await inventory.listPatchStates({
      patchId: 'outlook-2024-02',
      regionId: 'kr-olpe',
      states: ['pending', 'failed'],
      sort: 'hostname',
      limit: 3,
    });
    for (const row of pending.items) assert.ok(row.state === 'pending' || row.state === 'failed');
    if (pending.nextCursor) {
      await inventory.listPatchStates({
        patchId: 'outlook-2024-02',
        regionId: 'kr-olpe',
        states: ['pending', 'failed'],
        sort: 'hostname',
        limit: 3,
        cursor: pending.nextCursor,
      });
    }
  });

  test('compliance of a Verband lists its Kreise; history samples the range', async () => {
    const report = await inventory.getCompliance('vb-sued');
    assert.equal(report.region.regionId, 'vb-sued');
    assert.deepEqual(report.children.map((c) => c.regionId).sort(), ['kr-olpe', 'kr-siegen-wittgenstein']);
    const one = await inventory.getCompliance('kr-olpe', 'exchange-2024-02');
    assert.deepEqual(
      one.region.patches.map((p) => p.patchId),
      ['exchange-2024-02'],
    );
    const now = await simNow();
    const history = await inventory.getComplianceHistory({
      regionId: 'kr-olpe',
      patchId: 'outlook-2024-02',
      from: new Date(now.getTime() - 6 * 3_600_000).toISOString(),
      to: now.toISOString(),
      stepMinutes: 60,
    });
    assert.equal(history.stepMinutes, 60);
    assert.ok(history.points.length > 0);
  });

  test('errors: 400 for bad parameters, 404 for unknown region and patch', async () => {
    const badLimit = await raw('GET', '/inventory/v1/devices?limit=0');
    assert.equal(badLimit.status, 400);
    const badState = await raw('GET', '/inventory/v1/patch-states?patch=outlook-2024-02&state=done');
    assert.equal(badState.status, 400);
    const noPatch = await raw('GET', '/inventory/v1/patch-states');
    assert.equal(noPatch.status, 400);
    const badCursor = await raw('GET', '/inventory/v1/devices?cursor=bm9wZQ');
    assert.equal(badCursor.status, 400);
    const unknownRegion = await raw('GET', '/inventory/v1/compliance?region=ko-atlantis');
    assert.equal(unknownRegion.status, 404);
    const unknownPatch = await raw('GET', '/inventory/v1/compliance?region=kr-olpe&patch=windows-95');
    assert.equal(unknownPatch.status, 404);

    const err = await rejection(inventory.getCompliance('ko-atlantis'));
    assert.equal(err.code, 'NOT_FOUND');
    assert.match(err.message, /inventory API/);
  });
});

describe('gateway API', () => {
  let gateway: GatewayHttpClient;
  before(() => {
    gateway = gatewayClient();
  });

  test('health, domains, one domain', async () => {
    await resetSim();
    await gateway.ping();
    const olpe = await gateway.listDomains({ kreis: 'kr-olpe' });
    assert.ok(olpe.some((d) => d.domain === 'attendorn.de'));
    for (const d of olpe) assert.equal(d.kreis, 'kr-olpe');
    assert.ok((await gateway.listDomains({ verband: 'vb-nord' })).length > 0);
    assert.deepEqual(
      (await gateway.listDomains({ municipality: 'ko-attendorn' })).map((d) => d.domain),
      ['attendorn.de'],
    );
    assert.ok((await gateway.listDomains()).length >= olpe.length);
    const attendorn = await gateway.getDomain('attendorn.de');
    assert.equal(attendorn.verband, 'vb-sued');
  });

  test('changeDomain: If-Match, replay, version conflict, reused key', async () => {
    await resetSim();
    const before = await gateway.getDomain('attendorn.de');
    const change = {
      domain: 'attendorn.de',
      inbound: 'open' as const,
      reason: 'Kreis Olpe vollständig gepatcht',
      actor: 'contract-test',
      idempotencyKey: 'ct-change-1',
      ifMatchVersion: before.version,
    };
    const first = await gateway.changeDomain(change);
    assert.equal(first.changed, true);
    assert.equal(first.replayed, false);
    assert.equal(first.domain.inbound, 'open');
    assert.equal(first.domain.version, before.version + 1);

    const replay = await gateway.changeDomain(change);
    assert.equal(replay.replayed, true);
    assert.deepEqual(replay.domain, first.domain);

    const stale = await rejection(gateway.changeDomain({ ...change, idempotencyKey: 'ct-change-2' }));
    assert.equal(stale.code, 'UPSTREAM_CONFLICT');
    assert.equal(stale.details['upstreamCode'], 'version_conflict');

    const reused = await rejection(gateway.changeDomain({ ...change, inbound: 'blocked', ifMatchVersion: undefined }));
    assert.equal(reused.code, 'UPSTREAM_REJECTED');
    assert.equal(reused.details['status'], 422);
    assert.equal(reused.details['upstreamCode'], 'idempotency_key_reused');

    const rawConflict = await raw('PATCH', '/gateway/v1/domains/attendorn.de', {
      headers: { 'idempotency-key': 'ct-change-3', 'if-match': '"1"' },
      body: { outbound: 'open', reason: 'Test', actor: 'contract-test' },
    });
    assert.equal(rawConflict.status, 409);
    assert.equal(errorCode(rawConflict.body), 'version_conflict');
  });

  test('mutations without Idempotency-Key or with a bad body are 400; unknown domain is 404', async () => {
    const noKey = await raw('PATCH', '/gateway/v1/domains/attendorn.de', {
      body: { inbound: 'open', reason: 'Test', actor: 'contract-test' },
    });
    assert.equal(noKey.status, 400);
    const badBody = await raw('PATCH', '/gateway/v1/domains/attendorn.de', {
      headers: { 'idempotency-key': 'ct-bad-body' },
      body: { reason: 'Test', actor: 'contract-test' },
    });
    assert.equal(badBody.status, 400);
    const bulkNoKey = await raw('POST', '/gateway/v1/changes', {
      body: { selector: { kreis: 'kr-olpe' }, inbound: 'open', reason: 'Test', actor: 'contract-test' },
    });
    assert.equal(bulkNoKey.status, 400);
    const unknown = await raw('GET', '/gateway/v1/domains/atlantis.de');
    assert.equal(unknown.status, 404);
    const err = await rejection(gateway.getDomain('atlantis.de'));
    assert.equal(err.code, 'NOT_FOUND');
    const unknownRelease = await raw('POST', '/gateway/v1/queues/atlantis.de/inbound/release', {
      headers: { 'idempotency-key': 'ct-release-x' },
      body: { actor: 'contract-test', reason: 'Test' },
    });
    assert.equal(unknownRelease.status, 404);
  });

  test('bulk change per selector, replayed as a whole', async () => {
    await resetSim();
    const change = {
      selector: { kreis: 'kr-soest' },
      inbound: 'open' as const,
      outbound: 'open' as const,
      reason: 'Nordverband gepatcht',
      actor: 'contract-test',
      idempotencyKey: 'ct-bulk-1',
    };
    const result = await gateway.bulkChange(change);
    assert.ok(result.results.length > 0);
    assert.ok(result.results.every((r) => r.status === 'changed' && r.error === null));
    const replay = await gateway.bulkChange(change);
    assert.equal(replay.replayed, true);
    assert.deepEqual(replay.results, result.results);
    const reused = await raw('POST', '/gateway/v1/changes', {
      headers: { 'idempotency-key': 'ct-bulk-1' },
      body: { ...change, idempotencyKey: undefined, reason: 'anderer Grund' },
    });
    assert.equal(reused.status, 422);
  });

  test('queues fill while held and are released once', async () => {
    await resetSim();
    await raw('POST', '/sim/v1/clock', { body: { advanceMinutes: 120 } });
    const queues = await gateway.listQueues({ domain: 'attendorn.de' });
    assert.deepEqual(queues.map((q) => q.direction).sort(), ['inbound', 'outbound']);
    await gateway.listQueues({ kreis: 'kr-olpe' });
    await gateway.listQueues({ verband: 'vb-sued' });
    await gateway.listQueues({ municipality: 'ko-attendorn' });
    const held = queues.find((q) => q.direction === 'inbound')!.held;
    const release = {
      domain: 'attendorn.de',
      direction: 'inbound' as const,
      actor: 'contract-test',
      reason: 'Freigabe Test',
      idempotencyKey: 'ct-release-1',
    };
    const result = await gateway.releaseQueue(release);
    assert.equal(result.released, held);
    assert.equal((await gateway.releaseQueue(release)).released, held);
    const after = await gateway.listQueues({ domain: 'attendorn.de' });
    assert.equal(after.find((q) => q.direction === 'inbound')!.held, 0);
  });

  test('spam metrics: batches, pages, range limit', async () => {
    await resetSim();
    await raw('POST', '/sim/v1/clock', { body: { advanceMinutes: 30 } });
    const now = await simNow();
    const from = new Date(now.getTime() - 10 * 60_000).toISOString();
    const to = now.toISOString();
    const domains = (await gateway.listDomains({ kreis: 'kr-olpe' })).map((d) => d.domain);
    const batched = gatewayClient({ spamDomainsPerRequest: 2 });
    const series = await batched.getSpamMetrics({ from, to, domains });
    assert.deepEqual(series.map((s) => s.domain).sort(), [...domains].sort());
    for (const s of series) assert.equal(s.points.length, 10);
    const all = await gateway.getSpamMetrics({ from, to });
    assert.equal(new Set(all.map((s) => s.domain)).size, all.length);
    assert.ok(all.length >= domains.length);

    const page1 = await raw('GET', `/gateway/v1/metrics/spam?from=${from}&to=${to}&kreis=kr-olpe&limit=2`);
    assert.equal(page1.status, 200);
    const cursor = page1.body['nextCursor'];
    assert.equal(typeof cursor, 'string');
    const page2 = await raw(
      'GET',
      `/gateway/v1/metrics/spam?from=${from}&to=${to}&kreis=kr-olpe&limit=2&cursor=${cursor}`,
    );
    assert.equal(page2.status, 200);

    const tooLong = await rejection(
      gateway.getSpamMetrics({
        from: new Date(now.getTime() - 25 * 3_600_000).toISOString(),
        to,
        domains: ['olpe.de'],
      }),
    );
    assert.equal(tooLong.code, 'UPSTREAM_REJECTED');
    assert.equal(tooLong.details['status'], 400);
  });

  test('audit lists the changes with their idempotency keys', async () => {
    await resetSim();
    const since = (await simNow()).toISOString();
    await gateway.changeDomain({
      domain: 'olpe.de',
      inbound: 'blocked',
      reason: 'Spamwelle',
      actor: 'contract-test',
      idempotencyKey: 'ct-audit-1',
    });
    const page = await gateway.listAudit({ since, limit: 50 });
    const entry = page.items.find((e) => e.idempotencyKey === 'ct-audit-1');
    assert.ok(entry);
    assert.equal(entry.action, 'domain.change');
    assert.equal(entry.domain, 'olpe.de');
    assert.deepEqual(entry.after, { inbound: 'blocked', outbound: 'held' });
    const bad = await raw('GET', '/gateway/v1/audit?limit=0');
    assert.equal(bad.status, 400);
  });
});

describe('faults', () => {
  afterEach(async () => {
    await raw('POST', '/sim/v1/faults', { body: { target: 'gateway', mode: 'none' } });
  });

  test('two injected 503s: the client succeeds on the third attempt', async () => {
    await resetSim();
    const sleeps: number[] = [];
    const gateway = gatewayClient({
      retry: { maxAttempts: 3 },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const fault = await raw('POST', '/sim/v1/faults', {
      body: { target: 'gateway', mode: 'error', rate: 1, count: 2 },
    });
    assert.equal(fault.status, 200);
    const domain = await gateway.getDomain('attendorn.de');
    assert.equal(domain.domain, 'attendorn.de');
    assert.equal(sleeps.length, 2);
  });

  test('a gateway that never answers: UPSTREAM_TIMEOUT after the configured attempts', {
    timeout: 20_000,
  }, async () => {
    await resetSim();
    await raw('POST', '/sim/v1/faults', { body: { target: 'gateway', mode: 'timeout', rate: 1 } });
    const onCall: string[] = [];
    const gateway = gatewayClient({
      timeoutMs: 200,
      retry: { maxAttempts: 2 },
      onCall: (_service, route, outcome) => onCall.push(`${route} ${outcome}`),
    });
    const err = await rejection(gateway.getDomain('attendorn.de'));
    assert.equal(err.code, 'UPSTREAM_TIMEOUT');
    assert.equal(err.details['attempts'], 2);
    assert.match(err.message, /within 200 ms \(2 attempts\)/);
    assert.deepEqual(onCall, ['/domains/{domain} timeout']);
  });

  test('a lost answer (phase after) retried with the same key is applied exactly once', async () => {
    await resetSim();
    const since = (await simNow()).toISOString();
    await raw('POST', '/sim/v1/faults', {
      body: { target: 'gateway', mode: 'error', rate: 1, count: 1, phase: 'after' },
    });
    const gateway = gatewayClient();
    const result = await gateway.changeDomain({
      domain: 'wenden.de',
      inbound: 'open',
      reason: 'Wenden gepatcht',
      actor: 'contract-test',
      idempotencyKey: 'ct-lost-1',
    });
    assert.equal(result.replayed, true, 'the second attempt should be answered as a replay');
    assert.equal(result.domain.inbound, 'open');
    const audit = await gateway.listAudit({ since, limit: 1000 });
    const changes = audit.items.filter((e) => e.action === 'domain.change' && e.domain === 'wenden.de');
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.idempotencyKey, 'ct-lost-1');
  });
});

describe('simulator controls', () => {
  test('clock, reset, spam, faults and their 400s', async () => {
    const clock = await raw('GET', '/sim/v1/clock');
    assert.equal(clock.status, 200);
    assert.equal(clock.body['speed'], 0);
    const advanced = await raw('POST', '/sim/v1/clock', { body: { advanceMinutes: 15 } });
    assert.equal(advanced.status, 200);
    assert.equal(Date.parse(String(advanced.body['now'])) - Date.parse(String(clock.body['now'])), 15 * 60_000);
    assert.equal((await raw('POST', '/sim/v1/clock', { body: {} })).status, 400);
    assert.equal((await raw('POST', '/sim/v1/reset', { body: { scenario: 'all-patched', seed: 7 } })).status, 200);
    assert.equal((await raw('POST', '/sim/v1/reset', { body: { scenario: 'mars' } })).status, 400);
    assert.equal(
      (await raw('POST', '/sim/v1/spam', { body: { region: 'kr-olpe', factor: 8, minutes: 30 } })).status,
      200,
    );
    assert.equal(
      (await raw('POST', '/sim/v1/spam', { body: { domain: 'olpe.de', region: 'kr-olpe', factor: 8, minutes: 30 } }))
        .status,
      400,
    );
    assert.equal(
      (await raw('POST', '/sim/v1/faults', { body: { target: 'inventory', mode: 'latency', rate: 0.5, ms: 10 } }))
        .status,
      200,
    );
    const active = await raw('GET', '/sim/v1/faults');
    assert.equal((active.body['active'] as unknown[]).length, 1);
    assert.equal((await raw('POST', '/sim/v1/faults', { body: { target: 'inventory', mode: 'none' } })).status, 200);
    assert.equal((await raw('POST', '/sim/v1/faults', { body: { target: 'mail', mode: 'error' } })).status, 400);
    await resetSim();
  });
});

describe('authentication', () => {
  test('with tokens configured: 401 without or with a wrong token, success with the right one', async () => {
    const secured = await startSimServer({
      port: 0,
      speed: 0,
      seed: 42,
      tokens: { inventory: 'inv-secret', gateway: 'gw-secret' },
    });
    try {
      const base = secured.url.replace(/\/+$/, '');
      const missing = await raw('GET', '/inventory/v1/regions', { base });
      assert.equal(missing.status, 401);
      const wrong = await raw('GET', '/gateway/v1/domains', { base, headers: { authorization: 'Bearer inv-secret' } });
      assert.equal(wrong.status, 401);
      const inventory = new InventoryHttpClient({
        baseUrl: `${base}/inventory/v1`,
        token: 'inv-secret',
        fetch: checker.fetch,
      });
      assert.ok((await inventory.listRegions()).items.length > 0);
      const gateway = new GatewayHttpClient({
        baseUrl: `${base}/gateway/v1`,
        token: 'gw-secret',
        fetch: checker.fetch,
      });
      assert.ok((await gateway.listDomains()).length > 0);

      const refused = await rejection(
        new GatewayHttpClient({
          baseUrl: `${base}/gateway/v1`,
          token: 'not-the-gw-token',
          fetch: checker.fetch,
        }).listDomains(),
      );
      assert.equal(refused.code, 'UPSTREAM_REJECTED');
      assert.equal(refused.details['status'], 401);
      assert.match(refused.message, /GATEWAY_API_TOKEN/);
      assert.doesNotMatch(refused.message + JSON.stringify(refused.details), /not-the-gw-token/);
    } finally {
      await secured.close();
    }
  });
});

describe('coverage', () => {
  test('every documented operation answered with 2xx, and each documented error status was seen', () => {
    const seen = new Set(checker.checked);
    const missing: string[] = [];
    for (const [name, prefix] of [
      ['inventory', '/inventory/v1'],
      ['gateway', '/gateway/v1'],
      ['sim', '/sim/v1'],
    ] as const) {
      for (const op of checker.contracts[name].operations) {
        const [method, route] = op.split(' ');
        if (![...seen].some((c) => c.startsWith(`${method} ${prefix}${route} 2`))) missing.push(`${op} (${name}) 2xx`);
      }
    }
    for (const status of [400, 401, 404, 409, 422]) {
      if (![...seen].some((c) => c.endsWith(` ${status}`))) missing.push(`any ${status}`);
    }
    assert.deepEqual(missing, []);
  });
});
