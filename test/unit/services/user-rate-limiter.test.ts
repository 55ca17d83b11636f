import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUserRateLimiter, NOTICE_WINDOW_MS } from '../../../src/services/user-rate-limiter.ts';

test('a burst is allowed, then the user waits; other users are not affected', () => {
  let now = 0;
  const limiter = createUserRateLimiter({ capacity: 3, refillPerSecond: 0.5 }, () => now);
  assert.deepEqual(limiter.check('a'), { allowed: true });
  assert.deepEqual(limiter.check('a'), { allowed: true });
  assert.deepEqual(limiter.check('a'), { allowed: true });
  assert.deepEqual(limiter.check('a'), { allowed: false, waitSeconds: 2, notify: true });
  assert.deepEqual(limiter.check('b'), { allowed: true });
  now = 2000;
  assert.deepEqual(limiter.check('a'), { allowed: true });
  assert.equal((limiter.check('a') as { waitSeconds: number }).waitSeconds, 2);
});

test('one notice per user per window; the rest of the refusals are silent', () => {
  let now = 0;
  const limiter = createUserRateLimiter({ capacity: 2, refillPerSecond: 1 / 60 }, () => now);
  const notices = () => {
    let n = 0;
    for (let i = 0; i < 200; i++) {
      const d = limiter.check('script');
      if (!d.allowed && d.notify) n += 1;
    }
    return n;
  };
  assert.equal(notices(), 1);
  // Another user over the limit gets their own notice.
  limiter.check('other');
  limiter.check('other');
  assert.deepEqual(limiter.check('other'), { allowed: false, waitSeconds: 60, notify: true });
  now = NOTICE_WINDOW_MS - 1;
  assert.equal(notices(), 0, 'still the same window');
  now = NOTICE_WINDOW_MS;
  assert.equal(notices(), 1, 'the next window has one notice again');
});
