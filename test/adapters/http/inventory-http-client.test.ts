import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { InventoryHttpClient } from '../../../src/adapters/inventory-http-client.ts';
import { isLagebotError } from '../../../src/domain/errors.ts';
import { errorReply, type FakeHttpServer, startFakeHttpServer } from './fake-http-server.ts';
import { healthBody, kreisOlpe, patchRow } from './wire-fixtures.ts';

let server: FakeHttpServer;
let inventory: InventoryHttpClient;

before(async () => {
  server = await startFakeHttpServer();
  inventory = new InventoryHttpClient({
    baseUrl: `${server.url}/inventory/v1`,
    token: 'inv-token',
    sleep: async () => {},
  });
});
after(() => server.close());
beforeEach(() => server.reset());

test('listRegions returns the nodes (and levels when named) and sends the token', async () => {
  server.reply({ status: 200, json: { items: [kreisOlpe] } });
  assert.deepEqual(await inventory.listRegions(), { items: [kreisOlpe] });
  assert.equal(server.requests[0]!.path, '/inventory/v1/regions');
  assert.equal(server.requests[0]!.headers['authorization'], 'Bearer inv-token');
  const levels = [{ kind: 'kreis', name: { de: 'Kreis', en: 'district' }, plural: { de: 'Kreise', en: 'districts' } }];
  server.reply({ status: 200, json: { items: [kreisOlpe], levels: [{ ...levels[0], qualifiers: ['kreis'] }] } });
  assert.deepEqual((await inventory.listRegions()).levels?.[0]?.plural, { de: 'Kreise', en: 'districts' });
  // A level without its qualifiers breaks the contract: refused like any malformed answer.
  server.reply({ status: 200, json: { items: [kreisOlpe], levels } });
  await assert.rejects(inventory.listRegions(), /does not match the contract \(levels.0.qualifiers/);
});

test('listPatchStates maps the query to the documented parameters', async () => {
  const page = { items: [patchRow], nextCursor: 'c2', total: 17 };
  server.reply({ status: 200, json: page });
  const result = await inventory.listPatchStates({
    patchId: 'exchange-2024-02',
    regionId: 'kr-olpe',
    states: ['pending', 'failed'],
    kind: 'server',
    sort: 'priority',
    limit: 25,
    cursor: 'c1',
  });
  assert.deepEqual(result, page);
  const req = server.requests[0]!;
  assert.equal(req.path, '/inventory/v1/patch-states');
  assert.deepEqual(Object.fromEntries(req.query), {
    patch: 'exchange-2024-02',
    region: 'kr-olpe',
    state: 'pending,failed',
    kind: 'server',
    sort: 'priority',
    limit: '25',
    cursor: 'c1',
  });
});

test('getCompliance leaves out an absent patch', async () => {
  const counts = {
    total: 1,
    installed: 1,
    pending: 0,
    pending_reboot: 0,
    failed: 0,
    unknown: 0,
    notApplicable: 0,
    stale: 0,
  };
  const region = {
    regionId: 'kr-olpe',
    name: 'Kreis Olpe',
    kind: 'kreis',
    patches: [{ patchId: 'exchange-2024-02', clients: counts, servers: counts, exchangeServers: counts }],
  };
  const report = { observedAt: '2024-02-14T10:00:00Z', staleAfterHours: 72, region, children: [] };
  server.reply({ status: 200, json: report });
  assert.deepEqual(await inventory.getCompliance('kr-olpe'), report);
  assert.deepEqual(Object.fromEntries(server.requests[0]!.query), { region: 'kr-olpe' });
});

test('getComplianceHistory and listDevices send their parameters', async () => {
  const history = {
    regionId: 'kr-olpe',
    patchId: 'outlook-2024-02',
    stepMinutes: 60,
    points: [{ at: '2024-02-14T10:00:00Z', clients: { total: 10, installed: 4 }, servers: { total: 2, installed: 2 } }],
  };
  server.reply({ status: 200, json: history }, { status: 200, json: { items: [], nextCursor: null, total: 0 } });
  await inventory.getComplianceHistory({
    regionId: 'kr-olpe',
    patchId: 'outlook-2024-02',
    from: '2024-02-14T00:00:00Z',
    to: '2024-02-15T00:00:00Z',
    stepMinutes: 60,
  });
  await inventory.listDevices({ regionId: 'ko-attendorn', kind: 'client', limit: 10 });
  assert.equal(server.requests[0]!.path, '/inventory/v1/compliance/history');
  assert.equal(server.requests[0]!.query.get('stepMinutes'), '60');
  assert.equal(server.requests[0]!.query.get('from'), '2024-02-14T00:00:00Z');
  assert.equal(server.requests[1]!.path, '/inventory/v1/devices');
  assert.deepEqual(Object.fromEntries(server.requests[1]!.query), {
    region: 'ko-attendorn',
    kind: 'client',
    limit: '10',
  });
});

test('ping checks /health; an unknown region is NOT_FOUND naming the inventory API', async () => {
  server.reply({ status: 200, json: healthBody }, errorReply(404, 'not_found', 'unknown region ko-atlantis'));
  await inventory.ping();
  await assert.rejects(inventory.getCompliance('ko-atlantis'), (e) => {
    assert.ok(isLagebotError(e, 'NOT_FOUND'));
    assert.match(
      e.message,
      /^inventory API answered 404 not_found: unknown region ko-atlantis to GET \/inventory\/v1\/compliance/,
    );
    return true;
  });
});
