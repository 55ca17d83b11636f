import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { z } from 'zod';
import {
  type CallOutcome,
  HttpJsonClient,
  type HttpJsonClientOptions,
  type Logger,
  parseRetryAfter,
} from '../../../src/adapters/http-json-client.ts';
import { domainState } from '../../../src/contracts/gateway.ts';
import { isLagebotError, type LagebotError } from '../../../src/domain/errors.ts';
import { errorReply, type FakeHttpServer, type RecordedRequest, startFakeHttpServer } from './fake-http-server.ts';
import { attendorn } from './wire-fixtures.ts';

const ok = z.object({ ok: z.literal(true) });

let server: FakeHttpServer;
let sleeps: number[];

before(async () => {
  server = await startFakeHttpServer();
});
after(() => server.close());
beforeEach(() => {
  server.reset();
  sleeps = [];
});

function client(options: Partial<HttpJsonClientOptions> = {}): HttpJsonClient {
  return new HttpJsonClient({
    service: 'gateway',
    baseUrl: `${server.url}/gateway/v1/`,
    timeoutMs: 2000,
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
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

describe('HttpJsonClient retries', () => {
  test('a 503 is retried after a jittered backoff, then the success is returned', async () => {
    server.reply(errorReply(503, 'unavailable', 'maintenance'), { status: 200, json: { ok: true } });
    const body = await client().request({ method: 'GET', route: '/health', schema: ok });
    assert.deepEqual(body, { ok: true });
    assert.equal(server.requests.length, 2);
    // Full jitter with random 0.5: half of min(maxDelay, base * 2^0).
    assert.deepEqual(sleeps, [50]);
  });

  test('backoff doubles per attempt and is capped by maxDelayMs', async () => {
    server.reply(errorReply(500, 'boom', 'x'), errorReply(502, 'boom', 'x'), errorReply(504, 'boom', 'x'), {
      status: 200,
      json: { ok: true },
    });
    const c = client({ random: () => 0.999, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 150 } });
    await c.request({ method: 'GET', route: '/health', schema: ok });
    assert.deepEqual(sleeps, [99, 149, 149]);
  });

  test('429 with Retry-After in seconds waits exactly that long', async () => {
    server.reply(errorReply(429, 'rate_limited', 'slow down', { 'retry-after': '3' }), {
      status: 200,
      json: { ok: true },
    });
    await client().request({ method: 'GET', route: '/health', schema: ok });
    assert.deepEqual(sleeps, [3000]);
  });

  test('429 with Retry-After as an HTTP date waits until that date', async () => {
    const now = Date.parse('2024-02-14T10:00:00Z');
    server.reply(errorReply(429, 'rate_limited', 'slow down', { 'retry-after': 'Wed, 14 Feb 2024 10:00:07 GMT' }), {
      status: 200,
      json: { ok: true },
    });
    await client({ now: () => now }).request({ method: 'GET', route: '/health', schema: ok });
    assert.deepEqual(sleeps, [7000]);
  });

  test('a Retry-After longer than maxRetryAfterMs fails at once and says how long', async () => {
    server.reply(errorReply(429, 'rate_limited', 'slow down', { 'retry-after': '120' }));
    const err = await rejection(client().request({ method: 'GET', route: '/health', schema: ok }));
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.match(err.message, /120 s/);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(sleeps, []);
  });

  test('5xx on every attempt ends in UPSTREAM_UNAVAILABLE after maxAttempts', async () => {
    server.reply(errorReply(503, 'a', 'x'), errorReply(503, 'b', 'x'), errorReply(503, 'c', 'overloaded'));
    const err = await rejection(client().request({ method: 'GET', route: '/domains', schema: ok }));
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(server.requests.length, 3);
    assert.equal(err.details['attempts'], 3);
    assert.equal(err.details['status'], 503);
    assert.equal(err.details['upstreamCode'], 'c');
    assert.match(err.message, /gateway API/);
    assert.match(err.message, /GET \/gateway\/v1\/domains/);
  });

  for (const [status, code, expected] of [
    [400, 'invalid_parameter', 'UPSTREAM_REJECTED'],
    [404, 'not_found', 'NOT_FOUND'],
    [409, 'version_conflict', 'UPSTREAM_CONFLICT'],
    [422, 'idempotency_key_reused', 'UPSTREAM_REJECTED'],
  ] as const) {
    test(`${status} is not retried and becomes ${expected} with the provider's code`, async () => {
      server.reply(errorReply(status, code, 'nope'), { status: 200, json: { ok: true } });
      const err = await rejection(
        client().request({
          method: 'PATCH',
          route: '/domains/{domain}',
          params: { domain: 'attendorn.de' },
          idempotencyKey: 'k-1',
          body: { inbound: 'open', reason: 'gepatcht', actor: 'tester' },
          schema: ok,
        }),
      );
      assert.equal(err.code, expected);
      assert.equal(err.details['status'], status);
      assert.equal(err.details['upstreamCode'], code);
      assert.match(err.message, new RegExp(`${status} ${code}`));
      assert.match(err.message, /PATCH \/gateway\/v1\/domains\/attendorn\.de/);
      assert.equal(server.requests.length, 1);
      assert.deepEqual(sleeps, []);
    });
  }

  test('a PATCH without Idempotency-Key is sent once even on 503', async () => {
    server.reply(errorReply(503, 'unavailable', 'x'), { status: 200, json: { ok: true } });
    const err = await rejection(
      client().request({ method: 'PATCH', route: '/domains/attendorn.de', body: { inbound: 'open' }, schema: ok }),
    );
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(server.requests.length, 1);
  });

  test('a PATCH with Idempotency-Key is retried with the same key and body', async () => {
    server.reply(errorReply(503, 'unavailable', 'x'), { status: 200, json: { ok: true } });
    await client().request({
      method: 'PATCH',
      route: '/domains/{domain}',
      params: { domain: 'attendorn.de' },
      idempotencyKey: 'rel-42:attendorn.de',
      body: { inbound: 'open', reason: 'gepatcht', actor: 'tester' },
      schema: ok,
    });
    assert.equal(server.requests.length, 2);
    const [first, second] = server.requests;
    assert.equal(first!.headers['idempotency-key'], 'rel-42:attendorn.de');
    assert.equal(second!.headers['idempotency-key'], 'rel-42:attendorn.de');
    assert.equal(first!.body, second!.body);
    assert.deepEqual(JSON.parse(first!.body), { inbound: 'open', reason: 'gepatcht', actor: 'tester' });
    assert.equal(first!.headers['content-type'], 'application/json');
  });
});

describe('HttpJsonClient timeouts and network errors', () => {
  test('a server that never answers gives UPSTREAM_TIMEOUT after the configured attempts', async () => {
    server.reply({ hang: true }, { hang: true });
    const err = await rejection(
      client({ timeoutMs: 100, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }).request({
        method: 'GET',
        route: '/domains',
        schema: ok,
      }),
    );
    assert.equal(err.code, 'UPSTREAM_TIMEOUT');
    assert.equal(server.requests.length, 2);
    assert.equal(err.details['attempts'], 2);
    assert.match(err.message, /within 100 ms/);
    assert.match(err.message, /GATEWAY_API_URL/);
  });

  test('a body that stalls halfway also times out', async () => {
    server.reply({ stallAfter: '{"items":[' });
    const err = await rejection(
      client({ timeoutMs: 100, retry: { maxAttempts: 1 } }).request({ method: 'GET', route: '/domains', schema: ok }),
    );
    assert.equal(err.code, 'UPSTREAM_TIMEOUT');
    assert.equal(server.requests.length, 1);
  });

  test('connection refused gives UPSTREAM_UNAVAILABLE naming the URL to check', async () => {
    const gone = await startFakeHttpServer();
    const url = gone.url;
    await gone.close();
    const err = await rejection(
      new HttpJsonClient({
        service: 'inventory',
        baseUrl: `${url}/inventory/v1`,
        retry: { maxAttempts: 2 },
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      }).request({ method: 'GET', route: '/regions', schema: ok }),
    );
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(sleeps.length, 1);
    assert.match(err.message, /inventory API is unreachable for GET \/inventory\/v1\/regions/);
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /INVENTORY_API_URL/);
  });
});

describe('HttpJsonClient response validation', () => {
  test('a 200 that is not JSON is UPSTREAM_BAD_RESPONSE and not retried', async () => {
    server.reply({ status: 200, raw: '<html>proxy login</html>' });
    const err = await rejection(client().request({ method: 'GET', route: '/health', schema: ok }));
    assert.equal(err.code, 'UPSTREAM_BAD_RESPONSE');
    assert.match(err.message, /not JSON/);
    assert.equal(server.requests.length, 1);
  });

  test('a 200 that breaks the schema is UPSTREAM_BAD_RESPONSE naming the field', async () => {
    server.reply({ status: 200, json: { ...attendorn, version: 'three' } });
    const err = await rejection(
      client().request({
        method: 'GET',
        route: '/domains/{domain}',
        params: { domain: 'attendorn.de' },
        schema: domainState,
      }),
    );
    assert.equal(err.code, 'UPSTREAM_BAD_RESPONSE');
    assert.match(err.message, /version/);
    assert.equal(server.requests.length, 1);
  });

  test('a valid body is returned as parsed by the schema', async () => {
    server.reply({ status: 200, json: attendorn });
    const body = await client().request({ method: 'GET', route: '/domains/attendorn.de', schema: domainState });
    assert.deepEqual(body, attendorn);
  });
});

describe('HttpJsonClient requests', () => {
  test('sends the bearer token, Accept, encoded path params and comma-joined query arrays', async () => {
    server.reply({ status: 200, json: { ok: true } });
    await client({ token: 's3cr3t-token' }).request({
      method: 'GET',
      route: '/domains/{domain}',
      params: { domain: 'a b/c.de' },
      query: { state: ['pending', 'failed'], limit: 50, cursor: undefined, empty: [] },
      schema: ok,
    });
    const [req] = server.requests;
    assert.equal(req!.headers['authorization'], 'Bearer s3cr3t-token');
    assert.equal(req!.headers['accept'], 'application/json');
    assert.equal(req!.path, '/gateway/v1/domains/a%20b%2Fc.de');
    assert.equal(req!.query.get('state'), 'pending,failed');
    assert.equal(req!.query.get('limit'), '50');
    assert.equal(req!.query.has('cursor'), false);
    assert.equal(req!.query.has('empty'), false);
  });

  test('a base URL without a path joins cleanly', async () => {
    server.reply({ status: 200, json: { ok: true } });
    await client({ baseUrl: `${server.url}/` }).request({ method: 'GET', route: '/health', schema: ok });
    assert.equal(server.requests[0]!.path, '/health');
  });

  test('without a token no Authorization header is sent', async () => {
    server.reply({ status: 200, json: { ok: true } });
    await client().request({ method: 'GET', route: '/health', schema: ok });
    assert.equal(server.requests[0]!.headers['authorization'], undefined);
  });

  test('the token never appears in an error or a log line, even when the provider echoes it back', async () => {
    const token = 'tok-9f8e7d6c5b4a';
    const echo = (status: number, code: string) => (req: RecordedRequest) =>
      errorReply(status, code, `token ${String(req.headers['authorization'])} is not valid for ${token}`);
    server.reply(echo(503, 'unavailable'), echo(401, 'unauthorized'));
    const lines: string[] = [];
    const log = (m: string, f?: Record<string, unknown>) => lines.push(m + JSON.stringify(f ?? {}));
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const err = await rejection(client({ token, logger }).request({ method: 'GET', route: '/domains', schema: ok }));
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.doesNotMatch(line, new RegExp(token));
    assert.equal(err.code, 'UPSTREAM_REJECTED');
    assert.equal(err.details['status'], 401);
    assert.match(err.message, /GATEWAY_API_TOKEN/);
    assert.doesNotMatch(err.message, new RegExp(token));
    assert.doesNotMatch(JSON.stringify(err.details), new RegExp(token));
    assert.doesNotMatch(String(err.stack), new RegExp(token));
  });

  test('onCall reports one outcome per logical call with the route template; retries are logged as warnings', async () => {
    const calls: [string, string, CallOutcome][] = [];
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
    const c = client({ logger, onCall: (service, route, outcome) => calls.push([service, route, outcome]) });
    server.reply(errorReply(503, 'x', 'x'), { status: 200, json: { ok: true } }, errorReply(404, 'not_found', 'x'));
    await c.request({ method: 'GET', route: '/domains/{domain}', params: { domain: 'olpe.de' }, schema: ok });
    await rejection(c.request({ method: 'GET', route: '/domains/{domain}', params: { domain: 'x.de' }, schema: ok }));
    assert.deepEqual(calls, [
      ['gateway', '/domains/{domain}', 'ok'],
      ['gateway', '/domains/{domain}', 'not_found'],
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /503/);
  });
});

describe('parseRetryAfter', () => {
  test('reads delay-seconds and HTTP dates, ignores garbage, never goes negative', () => {
    const now = Date.parse('2024-02-14T10:00:00Z');
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 12 ', now), 12_000);
    assert.equal(parseRetryAfter('Wed, 14 Feb 2024 10:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 14 Feb 2024 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
