import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createLogger } from '../../../src/adapters/create-logger.ts';
import { GatewayHttpClient } from '../../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../../src/adapters/inventory-http-client.ts';
import type { DeviceTally } from '../../../src/domain/summarize-patch-status.ts';
import { createStatusService, type StatusService, type StatusView } from '../../../src/services/report-status.ts';
import { startSimServer } from '../../../src/sim/server.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { buildStatusCard, trendText } from '../../../src/teams/views/status-card.ts';

// The status card over the real feb-2024 scenario: the breakdown adds up to its parent on every level
// (`status alle` included), and the trend never names a date before the data's time; when the
// Südverband stalls on failed clients the card says so instead of a date.

const SCENARIO_MINUTES = 15 * 24 * 60; // Thursday 15 Feb 18:00 to 1 March

describe('status card honesty on the feb-2024 scenario', () => {
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let status: StatusService;
  let clock = Date.parse('2026-11-26T10:00:00Z');

  before(async () => {
    sim = await startSimServer({ port: 0, speed: 0 });
    const logger = createLogger('silent');
    const inventory = new InventoryHttpClient({ baseUrl: `${sim.url}/inventory/v1`, timeoutMs: 5000, logger });
    const gateway = new GatewayHttpClient({ baseUrl: `${sim.url}/gateway/v1`, timeoutMs: 5000, logger });
    // cacheSeconds 0 and a clock moved per question: every answer is fetched from the simulator's now.
    status = createStatusService({ inventory, gateway, now: () => new Date(clock), cacheSeconds: 0, logger });
  });
  after(async () => {
    await sim.close();
  });

  async function simAt(minutes: number): Promise<void> {
    const post = (path: string, body: unknown) =>
      fetch(`${sim.url}/sim/v1/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => assert.ok(r.ok, `${path}: ${r.status}`));
    await post('reset', { scenario: 'feb-2024' });
    if (minutes > 0) await post('clock', { advanceMinutes: minutes });
    clock += 600_000;
  }

  async function viewOf(scope: string): Promise<StatusView> {
    const r = await status.report(scope);
    assert.equal(r.kind, 'ok', JSON.stringify(r));
    return (r as { view: StatusView }).view;
  }

  type Sum = Pick<DeviceTally, 'installed' | 'total'>;
  const add = (a: Sum, b: Sum): Sum => ({ installed: a.installed + b.installed, total: a.total + b.total });

  test('children add up to the parent on every level, `status alle` one level (the Verbände) only', async () => {
    await simAt(5_580);
    for (const scope of ['alle', 'Südverband', 'Kreis Olpe', 'Hochsauerlandkreis']) {
      const view = await viewOf(scope);
      assert.ok(view.summary.children.length > 0, scope);
      const sum = view.summary.children.map((c) => c.combined).reduce(add, { installed: 0, total: 0 });
      const parent = view.summary.region.combined;
      assert.deepEqual(
        { installed: sum.installed, total: sum.total },
        { installed: parent.installed, total: parent.total },
        `${scope}: the rows count each device once`,
      );
      // One level, plus at most the region's own devices (a Kreis administration's) as a row.
      const levels = new Set(view.summary.children.filter((c) => !c.own).map((c) => c.kind));
      assert.equal(levels.size, 1, `${scope}: one level`);
    }
    const alle = await viewOf('alle');
    assert.deepEqual(
      alle.summary.children.map((c) => c.kind),
      ['verband', 'verband'],
    );
    assert.deepEqual(
      alle.breakdownLevels.map((l) => l.kind),
      ['verband'],
    );
  });

  test('the Südverband stalled on Tuesday: "stockt seit …", the failed clients named, no date', async () => {
    await simAt(4 * 24 * 60 + 18 * 60); // Tuesday 20 Feb, 12:00 CET
    const view = await viewOf('Südverband');
    const outlook = view.trends.find((t) => t.patchId === 'outlook-2024-02')!.clients;
    assert.equal(outlook.state, 'stalled');
    assert.ok(outlook.failed > 100, `${outlook.failed} failed`);
    const text = cardToText(buildStatusCard(view, 'de'));
    assert.match(
      text,
      new RegExp(
        `stockt seit \\w+\\., \\d\\d\\.02\\., \\d\\d:\\d\\d · ${outlook.failed} fehlgeschlagen, brauchen Handarbeit`,
      ),
    );
    assert.doesNotMatch(text, /voraussichtlich/);
    assert.match(
      text,
      /Freigaberichtlinie nicht erfüllt\nSüdverband: \d+ Clients ohne Outlook security update[^,]*, \d+ davon fehlgeschlagen/,
    );
    assert.match(cardToText(buildStatusCard(view, 'en')), /stalled since .* failed, need manual work/);
  });

  test('property: at any minute of the scenario, no trend of any scope names a time before the data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: SCENARIO_MINUTES }),
        fc.constantFrom('Südverband', 'Kreis Olpe', 'Kreis Siegen-Wittgenstein', 'alle'),
        async (minutes, scope) => {
          await simAt(minutes);
          const view = await viewOf(scope);
          const now = Date.parse(view.observedAt);
          for (const trend of view.trends.flatMap((t) => [t.clients, t.servers])) {
            if (trend.etaAt !== null)
              assert.ok(Date.parse(trend.etaAt) >= now, `${trend.etaAt} before ${view.observedAt}`);
            if (trend.stalledSince !== null) assert.ok(Date.parse(trend.stalledSince) <= now);
            // A date for 100 % only when nothing has failed; failed devices are always named.
            const de = trendText('de', trend);
            if (trend.failed > 0 && trend.state !== 'complete') {
              assert.doesNotMatch(de, /100 %/);
              assert.match(de, /fehlgeschlagen, (braucht|brauchen) Handarbeit/);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
