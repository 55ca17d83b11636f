import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbage } from './collect-garbage.ts';
import { watchGc } from './watch-gc.ts';

test('a full collection runs when asked', async () => {
  const watch = watchGc();
  collectGarbage();
  const summary = await watch.stop();
  assert.ok(summary.major.count >= 1, JSON.stringify(summary));
});
