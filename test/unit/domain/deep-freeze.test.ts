import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deepFreeze } from '../../../src/domain/deep-freeze.ts';

test('deepFreeze freezes nested objects and arrays, returns the same value, leaves primitives alone', () => {
  const value = { a: [{ b: 1 }, 'x'], c: { d: { e: null } }, n: 3 };
  assert.equal(deepFreeze(value), value);
  assert.ok(Object.isFrozen(value));
  assert.ok(Object.isFrozen(value.a));
  assert.ok(Object.isFrozen(value.a[0]));
  assert.ok(Object.isFrozen(value.c.d));
  assert.throws(() => {
    (value.c.d as Record<string, unknown>).e = 1;
  }, TypeError);
  assert.equal(deepFreeze(7), 7);
  assert.equal(deepFreeze(null), null);
});
