import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { createDailyReports, type ReportView } from '../../../src/services/daily-report.ts';
import { readRegionIndex } from '../../../src/services/read-region-index.ts';
import { InMemoryGateway } from '../../fakes/in-memory-gateway.ts';
import { InMemoryInventory } from '../../fakes/in-memory-inventory.ts';
import { fourLevelDevices, fourLevelLevels, fourLevelRegions } from '../../fixtures/four-level-estate.ts';
import { trackedPatches } from '../../fixtures/patches.ts';
import { adminQuery, testDatabaseUrl, whenPostgresAnswers } from '../../helpers/test-postgres.ts';

// Two replicas on one PostgreSQL database, both running the report sweep at 08:00: exactly one report.
// The clock is injected; the "replicas" are two report services on two store instances (two pools).

const schema = `lagebot_r_${randomBytes(6).toString('hex')}`;

const opened: Store[] = [];

async function replica(holder: string, now: () => Date, sent: Array<{ holder: string; view: ReportView }>) {
  const store = await createStore({ dataDir: '', databaseUrl: testDatabaseUrl, schema });
  opened.push(store);
  const inventory = new InMemoryInventory(
    { regions: fourLevelRegions, levels: fourLevelLevels, patches: trackedPatches, devices: fourLevelDevices(now()) },
    now,
  );
  const gateway = new InMemoryGateway(fourLevelRegions, now);
  const reports = createDailyReports({
    store,
    inventory,
    gateway,
    regions: () => readRegionIndex(inventory),
    roles: { viewer: ['*'], operator: [], approver: [] },
    people: { nameOf: async (id) => ({ id, name: id }) },
    sender: {
      async send(_conversationId, card) {
        sent.push({ holder, view: card as unknown as ReportView });
        return { activityId: `${holder}-${sent.length}` };
      },
      async update() {},
    },
    render: (view) => view as unknown as Record<string, unknown>,
    now,
    catchUpWindowMs: 2 * 3_600_000,
    holder,
    logger: silentLogger,
  });
  return { store, reports };
}

await whenPostgresAnswers('daily report on two replicas (PostgreSQL)', () => {
  after(async () => {
    for (const s of opened) await s.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  describe('daily report on two replicas (PostgreSQL)', () => {
    test('both sweep at 08:00 and after: one report', async () => {
      let nowMs = Date.parse('2024-02-19T06:50:00.000Z');
      const now = () => new Date(nowMs);
      const sent: Array<{ holder: string; view: ReportView }> = [];
      const a = await replica('replica-a', now, sent);
      const b = await replica('replica-b', now, sent);
      const caller = { aadObjectId: 'aad-op', userId: '29:op', name: 'Olaf', tenantId: 't' };
      const root = (await a.reports.now('none')) ?? null;
      assert.equal(root, null);
      const scheduled = await a.reports.schedule(caller, 'c-ops', {
        localTime: '08:00',
        weekdaysOnly: false,
        scopeText: 'all',
        lang: 'de',
      });
      assert.equal(scheduled.kind, 'scheduled');
      nowMs = Date.parse('2024-02-19T07:00:00.000Z');
      for (let round = 0; round < 5; round++) {
        await Promise.all([a.reports.tick(), b.reports.tick(), a.reports.tick(), b.reports.tick()]);
        nowMs += 60_000;
      }
      assert.equal(sent.length, 1, sent.map((s) => s.holder).join(', '));
      assert.equal(sent[0]!.view.localDate, '2024-02-19');
      const rows = await b.store.listNotifications({ kind: 'report' });
      assert.deepEqual(
        rows.map((r) => [r.key, r.status]),
        [['report:c-ops:2024-02-19', 'sent']],
      );
    });
  });
});
