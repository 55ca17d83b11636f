import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { estimateCompletion } from '../../../src/domain/estimate-completion.ts';
import type { HistoryPoint } from '../../../src/domain/model.ts';

const T0 = Date.parse('2024-02-19T06:00:00Z');
const hour = 3_600_000;

function at(hours: number): string {
  return new Date(T0 + hours * hour).toISOString();
}

// Hourly points; clients/servers as [installed, total].
function series(rows: [number, [number, number], [number, number]][]): HistoryPoint[] {
  return rows.map(([h, [ci, ct], [si, st]]) => ({
    at: at(h),
    clients: { installed: ci, total: ct },
    servers: { installed: si, total: st },
  }));
}

describe('estimateCompletion', () => {
  test('no points: no_data', () => {
    assert.deepEqual(estimateCompletion([], 'all', at(0)), {
      ratePerHour: null,
      remaining: null,
      etaAt: null,
      state: 'no_data',
      failed: 0,
      stalledSince: null,
    });
  });

  test('a single point: remaining known, rate not', () => {
    assert.deepEqual(estimateCompletion(series([[0, [90, 100], [10, 10]]]), 'client', at(0)), {
      ratePerHour: null,
      remaining: 10,
      etaAt: null,
      state: 'no_data',
      failed: 0,
      stalledSince: null,
    });
  });

  test('a single complete point is complete', () => {
    assert.deepEqual(estimateCompletion(series([[0, [100, 100], [10, 10]]]), 'all', at(0)), {
      ratePerHour: null,
      remaining: 0,
      etaAt: null,
      state: 'complete',
      failed: 0,
      stalledSince: null,
    });
  });

  test('steady progress: rate over the window and an ETA from the latest point', () => {
    // 10 clients per hour, 40 left at 12:00 → done 16:00
    const pts = series([
      [0, [40, 140], [10, 10]],
      [1, [50, 140], [10, 10]],
      [2, [60, 140], [10, 10]],
      [3, [70, 140], [10, 10]],
      [4, [80, 140], [10, 10]],
      [5, [90, 140], [10, 10]],
      [6, [100, 140], [10, 10]],
    ]);
    assert.deepEqual(estimateCompletion(pts, 'client', at(6)), {
      ratePerHour: 10,
      remaining: 40,
      etaAt: '2024-02-19T16:00:00.000Z',
      state: 'progressing',
      failed: 0,
      stalledSince: null,
    });
  });

  test('only the last 6 hours count: a fast night does not hide a slow morning', () => {
    const rows: [number, [number, number], [number, number]][] = [];
    for (let h = 0; h <= 12; h++) {
      const installed = h <= 6 ? h * 100 : 600 + (h - 6) * 4;
      rows.push([h, [installed, 1_000], [0, 0]]);
    }
    const r = estimateCompletion(series(rows), 'client', at(12));
    assert.equal(r.ratePerHour, 4);
    assert.equal(r.remaining, 376);
    assert.equal(r.state, 'progressing');
    assert.equal(r.etaAt, new Date(T0 + 12 * hour + 94 * hour).toISOString());
  });

  test('kind selects clients, servers, or both', () => {
    const pts = series([
      [0, [0, 10], [0, 4]],
      [2, [4, 10], [2, 4]],
    ]);
    assert.deepEqual(
      (['client', 'server', 'all'] as const).map((k) => {
        const r = estimateCompletion(pts, k, at(2));
        return [k, r.remaining, r.ratePerHour];
      }),
      [
        ['client', 6, 2],
        ['server', 2, 1],
        ['all', 8, 3],
      ],
    );
  });

  test('stalled: devices left and (almost) nothing moves', () => {
    const flat = series([
      [0, [2_100, 2_200], [4, 4]],
      [3, [2_100, 2_200], [4, 4]],
      [6, [2_100, 2_200], [4, 4]],
    ]);
    assert.deepEqual(estimateCompletion(flat, 'client', at(6)), {
      ratePerHour: 0,
      remaining: 100,
      etaAt: null,
      state: 'stalled',
      failed: 0,
      stalledSince: at(0),
    });
    // one device in six hours (fitted: 0.15/h) is no progress
    const crawl = series([
      [0, [2_100, 2_200], [4, 4]],
      [2, [2_100, 2_200], [4, 4]],
      [4, [2_100, 2_200], [4, 4]],
      [6, [2_101, 2_200], [4, 4]],
    ]);
    assert.deepEqual(estimateCompletion(crawl, 'client', at(6)), {
      ratePerHour: 0.2,
      remaining: 99,
      etaAt: null,
      state: 'stalled',
      failed: 0,
      stalledSince: at(0),
    });
  });

  test('stalled since the last real progress, not since the start of the history', () => {
    const pts = series([
      [0, [0, 300], [0, 0]],
      [4, [200, 300], [0, 0]],
      [6, [230, 300], [0, 0]],
      [8, [230, 300], [0, 0]],
      [12, [230, 300], [0, 0]],
    ]);
    const r = estimateCompletion(pts, 'client', at(12));
    assert.equal(r.state, 'stalled');
    assert.equal(r.stalledSince, at(6));
  });

  test('failed devices need hands: no date for them; only failed left is stalled', () => {
    // 10 per hour, 40 left of which 10 failed: the other 30 are done in 3 hours, not 100 % in 4.
    const pts = series([
      [0, [40, 140], [0, 0]],
      [3, [70, 140], [0, 0]],
      [6, [100, 140], [0, 0]],
    ]);
    const r = estimateCompletion(pts, 'client', at(6), 10);
    assert.equal(r.state, 'progressing');
    assert.equal(r.failed, 10);
    assert.equal(r.etaAt, at(9));
    const onlyFailed = estimateCompletion(pts, 'client', at(6), 40);
    assert.equal(onlyFailed.state, 'stalled');
    assert.equal(onlyFailed.etaAt, null);
  });

  test('a pace that needs more than a week for the rest is stalled, not a date in March', () => {
    // 321 left, 0.5 per hour: 640 hours.
    const pts = series([
      [0, [2_650, 2_974], [0, 0]],
      [2, [2_651, 2_974], [0, 0]],
      [4, [2_652, 2_974], [0, 0]],
      [6, [2_653, 2_974], [0, 0]],
    ]);
    const r = estimateCompletion(pts, 'client', at(6), 135);
    assert.equal(r.state, 'stalled');
    assert.equal(r.etaAt, null);
    assert.equal(r.stalledSince, at(0));
  });

  test('the date is counted from now, never from an older last point', () => {
    const pts = series([
      [0, [0, 100], [0, 0]],
      [2, [50, 100], [0, 0]],
    ]);
    // Last point 2 h before now; 50 left at 25/h → 2 h after now, not at the last point + 2 h.
    const r = estimateCompletion(pts, 'client', at(4));
    assert.equal(r.etaAt, at(6));
  });

  test('totals changing: new unpatched devices slow the net rate; growth faster than patching is stalled', () => {
    // 30 installs/h but 20 new unpatched clients/h → remaining falls by 10/h
    const growing = series([
      [0, [1_000, 1_100], [0, 0]],
      [1, [1_030, 1_120], [0, 0]],
      [2, [1_060, 1_140], [0, 0]],
    ]);
    const r = estimateCompletion(growing, 'client', at(2));
    assert.equal(r.ratePerHour, 10);
    assert.equal(r.remaining, 80);
    assert.equal(r.etaAt, new Date(T0 + 10 * hour).toISOString());
    // rebuilt clients arrive faster than they get patched
    const worse = series([
      [0, [1_000, 1_100], [0, 0]],
      [2, [1_010, 1_150], [0, 0]],
    ]);
    const w = estimateCompletion(worse, 'client', at(2));
    assert.equal(w.ratePerHour, -20);
    assert.equal(w.state, 'stalled');
    assert.equal(w.etaAt, null);
  });

  test('complete once nothing remains, with the rate that got it there', () => {
    const pts = series([
      [0, [90, 100], [10, 10]],
      [1, [100, 100], [10, 10]],
    ]);
    assert.deepEqual(estimateCompletion(pts, 'all', at(1)), {
      ratePerHour: 10,
      remaining: 0,
      etaAt: null,
      state: 'complete',
      failed: 0,
      stalledSince: null,
    });
    assert.equal(estimateCompletion(series([[0, [0, 0], [0, 0]]]), 'all', at(0)).state, 'complete');
  });

  test('unsorted input, duplicate timestamps (last wins) and unparseable times are handled', () => {
    const pts = series([
      [2, [60, 100], [0, 0]],
      [0, [40, 100], [0, 0]],
      [1, [0, 100], [0, 0]],
      [1, [50, 100], [0, 0]],
    ]);
    pts.push({ at: 'gestern', clients: { installed: 0, total: 100 }, servers: { installed: 0, total: 0 } });
    const r = estimateCompletion(pts, 'client', at(2));
    assert.equal(r.ratePerHour, 10);
    assert.equal(r.remaining, 40);
    assert.equal(r.etaAt, at(6));
  });

  test('history older than the window before now says nothing about the current pace', () => {
    const pts = series([
      [0, [40, 100], [0, 0]],
      [1, [50, 100], [0, 0]],
    ]);
    const r = estimateCompletion(pts, 'client', at(24));
    assert.equal(r.state, 'no_data');
    assert.equal(r.remaining, 50);
    assert.equal(r.etaAt, null);
  });

  test('property: never throws; states agree with remaining and ETA', () => {
    const point = fc.record({
      h: fc.integer({ min: 0, max: 48 }),
      ci: fc.nat(500),
      co: fc.nat(500),
      si: fc.nat(50),
      so: fc.nat(50),
    });
    fc.assert(
      fc.property(
        fc.array(point, { maxLength: 30 }),
        fc.constantFrom('client', 'server', 'all') as fc.Arbitrary<'client' | 'server' | 'all'>,
        fc.integer({ min: 0, max: 60 }),
        (raw, kind, nowH) => {
          const pts = raw.map((p) => ({
            at: at(p.h),
            clients: { installed: p.ci, total: p.ci + p.co },
            servers: { installed: p.si, total: p.si + p.so },
          }));
          const r = estimateCompletion(pts, kind, at(nowH));
          if (pts.length === 0) assert.equal(r.state, 'no_data');
          if (r.state === 'complete') assert.equal(r.remaining, 0);
          if (r.state === 'progressing' || r.state === 'stalled') assert.ok(r.remaining! > 0 && r.ratePerHour !== null);
          assert.equal(r.etaAt !== null, r.state === 'progressing');
          if (r.etaAt !== null) {
            assert.ok(!Number.isNaN(Date.parse(r.etaAt)));
            assert.ok(Date.parse(r.etaAt) >= Date.parse(at(nowH)), 'never a date before now');
          }
          if (r.stalledSince !== null)
            assert.ok(Date.parse(r.stalledSince) <= Math.max(Date.parse(at(nowH)), T0 + 48 * hour));
        },
      ),
      { numRuns: 500 },
    );
  });
});
