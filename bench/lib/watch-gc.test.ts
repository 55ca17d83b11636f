import assert from 'node:assert/strict';
import { constants } from 'node:perf_hooks';
import { test } from 'node:test';
import { add, type GcSummary, watchGc } from './watch-gc.ts';

test('collections are summed by kind', () => {
  const s: GcSummary = { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, other: { count: 0, ms: 0 } };
  add(s, constants.NODE_PERFORMANCE_GC_MINOR, 2);
  add(s, constants.NODE_PERFORMANCE_GC_MINOR, 3);
  add(s, constants.NODE_PERFORMANCE_GC_MAJOR, 10);
  add(s, constants.NODE_PERFORMANCE_GC_INCREMENTAL, 1);
  add(s, undefined, 1);
  assert.deepEqual(s, { minor: { count: 2, ms: 5 }, major: { count: 1, ms: 10 }, other: { count: 2, ms: 2 } });
});

test('a window with garbage sees collections', async () => {
  const watch = watchGc();
  let keep: unknown[] = [];
  for (let i = 0; i < 200_000; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 1000) keep = [];
  }
  const summary = await watch.stop();
  assert.ok(summary.minor.count > 0, JSON.stringify(summary));
  assert.ok(summary.minor.ms > 0);
});
