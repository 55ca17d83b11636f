import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createSendBuckets,
  createTokenBucket,
  pauseBucket,
  pickNextSend,
  pruneSendBuckets,
  type SendBuckets,
  type TokenBucket,
  teamsConversationLimit,
  teamsTenantLimit,
  tryTake,
} from '../../../src/domain/token-bucket.ts';

// Counts the most events inside any window of `windowMs` (two pointers over sorted times).
function maxInWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('tryTake', () => {
  // capacity 2, one token per second; each step uses the bucket the previous step returned.
  const steps: Array<[nowMs: number, n: number, ok: boolean, waitMs: number | null, tokensAfter: number]> = [
    [0, 1, true, null, 1],
    [0, 1, true, null, 0],
    [0, 1, false, 1000, 0],
    [400, 1, false, 600, 0.4],
    [1000, 1, true, null, 0],
    [1000, 2, false, 2000, 0],
    [5000, 2, true, null, 0], // refill is capped at capacity: 4 s give 2, not 4
    [5500, 1, false, 500, 0.5],
    [6500, 1, true, null, 0.5],
  ];
  test('a table of takes against a 2-token, 1/s bucket', () => {
    let bucket: TokenBucket = createTokenBucket({ capacity: 2, refillPerSecond: 1 });
    for (const [i, [nowMs, n, ok, waitMs, tokensAfter]] of steps.entries()) {
      const r = tryTake(bucket, nowMs, n);
      assert.equal(r.ok, ok, `step ${i}`);
      if (!r.ok) assert.equal(r.waitMs, waitMs, `step ${i} waitMs`);
      assert.ok(Math.abs(r.bucket.tokens - tokensAfter) < 1e-9, `step ${i} tokens ${r.bucket.tokens}`);
      bucket = r.bucket;
    }
  });

  test('is pure: the bucket passed in is not changed', () => {
    const bucket = createTokenBucket({ capacity: 3, refillPerSecond: 1 });
    const before = structuredClone(bucket);
    tryTake(bucket, 1000, 2);
    assert.deepEqual(bucket, before);
  });

  test('waiting exactly waitMs is enough', () => {
    let bucket = createTokenBucket({ capacity: 1, refillPerSecond: 3 });
    bucket = tryTake(bucket, 0).bucket;
    const r = tryTake(bucket, 10);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(tryTake(r.bucket, 10 + r.waitMs - 1).ok, false);
    assert.equal(tryTake(r.bucket, 10 + r.waitMs).ok, true);
  });

  test('a clock that steps back mints no tokens', () => {
    let bucket = createTokenBucket({ capacity: 1, refillPerSecond: 1 });
    bucket = tryTake(bucket, 10_000).bucket;
    const back = tryTake(bucket, 0);
    assert.equal(back.ok, false);
    assert.equal(back.bucket.updatedAtMs, 10_000);
    assert.equal(tryTake(back.bucket, 10_999).ok, false);
    assert.equal(tryTake(back.bucket, 11_000).ok, true);
  });

  test('asking for more than the capacity, or for nothing, is a programming error', () => {
    const bucket = createTokenBucket({ capacity: 2, refillPerSecond: 1 });
    assert.throws(() => tryTake(bucket, 0, 3), RangeError);
    assert.throws(() => tryTake(bucket, 0, 0), RangeError);
    assert.throws(() => createTokenBucket({ capacity: 0, refillPerSecond: 1 }), RangeError);
    assert.throws(() => createTokenBucket({ capacity: 1, refillPerSecond: 0 }), RangeError);
  });

  test('pauseBucket honours a Retry-After: the next token appears exactly then', () => {
    const bucket = createTokenBucket(teamsConversationLimit);
    const paused = pauseBucket(bucket, 1000, 5000);
    const early = tryTake(paused, 1000);
    assert.equal(early.ok, false);
    if (!early.ok) assert.equal(early.waitMs, 5000);
    assert.equal(tryTake(paused, 5999).ok, false);
    assert.equal(tryTake(paused, 6000).ok, true);
  });
});

describe('Teams limits', () => {
  test('sending as fast as the conversation bucket allows stays within all four Teams windows', () => {
    // Teams, per bot per thread: 7 per 1 s, 8 per 2 s, 60 per 30 s, 1800 per 3600 s.
    let bucket = createTokenBucket(teamsConversationLimit);
    const sent: number[] = [];
    let now = 0;
    while (now < 2 * 3600_000) {
      const r = tryTake(bucket, now);
      bucket = r.bucket;
      if (r.ok) sent.push(now);
      else now += r.waitMs;
    }
    assert.ok(maxInWindow(sent, 1000) <= 7);
    assert.ok(maxInWindow(sent, 2000) <= 8);
    assert.ok(maxInWindow(sent, 30_000) <= 60);
    assert.ok(maxInWindow(sent, 3600_000) <= 1800, `max per hour ${maxInWindow(sent, 3600_000)}`);
    assert.ok(sent.length > 3000, 'the limit is not needlessly low either');
  });

  test('the tenant bucket allows at most 30 in any second (Teams: 50), and 20/s sustained', () => {
    let bucket = createTokenBucket(teamsTenantLimit);
    const sent: number[] = [];
    let now = 0;
    while (now < 10_000) {
      const r = tryTake(bucket, now);
      bucket = r.bucket;
      if (r.ok) sent.push(now);
      else now += r.waitMs;
    }
    assert.ok(maxInWindow(sent, 1000) <= 30, `max per second ${maxInWindow(sent, 1000)}`);
    assert.ok(sent.length >= 10 + 20 * 10 - 1, `sent ${sent.length} in 10 s`);
  });
});

describe('pickNextSend', () => {
  const q = (...ids: string[]) => ids.map((s) => ({ conversationId: s.split('#')[0]!, label: s }));

  test('an empty queue is idle', () => {
    assert.equal(pickNextSend(createSendBuckets(), [], 0).kind, 'idle');
  });

  test('takes the oldest item and one token from its conversation and from the tenant', () => {
    const r = pickNextSend(createSendBuckets(), q('a#1', 'b#1'), 0);
    assert.equal(r.kind, 'send');
    if (r.kind !== 'send') return;
    assert.equal(r.index, 0);
    assert.equal(r.item.label, 'a#1');
    assert.equal(r.buckets.tenant.tokens, teamsTenantLimit.capacity - 1);
    assert.equal(r.buckets.conversations['a']!.tokens, teamsConversationLimit.capacity - 1);
  });

  test('skips a throttled conversation without reordering it, and serves the next one', () => {
    const empty: TokenBucket = { ...createTokenBucket(teamsConversationLimit), tokens: 0, updatedAtMs: 0 };
    const buckets: SendBuckets = { ...createSendBuckets(), conversations: { a: empty } };
    const r = pickNextSend(buckets, q('a#1', 'a#2', 'b#1'), 0);
    assert.equal(r.kind, 'send');
    if (r.kind === 'send') assert.equal(r.item.label, 'b#1');
  });

  test('when every conversation is throttled it says how long to wait, and keeps the tenant token', () => {
    const a: TokenBucket = { ...createTokenBucket({ capacity: 1, refillPerSecond: 1 }), tokens: 0, updatedAtMs: 0 };
    const b: TokenBucket = { ...createTokenBucket({ capacity: 1, refillPerSecond: 4 }), tokens: 0, updatedAtMs: 0 };
    const buckets: SendBuckets = { ...createSendBuckets(), conversations: { a, b } };
    const r = pickNextSend(buckets, q('a#1', 'b#1'), 0);
    assert.deepEqual(r.kind === 'wait' && r.waitMs, 250);
    assert.equal(r.buckets.tenant.tokens, teamsTenantLimit.capacity);
  });

  test('an exhausted tenant stops everything', () => {
    const tenant: TokenBucket = {
      ...createTokenBucket({ capacity: 2, refillPerSecond: 2 }),
      tokens: 0,
      updatedAtMs: 0,
    };
    // 100 ms at 2/s refilled 0.2 tokens; the missing 0.8 take 400 ms.
    const r = pickNextSend({ tenant, conversations: {} }, q('a#1'), 100);
    assert.deepEqual(r.kind === 'wait' && r.waitMs, 400);
  });

  test('draining a burst to many channels keeps every limit and each channel’s order', () => {
    const queue = q(
      ...Array.from({ length: 40 }, (_, i) => [`c${i % 8}#${Math.floor(i / 8)}`]).flat(),
      ...Array.from({ length: 20 }, (_, i) => `busy#${i}`),
    );
    let buckets = createSendBuckets({ capacity: 5, refillPerSecond: 5 });
    const sent: Array<{ at: number; conversationId: string; label: string }> = [];
    let now = 0;
    while (queue.length > 0) {
      const r = pickNextSend(buckets, queue, now);
      buckets = r.buckets;
      if (r.kind === 'send') {
        sent.push({ at: now, ...r.item });
        queue.splice(r.index, 1);
      } else if (r.kind === 'wait') now += r.waitMs;
    }
    assert.equal(sent.length, 60);
    assert.ok(
      maxInWindow(
        sent.map((s) => s.at),
        1000,
      ) <=
        5 + 5,
      'tenant: burst plus one second of refill',
    );
    const byConversation = new Map<string, typeof sent>();
    for (const s of sent) byConversation.set(s.conversationId, [...(byConversation.get(s.conversationId) ?? []), s]);
    for (const [id, items] of byConversation) {
      const numbers = items.map((s) => Number(s.label.split('#')[1]));
      assert.deepEqual(
        numbers,
        [...numbers].sort((x, y) => x - y),
        `order of ${id}`,
      );
      const times = items.map((s) => s.at);
      assert.ok(maxInWindow(times, 1000) <= 7 && maxInWindow(times, 2000) <= 8, `rate of ${id}`);
    }
  });

  test('pruneSendBuckets forgets conversations whose bucket is full again', () => {
    let buckets = createSendBuckets();
    for (const id of ['a', 'b']) {
      const r = pickNextSend(buckets, [{ conversationId: id }], 0);
      buckets = r.buckets;
    }
    assert.deepEqual(Object.keys(pruneSendBuckets(buckets, 1000).conversations).sort(), ['a', 'b']);
    assert.deepEqual(Object.keys(pruneSendBuckets(buckets, 10_000).conversations), []);
  });
});
