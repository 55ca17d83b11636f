import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../../src/adapters/create-logger.ts';
import { GatewayHttpClient } from '../../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../../src/adapters/inventory-http-client.ts';
import { createStatusService, type StatusService, type StatusView } from '../../../src/services/report-status.ts';
import { startSimServer } from '../../../src/sim/server.ts';

// The status service reuses a scope's view while the back-end answers it was made from are the same
// (the fetch cache's objects), and makes a new one as soon as any of them changes.

describe('status service: one view per scope and set of back-end answers', () => {
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let clock = Date.parse('2026-11-26T10:00:00Z');
  let calls = 0;
  let status: StatusService;

  before(async () => {
    sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
    const logger = createLogger('silent');
    const onCall = () => {
      calls++;
    };
    const inventory = new InventoryHttpClient({ baseUrl: `${sim.url}/inventory/v1`, timeoutMs: 5000, logger, onCall });
    const gateway = new GatewayHttpClient({ baseUrl: `${sim.url}/gateway/v1`, timeoutMs: 5000, logger, onCall });
    status = createStatusService({ inventory, gateway, now: () => new Date(clock), cacheSeconds: 15, logger });
  });
  after(async () => {
    await sim.close();
  });

  const viewOf = async (scope: string): Promise<StatusView> => {
    const r = await status.report(scope);
    assert.equal(r.kind, 'ok');
    return (r as { view: StatusView }).view;
  };

  test('within the cache window the same scope gets the same view, without back-end calls', async () => {
    const first = await viewOf('Kreis Olpe');
    const callsAfterFirst = calls;
    clock += 5_000;
    const again = await viewOf('kreis olpe');
    assert.equal(again, first, 'the same view object');
    assert.equal(calls, callsAfterFirst, 'no back-end call for the second question');
    // Another scope is another view.
    const alle = await viewOf('alle');
    assert.notEqual(alle, first);
    assert.equal(alle.scope.id, 'all');
    assert.equal(await viewOf('alle'), alle);
  });

  test('views are frozen: one reader cannot change what the next one sees', async () => {
    const view = await viewOf('Kreis Olpe');
    assert.ok(Object.isFrozen(view));
    assert.ok(Object.isFrozen(view.summary));
    assert.ok(Object.isFrozen(view.unpatched.rows));
    assert.throws(() => {
      (view.unpatched.rows as unknown as unknown[]).push({});
    }, TypeError);
  });

  test('after the cache window the answers are fetched again and the view is made anew', async () => {
    const before = await viewOf('Kreis Olpe');
    // Past TTL + refresh-ahead: the entries are loaded again, so they are new objects.
    clock += 31_000;
    const callsBefore = calls;
    const after = await viewOf('Kreis Olpe');
    assert.ok(calls > callsBefore, 'the back ends were asked again');
    assert.notEqual(after, before, 'a new view from the new answers');
    assert.notEqual(after.fetchedAt, before.fetchedAt);
    assert.deepEqual(after.summary, before.summary, 'same numbers: the simulator clock stood still');
  });
});
