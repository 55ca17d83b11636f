import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUserRateLimiter } from '../../../src/services/user-rate-limiter.ts';

test('a burst is allowed, then the user waits; other users are not affected', () => {
  let now = 0;
  const limiter = createUserRateLimiter({ capacity: 3, refillPerSecond: 0.5 }, () => now);
  assert.equal(limiter.check('a'), null);
  assert.equal(limiter.check('a'), null);
  assert.equal(limiter.check('a'), null);
  assert.equal(limiter.check('a'), 2);
  assert.equal(limiter.check('b'), null);
  now = 2000;
  assert.equal(limiter.check('a'), null);
  assert.equal(limiter.check('a'), 2);
});
