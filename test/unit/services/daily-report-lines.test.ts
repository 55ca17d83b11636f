import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { createDailyReports, type ReportView } from '../../../src/services/daily-report.ts';
import { readRegionIndex } from '../../../src/services/read-region-index.ts';
import { buildReportCard } from '../../../src/teams/views/report-card.ts';
import { InMemoryGateway } from '../../fakes/in-memory-gateway.ts';
import { InMemoryInventory } from '../../fakes/in-memory-inventory.ts';
import { fourLevelDevices, fourLevelLevels, fourLevelRegions } from '../../fixtures/four-level-estate.ts';
import { trackedPatches } from '../../fixtures/patches.ts';

// "Newly meets the policy" and "stalls" in the daily report, at the service tier over an in-memory SQLite
// store and the four-level estate, with the clock the test moves: three mornings of the Regierungsbezirk
// Arnsberg (its Kreise: Hochsauerlandkreis and Kreis Unna), the card rendered in German as it is sent.

const ARNSBERG_TOWN = 'ags:05958004'; // in the Hochsauerlandkreis
const SCHWERTE = 'ags:05978028'; // in the Kreis Unna
const DAY = 24 * 3_600_000;

let store: Store | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

/** The text lines of a rendered card, in order. */
function textsOf(card: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'TextBlock' && typeof o.text === 'string') out.push(o.text);
      for (const value of Object.values(o)) walk(value);
    }
  };
  walk(card);
  return out;
}

describe('daily report: newly meets the policy, stalls', () => {
  test('shown the morning a Kreis comes to meet the policy, and for a Kreis below it without progress', async () => {
    let nowMs = Date.parse('2024-02-19T06:50:00.000Z');
    const now = () => new Date(nowMs);
    store = await createStore({ dataDir: ':memory:' });
    // Two of four clients unpatched in one town of each Kreis (one of them failed): both below the policy.
    const inventory = new InMemoryInventory(
      {
        regions: fourLevelRegions,
        levels: fourLevelLevels,
        patches: trackedPatches,
        devices: fourLevelDevices(now(), { [ARNSBERG_TOWN]: 2, [SCHWERTE]: 2 }),
      },
      now,
    );
    const sent: Array<{ view: ReportView; lines: string[] }> = [];
    const reports = createDailyReports({
      store,
      inventory,
      gateway: new InMemoryGateway(fourLevelRegions, now),
      regions: () => readRegionIndex(inventory),
      roles: { viewer: ['*'], operator: [], approver: [] },
      people: { nameOf: async (id) => ({ id, name: id }) },
      sender: {
        async send(_conversationId, content) {
          const { view, card } = content as { view: ReportView; card: unknown };
          sent.push({ view, lines: textsOf(card) });
          return { activityId: `a-${sent.length}` };
        },
        async update() {},
      },
      render: (view, lang) => ({ view, card: buildReportCard(view, lang) }),
      now,
      catchUpWindowMs: 2 * 3_600_000,
      holder: 'replica-a',
      logger: silentLogger,
    });
    const caller = { aadObjectId: 'aad-op', userId: '29:op', name: 'Olaf', tenantId: 't' };
    const scheduled = await reports.schedule(caller, 'c-ops', {
      localTime: '08:00',
      weekdaysOnly: false,
      scopeText: 'Regierungsbezirk Arnsberg',
      lang: 'de',
    });
    assert.equal(scheduled.kind, 'scheduled');

    const morning = async (n: number) => {
      nowMs = Date.parse('2024-02-19T07:00:00.000Z') + n * DAY; // 08:00 in Berlin (winter time)
      assert.equal(await reports.tick(), 1, `the report of day ${n + 1}`);
      const report = sent.at(-1)!;
      const line = (name: string) => report.lines.find((l) => l.startsWith(`${name}:`)) ?? `no line for ${name}`;
      return { ...report, hsk: line('Hochsauerlandkreis'), unna: line('Kreis Unna') };
    };

    // Day 1, the first report: nothing to compare with, so neither flag.
    const first = await morning(0);
    assert.deepEqual(
      first.view.regions.map((r) => [r.name, r.meets, r.newlyMeets, r.stalled]),
      [
        ['Hochsauerlandkreis', false, false, false],
        ['Kreis Unna', false, false, false],
      ],
    );
    assert.doesNotMatch(first.lines.join('\n'), /neu freigabefähig|stockt|Erfüllen jetzt/);

    // Overnight the Arnsberg clients get the patch; Schwerte's stay as they were.
    inventory.setState('dev-05958004-c0', 'outlook-2024-02', 'installed');
    inventory.setState('dev-05958004-c1', 'outlook-2024-02', 'installed');
    const second = await morning(1);
    assert.match(second.hsk, /Richtlinie erfüllt · neu freigabefähig$/);
    assert.doesNotMatch(second.hsk, /stockt/);
    assert.equal(second.unna, 'Kreis Unna: 77,7 % (+0,0 %) · stockt');
    assert.ok(
      second.lines.includes('Erfüllen jetzt die Freigabe-Richtlinie: Hochsauerlandkreis'),
      second.lines.join('\n'),
    );

    // Day 3: the Hochsauerlandkreis still meets it (no longer new); one Schwerte client moves, so Unna
    // does not stall although it is still below the policy.
    inventory.setState('dev-05978028-c1', 'outlook-2024-02', 'installed');
    const third = await morning(2);
    assert.match(third.hsk, /Richtlinie erfüllt$/);
    assert.doesNotMatch(third.unna, /stockt|Richtlinie erfüllt/);
    assert.doesNotMatch(third.lines.join('\n'), /neu freigabefähig|Erfüllen jetzt/);
  });
});
