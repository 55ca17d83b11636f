import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { GatewayHttpClient } from '../../../src/adapters/gateway-http-client.ts';
import { isLagebotError } from '../../../src/domain/errors.ts';
import { errorReply, type FakeHttpServer, startFakeHttpServer } from './fake-http-server.ts';
import { attendorn, domainStateOf, spamSeriesOf } from './wire-fixtures.ts';

let server: FakeHttpServer;
let gateway: GatewayHttpClient;

before(async () => {
  server = await startFakeHttpServer();
  gateway = new GatewayHttpClient({
    baseUrl: `${server.url}/gateway/v1`,
    token: 'gw-token',
    sleep: async () => {},
    spamDomainsPerRequest: 2,
  });
});
after(() => server.close());
beforeEach(() => server.reset());

const from = '2024-02-14T09:00:00Z';
const to = '2024-02-14T10:00:00Z';

test('changeDomain sends PATCH with Idempotency-Key, quoted If-Match and the change body', async () => {
  const result = { domain: { ...attendorn, inbound: 'open', version: 4 }, changed: true, replayed: false };
  server.reply({ status: 200, json: result });
  const answer = await gateway.changeDomain({
    domain: 'attendorn.de',
    inbound: 'open',
    reason: 'Kreis Olpe vollständig gepatcht',
    actor: 'aad:1234',
    idempotencyKey: 'req-7:attendorn.de',
    ifMatchVersion: 3,
  });
  assert.deepEqual(answer, result);
  const req = server.requests[0]!;
  assert.equal(req.method, 'PATCH');
  assert.equal(req.path, '/gateway/v1/domains/attendorn.de');
  assert.equal(req.headers['idempotency-key'], 'req-7:attendorn.de');
  assert.equal(req.headers['if-match'], '"3"');
  assert.deepEqual(JSON.parse(req.body), {
    inbound: 'open',
    reason: 'Kreis Olpe vollständig gepatcht',
    actor: 'aad:1234',
  });
});

test('changeDomain without a version sends no If-Match; a 409 is UPSTREAM_CONFLICT', async () => {
  server.reply(errorReply(409, 'version_conflict', 'version is 5, not 3'));
  await assert.rejects(
    gateway.changeDomain({
      domain: 'olpe.de',
      outbound: 'blocked',
      reason: 'Spamwelle',
      actor: 'a',
      idempotencyKey: 'k',
    }),
    (e) => isLagebotError(e, 'UPSTREAM_CONFLICT') && e.details['upstreamCode'] === 'version_conflict',
  );
  assert.equal(server.requests[0]!.headers['if-match'], undefined);
  assert.equal(server.requests.length, 1);
});

test('a lost PATCH answer is retried with the same key and the replay is returned', async () => {
  const replay = { domain: { ...attendorn, inbound: 'open', version: 4 }, changed: true, replayed: true };
  server.reply(errorReply(502, 'bad_gateway', 'upstream reset'), { status: 200, json: replay });
  const answer = await gateway.changeDomain({
    domain: 'attendorn.de',
    inbound: 'open',
    reason: 'gepatcht',
    actor: 'a',
    idempotencyKey: 'req-8:attendorn.de',
  });
  assert.equal(answer.replayed, true);
  assert.deepEqual(
    server.requests.map((r) => r.headers['idempotency-key']),
    ['req-8:attendorn.de', 'req-8:attendorn.de'],
  );
});

test('bulkChange posts the selector with one Idempotency-Key', async () => {
  const result = {
    results: [
      { domain: 'attendorn.de', status: 'changed', version: 4, error: null },
      { domain: 'olpe.de', status: 'unchanged', version: 2, error: null },
    ],
    replayed: false,
  };
  server.reply({ status: 200, json: result });
  assert.deepEqual(
    await gateway.bulkChange({
      selector: { kreis: 'kr-olpe' },
      inbound: 'open',
      reason: 'Kreis Olpe gepatcht',
      actor: 'a',
      idempotencyKey: 'bulk-1',
    }),
    result,
  );
  const req = server.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/gateway/v1/changes');
  assert.equal(req.headers['idempotency-key'], 'bulk-1');
  assert.deepEqual(JSON.parse(req.body), {
    selector: { kreis: 'kr-olpe' },
    inbound: 'open',
    reason: 'Kreis Olpe gepatcht',
    actor: 'a',
  });
});

test('releaseQueue posts to the encoded domain and direction', async () => {
  server.reply({ status: 200, json: { domain: 'attendorn.de', direction: 'inbound', released: 12 } });
  const result = await gateway.releaseQueue({
    domain: 'attendorn.de',
    direction: 'inbound',
    actor: 'a',
    reason: 'freigegeben',
    idempotencyKey: 'q-1',
  });
  assert.equal(result.released, 12);
  assert.equal(server.requests[0]!.path, '/gateway/v1/queues/attendorn.de/inbound/release');
  assert.equal(server.requests[0]!.headers['idempotency-key'], 'q-1');
});

test('listDomains, getDomain, listAudit and ping hit their routes', async () => {
  const audit = {
    items: [
      {
        id: 'a-1',
        at: '2024-02-12T07:30:00Z',
        actor: 'it-lage',
        action: 'domain.change',
        domain: 'attendorn.de',
        before: { inbound: 'open', outbound: 'open' },
        after: { inbound: 'blocked', outbound: 'blocked' },
        reason: 'Exchange-Schwachstelle',
        idempotencyKey: null,
      },
    ],
    nextCursor: null,
  };
  server.reply(
    { status: 200, json: { items: [attendorn] } },
    { status: 200, json: attendorn },
    { status: 200, json: audit },
    { status: 200, json: { status: 'ok', time: '2024-02-14T10:00:00Z', version: '1' } },
  );
  assert.deepEqual(await gateway.listDomains({ kreis: 'kr-olpe' }), [attendorn]);
  assert.deepEqual(await gateway.getDomain('attendorn.de'), attendorn);
  assert.deepEqual(await gateway.listAudit({ since: '2024-02-12T00:00:00Z', limit: 10 }), audit);
  await gateway.ping();
  assert.deepEqual(
    server.requests.map((r) => `${r.path}?${r.query}`),
    [
      '/gateway/v1/domains?kreis=kr-olpe',
      '/gateway/v1/domains/attendorn.de?',
      '/gateway/v1/audit?since=2024-02-12T00%3A00%3A00Z&limit=10',
      '/gateway/v1/health?',
    ],
  );
});

test('listQueues for a town asks /domains?municipality= and keeps only its domains', async () => {
  server.reply(
    { status: 200, json: { items: [attendorn] } },
    {
      status: 200,
      json: {
        items: [
          { domain: 'attendorn.de', direction: 'inbound', held: 5, oldestAt: '2024-02-14T08:00:00Z' },
          { domain: 'olpe.de', direction: 'inbound', held: 9, oldestAt: '2024-02-14T08:00:00Z' },
        ],
      },
    },
  );
  const queues = await gateway.listQueues({ municipality: 'ko-attendorn' });
  assert.deepEqual(
    queues.map((q) => q.domain),
    ['attendorn.de'],
  );
  assert.equal(server.requests[0]!.query.get('municipality'), 'ko-attendorn');
  assert.equal(server.requests[1]!.path, '/gateway/v1/queues');
  assert.equal(server.requests[1]!.query.get('kreis'), 'kr-olpe');
  assert.equal(server.requests[1]!.query.has('municipality'), false);
});

test('getSpamMetrics batches domains and follows each batch through its pages', async () => {
  // Five domains at two a request: three batches; the first batch answers in two pages.
  const domains = ['attendorn.de', 'olpe.de', 'drolshagen.de', 'lennestadt.de', 'wenden.de'];
  const page = (series: string[], nextCursor: string | null) => ({
    status: 200,
    json: { from, to, bucketMinutes: 1, series: series.map(spamSeriesOf), nextCursor },
  });
  server.reply(
    page(['attendorn.de'], 'p2'),
    page(['olpe.de'], null),
    page(['drolshagen.de', 'lennestadt.de'], null),
    page(['wenden.de'], null),
  );
  const series = await gateway.getSpamMetrics({ from, to, domains: [...domains, 'olpe.de'] });
  assert.deepEqual(
    series.map((s) => s.domain),
    domains,
  );
  assert.deepEqual(
    server.requests.map((r) => [r.query.get('domain'), r.query.get('cursor')]),
    [
      ['attendorn.de,olpe.de', null],
      ['attendorn.de,olpe.de', 'p2'],
      ['drolshagen.de,lennestadt.de', null],
      ['wenden.de', null],
    ],
  );
  for (const r of server.requests) {
    assert.equal(r.query.get('from'), from);
    assert.equal(r.query.get('to'), to);
  }
});

test('getSpamMetrics without domains asks for all; with an empty list asks nothing', async () => {
  server.reply({
    status: 200,
    json: { from, to, bucketMinutes: 1, series: [spamSeriesOf('attendorn.de')], nextCursor: null },
  });
  assert.equal((await gateway.getSpamMetrics({ from, to })).length, 1);
  assert.equal(server.requests[0]!.query.has('domain'), false);
  assert.deepEqual(await gateway.getSpamMetrics({ from, to, domains: [] }), []);
  assert.equal(server.requests.length, 1);
});

test('getSpamMetrics refuses a cursor that repeats instead of looping forever', async () => {
  const body = { from, to, bucketMinutes: 1, series: [], nextCursor: 'same' };
  server.reply({ status: 200, json: body }, { status: 200, json: body }, { status: 200, json: body });
  await assert.rejects(gateway.getSpamMetrics({ from, to }), (e) => isLagebotError(e, 'UPSTREAM_BAD_RESPONSE'));
  assert.equal(server.requests.length, 2);
});

test('a domain state with an unknown flow state is UPSTREAM_BAD_RESPONSE', async () => {
  server.reply({ status: 200, json: domainStateOf('olpe.de', { inbound: 'half-open' as never }) });
  await assert.rejects(gateway.getDomain('olpe.de'), (e) => isLagebotError(e, 'UPSTREAM_BAD_RESPONSE'));
});
