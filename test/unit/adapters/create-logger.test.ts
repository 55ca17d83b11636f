import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { createLogger } from '../../../src/adapters/create-logger.ts';
import { GatewayHttpClient } from '../../../src/adapters/gateway-http-client.ts';
import { HttpJsonClient } from '../../../src/adapters/http-json-client.ts';
import { InventoryHttpClient } from '../../../src/adapters/inventory-http-client.ts';
import { createCaptureStream } from '../../fakes/capture-stream.ts';

// docs/decisions/hardening.md: structured JSON logs in which tokens, authorization headers and secrets never appear.
// Every test logs through the real pino logger into a captured stream and searches the raw output
// for the secret values (not for a field name, so any place a value could slip through counts).

/** Lets pino's destination flush (it writes synchronously to a Writable, but be safe). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function assertAbsent(output: string, secrets: readonly string[]) {
  for (const s of secrets) assert.ok(!output.includes(s), `secret ${s} appears in the log:\n${output}`);
}

describe('createLogger', () => {
  test('writes one JSON record per line with level, message and the app name', async () => {
    const out = createCaptureStream();
    const log = createLogger('info', out.stream);
    log.info('hello', { requestId: 'r-1' });
    log.debug('not at info');
    await settle();
    const records = out.records();
    assert.equal(records.length, 1);
    assert.equal(records[0]!.msg, 'hello');
    assert.equal(records[0]!.level, 30);
    assert.equal(records[0]!.app, 'lagebot');
    assert.equal(records[0]!.requestId, 'r-1');
  });

  test('redacts token, authorization, password and secret fields at the top and one level down', async () => {
    const out = createCaptureStream();
    const log = createLogger('debug', out.stream);
    const secrets = ['tok-top-1', 'Bearer hdr-top-2', 'pw-top-3', 'sec-top-4', 'tok-nested-5', 'Bearer hdr-6', 'pw-7'];
    log.info('top level', { token: secrets[0], authorization: secrets[1], password: secrets[2], secret: secrets[3] });
    log.warn('one level down', {
      inventory: { token: secrets[4], url: 'https://inventory.example/v1' },
      headers: { authorization: secrets[5], accept: 'application/json' },
      bot: { appPassword: secrets[6], appId: 'app-id-visible' },
    });
    await settle();
    const text = out.text();
    assertAbsent(text, secrets);
    // The fields stay, censored, and everything else is untouched: the log is still useful.
    const [top, nested] = out.records();
    assert.equal(top!.token, '[redacted]');
    assert.equal(top!.authorization, '[redacted]');
    assert.deepEqual(nested!.inventory, { token: '[redacted]', url: 'https://inventory.example/v1' });
    assert.equal((nested!.headers as Record<string, unknown>).accept, 'application/json');
    assert.equal((nested!.bot as Record<string, unknown>).appId, 'app-id-visible');
  });

  test('request headers of an HTTP request log are redacted', async () => {
    const out = createCaptureStream();
    const log = createLogger('info', out.stream);
    log.info('incoming', {
      req: { method: 'POST', url: '/api/messages', headers: { authorization: 'Bearer jwt-abc' } },
    });
    log.info('outgoing', { headers: { Authorization: 'Bearer jwt-def' } });
    await settle();
    assertAbsent(out.text(), ['jwt-abc', 'jwt-def']);
    assert.match(out.text(), /\/api\/messages/);
  });

  test('child loggers redact their bindings and their fields', async () => {
    const out = createCaptureStream();
    const log = createLogger('info', out.stream).child({ token: 'child-binding-tok', replica: 'r1' });
    log.info('from a child', { secret: 'child-field-secret' });
    await settle();
    assertAbsent(out.text(), ['child-binding-tok', 'child-field-secret']);
    assert.equal(out.records()[0]!.replica, 'r1');
  });

  test('redacts secrets however deep and however spelled (config objects, error objects, Authorization)', async () => {
    const out = createCaptureStream();
    const log = createLogger('debug', out.stream);
    // The shapes a log call realistically gets: the whole config, a botbuilder/axios-style error that
    // carries the request it made, a token response, header maps with Teams' capitalisation.
    log.info('config', {
      config: {
        gateway: { url: 'https://gw.example', token: 'gw-deep-token' },
        bot: { appId: 'id', appPassword: 'deep-app-password' },
      },
    });
    const error = Object.assign(new Error('Request failed with status code 401'), {
      request: { headers: { Authorization: 'Bearer botframework-jwt' } },
      response: { data: { access_token: 'aad-access-token' } },
    });
    log.error('send failed', { err: error });
    log.warn('top-level variants', {
      Authorization: 'Bearer top-cap',
      MicrosoftAppPassword: 'top-app-password',
      clientSecret: 'top-client-secret',
      accessToken: 'top-access-token',
      apiKey: 'top-api-key',
      cookie: 'session=top-cookie',
    });
    await settle();
    assertAbsent(out.text(), [
      'gw-deep-token',
      'deep-app-password',
      'botframework-jwt',
      'aad-access-token',
      'top-cap',
      'top-app-password',
      'top-client-secret',
      'top-access-token',
      'top-api-key',
      'top-cookie',
    ]);
    // The error is still logged with its message.
    assert.match(out.text(), /Request failed with status code 401/);
  });
});

// ---- the HTTP clients log through it without tokens ------------------------------------------------

interface Echo {
  url: string;
  seen: string[];
  close(): Promise<void>;
}

/** A hostile provider: echoes the Authorization header it got in error bodies, headers and HTML pages. */
async function startEchoingProvider(
  plan: Array<'503' | '401' | 'html' | 'badjson' | 'contract' | 'ok'>,
): Promise<Echo> {
  const seen: string[] = [];
  let i = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = String(req.headers.authorization ?? '');
    seen.push(auth);
    const step = plan[Math.min(i++, plan.length - 1)]!;
    const echo = { error: { code: 'echo', message: `you sent ${auth}`, details: { authorization: auth } } };
    switch (step) {
      case '503':
        res.writeHead(503, { 'content-type': 'application/json', 'x-echo': auth, 'retry-after': '0' });
        res.end(JSON.stringify(echo));
        return;
      case '401':
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer error="${auth}"` });
        res.end(JSON.stringify(echo));
        return;
      case 'html':
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end(`<html><body>Bad gateway for ${auth}</body></html>`);
        return;
      case 'badjson':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"oops": "${auth}"`);
        return;
      case 'contract':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ items: [{ id: auth }], unexpected: auth }));
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('HTTP clients logging through createLogger', () => {
  const token = 'prov-token-7c1e5a93';

  test('retries, errors and contract failures at debug level never log the token', async () => {
    const provider = await startEchoingProvider(['503', '503', '401', 'html', 'html', 'html', 'badjson', 'contract']);
    const out = createCaptureStream();
    const logger = createLogger('debug', out.stream);
    const client = new HttpJsonClient({
      service: 'gateway',
      baseUrl: `${provider.url}/gateway/v1`,
      token,
      timeoutMs: 2000,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      logger,
    });
    const errors: unknown[] = [];
    const schema = z.object({ items: z.array(z.object({ name: z.string() })) });
    for (let n = 0; n < 4; n++) {
      try {
        await client.request({ method: 'GET', route: '/domains', schema });
      } catch (error) {
        errors.push(error);
        // What a service typically does with it.
        logger.warn('call failed', { err: error instanceof Error ? error.message : String(error) });
      }
    }
    await provider.close();
    await settle();
    // The provider really got the token, and the client really logged (retries and failures).
    assert.ok(provider.seen.every((a) => a === `Bearer ${token}`));
    assert.equal(errors.length, 4);
    const records = out.records();
    assert.ok(
      records.some((r) => /retrying/.test(String(r.msg))),
      'retries were logged',
    );
    assert.ok(records.filter((r) => r.msg === 'call failed').length === 4);
    assertAbsent(out.text(), [token]);
    for (const e of errors) assertAbsent(`${String(e)} ${JSON.stringify(e)} ${(e as Error).stack}`, [token]);
  });

  test('the inventory and gateway clients of the bot log no token either', async () => {
    const provider = await startEchoingProvider(['503', '503', '503', '401']);
    const out = createCaptureStream();
    const logger = createLogger('debug', out.stream);
    const inventory = new InventoryHttpClient({
      baseUrl: `${provider.url}/inventory/v1`,
      token,
      timeoutMs: 1000,
      logger,
    });
    const gateway = new GatewayHttpClient({ baseUrl: `${provider.url}/gateway/v1`, token, timeoutMs: 1000, logger });
    const failures: unknown[] = [];
    await inventory.listRegions().catch((e: unknown) => failures.push(e));
    await gateway.listDomains().catch((e: unknown) => failures.push(e));
    await provider.close();
    await settle();
    assert.equal(failures.length, 2);
    assert.ok(out.records().length >= 2, 'the clients logged');
    assertAbsent(out.text(), [token]);
  });
});
