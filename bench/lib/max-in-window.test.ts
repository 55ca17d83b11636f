import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxInWindow } from './max-in-window.ts';

test('maxInWindow: the most events in any half-open window, in any order', () => {
  assert.equal(maxInWindow([], 1000), 0);
  assert.equal(maxInWindow([5], 1000), 1);
  // 0, 999 share a window; 1000 starts a new one (half-open).
  assert.equal(maxInWindow([1000, 0, 999], 1000), 2);
  assert.equal(maxInWindow([0, 100, 200, 1500, 1600, 1700, 1800], 1000), 4);
});
