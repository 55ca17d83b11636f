import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maxInWindow } from '../../../bench/lib/max-in-window.ts';
import {
  cancelRequest,
  createRequestWindow,
  finishRequest,
  type RequestWindow,
  startRequest,
} from '../../../src/domain/request-window.ts';
import { createTokenBucket, type TokenBucket, tryTake } from '../../../src/domain/token-bucket.ts';
import { mulberry32 } from '../../../src/sim/prng.ts';

interface Flight {
  arrivesAt: number;
  answeredAt: number;
}

// 600 requests paced by a 30/s bucket, each answered 5–200 ms after it starts and arriving at the receiver at
// a random moment in between (our event loop, the HTTP client, the network), on a 1 ms step clock. With
// `window`, a request also needs a place in the request window. Returns the arrival times and the end time.
function simulate(seed: number, useWindow: boolean): { arrivals: number[]; endMs: number } {
  const next = mulberry32(seed);
  let bucket: TokenBucket = createTokenBucket({ capacity: 5, refillPerSecond: 30 });
  let window: RequestWindow = createRequestWindow(30);
  const flights: Flight[] = [];
  const arrivals: number[] = [];
  let waiting = 600;
  let t = 0;
  for (; waiting > 0 || flights.length > 0; t++) {
    for (const f of flights.filter((x) => x.answeredAt === t)) {
      window = finishRequest(window, t);
      flights.splice(flights.indexOf(f), 1);
    }
    while (waiting > 0) {
      const slot = useWindow ? startRequest(window, t) : ({ ok: true, window } as const);
      if (!slot.ok) break;
      const token = tryTake(bucket, t);
      bucket = token.bucket;
      if (!token.ok) break;
      window = slot.window;
      const latency = 5 + Math.floor(next() * 195);
      const arrivesAt = t + Math.floor(next() * latency);
      arrivals.push(arrivesAt);
      flights.push({ arrivesAt, answeredAt: t + latency });
      waiting--;
    }
  }
  return { arrivals, endMs: t };
}

describe('request window', () => {
  test('a place is free while fewer than the limit are open or answered within the window', () => {
    let w = createRequestWindow(2, 1000);
    const a = startRequest(w, 0);
    assert.ok(a.ok);
    const b = startRequest(a.window, 10);
    assert.ok(b.ok);
    w = b.window;
    // Both open: only an answer frees a place, no time to wait for.
    assert.deepEqual(startRequest(w, 20), { ok: false, window: w, waitMs: null });
    w = finishRequest(w, 100);
    w = finishRequest(w, 300);
    // Answered, but within the window: the first place is free again when the first answer is 1000 ms old.
    const full = startRequest(w, 500);
    assert.deepEqual([full.ok, !full.ok && full.waitMs], [false, 600]);
    assert.equal(startRequest(w, 1099).ok, false);
    const again = startRequest(w, 1100);
    assert.ok(again.ok);
    assert.deepEqual(again.window.answeredAtMs, [300]);
  });

  test('a request that never went out gives its place back at once', () => {
    const started = startRequest(createRequestWindow(1), 0);
    assert.ok(started.ok);
    assert.equal(startRequest(started.window, 0).ok, false);
    assert.ok(startRequest(cancelRequest(started.window), 0).ok);
  });

  test('a clock that steps back does not reorder the answers', () => {
    let w = createRequestWindow(3, 1000);
    for (const t of [0, 0, 0]) {
      const s = startRequest(w, t);
      assert.ok(s.ok);
      w = s.window;
    }
    w = finishRequest(w, 500);
    w = finishRequest(w, 400);
    assert.deepEqual(w.answeredAtMs, [500, 500]);
  });

  test('the limit must be a positive whole number', () => {
    assert.throws(() => createRequestWindow(0), RangeError);
    assert.throws(() => createRequestWindow(2.5), RangeError);
  });

  test('whatever the delay between start and arrival, at most the limit arrive in any second', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const paced = simulate(seed, true);
      assert.ok(maxInWindow(paced.arrivals, 1000) <= 30, `seed ${seed}: ${maxInWindow(paced.arrivals, 1000)}`);
      // Still close to the ceiling: each place is held for an answer time (≤ 200 ms) plus one second.
      assert.ok(paced.endMs < (600 / 30) * 1.25 * 1000, `seed ${seed}: ${paced.endMs} ms`);
    }
    // The bucket alone paces starts, not arrivals: the same delays put more than 30 into some second.
    const unpaced = [1, 2, 3, 4, 5].map((seed) => maxInWindow(simulate(seed, false).arrivals, 1000));
    assert.ok(
      unpaced.some((n) => n > 30),
      `bucket alone: ${unpaced.join(', ')}`,
    );
  });
});
