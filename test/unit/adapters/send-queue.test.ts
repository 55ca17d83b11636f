import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maxInWindow } from '../../../bench/lib/max-in-window.ts';
import { createSendQueue, type SendQueueOptions } from '../../../src/adapters/send-queue.ts';
import { LagebotError } from '../../../src/domain/errors.ts';
import type { ProactiveSender } from '../../../src/domain/ports.ts';
import { teamsTenantLimit } from '../../../src/domain/token-bucket.ts';

// The queue on a simulated clock: sleep() advances it, so 500 conversations at Teams' pace run in
// milliseconds and every send carries the simulated time it was made at.

interface Call {
  at: number;
  method: 'send' | 'update';
  conversationId: string;
  activityId: string | null;
  card: Record<string, unknown>;
  ok: boolean;
}

function fakeClock() {
  const clock = { t: 1_700_000_000_000 };
  return {
    clock,
    nowMs: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
}

// fail(call number, conversation) → an error to throw, or null to accept.
function fakeSender(nowMs: () => number, fail: (n: number, conversationId: string) => unknown = () => null) {
  const calls: Call[] = [];
  let n = 0;
  let ids = 0;
  const sender: ProactiveSender = {
    async send(conversationId, card) {
      const error = fail(++n, conversationId);
      calls.push({ at: nowMs(), method: 'send', conversationId, activityId: null, card, ok: !error });
      if (error) throw error;
      return { activityId: `act-${++ids}` };
    },
    async update(conversationId, activityId, card) {
      const error = fail(++n, conversationId);
      calls.push({ at: nowMs(), method: 'update', conversationId, activityId, card, ok: !error });
      if (error) throw error;
    },
  };
  return { sender, calls };
}

// What botbuilder throws: @azure/core-http's RestError with statusCode and a non-enumerable response.
function restError(statusCode: number, retryAfter?: string): Error {
  const error = Object.assign(new Error(`status ${statusCode}`), { name: 'RestError', statusCode });
  Object.defineProperty(error, 'response', {
    enumerable: false,
    value: { headers: { get: (name: string) => (name.toLowerCase() === 'retry-after' ? retryAfter : undefined) } },
  });
  return error;
}

const card = (text: string) => ({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text }] });

function queueWith(overrides: Partial<SendQueueOptions> & Pick<SendQueueOptions, 'sender'>) {
  return createSendQueue({ random: () => 0.5, ...overrides });
}

describe('send queue: 500 conversations under throttling', () => {
  test('every third call answered 429 + Retry-After: each conversation gets exactly one card, within the limits', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const { sender, calls } = fakeSender(nowMs, (n) => (n % 3 === 0 ? restError(429, '2') : null));
    const queue = queueWith({ sender, nowMs, sleep });
    const conversations = Array.from({ length: 500 }, (_, i) => `19:conv-${i}@thread.tacv2`);
    const results = await Promise.all(conversations.map((c) => queue.send(c, card(c))));

    const delivered = calls.filter((c) => c.ok);
    assert.equal(delivered.length, 500);
    assert.deepEqual(new Set(delivered.map((c) => c.conversationId)), new Set(conversations));
    assert.equal(new Set(results.map((r) => r.activityId)).size, 500, 'every caller got its own activity id');
    // The tenant bucket (30 per second, docs/decisions/spam-alerts.md) holds for every call, retries included.
    const tenantPerSecond = maxInWindow(
      calls.map((c) => c.at),
      1000,
    );
    assert.ok(tenantPerSecond <= 30, `tenant: ${tenantPerSecond} in one second`);
    for (const c of conversations) {
      const mine = calls.filter((x) => x.conversationId === c);
      assert.ok(
        maxInWindow(
          mine.map((x) => x.at),
          1000,
        ) <= 7,
        `conversation ${c}: more than 7 in a second`,
      );
      // After a 429 with Retry-After: 2, nothing goes to that conversation for two seconds.
      for (let i = 0; i + 1 < mine.length; i++) {
        if (!mine[i]!.ok)
          assert.ok(mine[i + 1]!.at - mine[i]!.at >= 2000, `${c} retried after ${mine[i + 1]!.at - mine[i]!.at} ms`);
      }
    }
    // 500 cards + ~250 retries at 30/s: about 25 simulated seconds. Faster would break the tenant
    // limit, much slower means the queue idled while it could send.
    const elapsed = clock.t - start;
    const floor = ((calls.length - 1) * 1000) / 30;
    assert.ok(elapsed >= floor && elapsed < 1.3 * floor, `${calls.length} calls took ${elapsed} simulated ms`);
    assert.equal(queue.depth(), 0);
  });

  test('the default (bucket 5 + 30/s, at most 30 requests in any second) delivers 500 cards in about 17 simulated seconds', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    await Promise.all(Array.from({ length: 500 }, (_, i) => queue.send(`c-${i}`, card('x'))));
    assert.equal(calls.length, 500);
    const perSecond = maxInWindow(
      calls.map((c) => c.at),
      1000,
    );
    assert.ok(perSecond <= 30, `${perSecond} in one second`);
    const elapsed = clock.t - start;
    // 30 a second is 16.7 s for 500. The request window counts each request until a second after its
    // answer, which on this step clock is noted only after the queue's next sleep, so a little more.
    assert.ok(elapsed >= (470 / 30) * 1000 && elapsed <= 1.05 * (500 / 30) * 1000, `took ${elapsed} simulated ms`);
  });

  test('with teamsTenantLimit (burst 10 + 20/s) the same 500 take 24.5 simulated seconds', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep, tenantLimit: teamsTenantLimit });
    await Promise.all(Array.from({ length: 500 }, (_, i) => queue.send(`c-${i}`, card('x'))));
    assert.equal(calls.filter((c) => c.at === start).length, 10, 'the burst goes at once');
    assert.equal(clock.t - start, (490 / 20) * 1000);
  });

  test('a request counts against the tenant until a second after its answer, however long that takes', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const started: number[] = [];
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    // Teams takes its time answering the first 30; when each arrived there nobody here can know.
    const sender: ProactiveSender = {
      send: async () => {
        started.push(clock.t);
        if (started.length <= 30) await answered;
        return { activityId: `a-${started.length}` };
      },
      update: async () => {},
    };
    const queue = queueWith({
      sender,
      nowMs,
      sleep,
      concurrency: 40,
      tenantLimit: { capacity: 40, refillPerSecond: 40 },
    });
    const all = Promise.all(Array.from({ length: 31 }, (_, i) => queue.send(`c-${i}`, card('x'))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(started.length, 30, 'the 31st waits while 30 are unanswered');
    clock.t += 5000;
    const answeredAt = clock.t;
    answer();
    await all;
    assert.equal(started.length, 31);
    assert.ok(started[30]! >= answeredAt + 1000, `31st started ${started[30]! - start} ms in`);
  });

  test('one busy conversation does not hold up the others, and keeps its burst of 7', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    const busy = Array.from({ length: 20 }, (_, i) => queue.send('busy', card(`b${i}`)));
    const others = Array.from({ length: 10 }, (_, i) => queue.send(`other-${i}`, card('o')));
    await Promise.all(others);
    // The ten others went within the first second although 20 messages to "busy" were queued first.
    assert.ok(
      calls.filter((c) => c.conversationId.startsWith('other-')).every((c) => c.at - start < 1000),
      'the others went within the first second',
    );
    await Promise.all(busy);
    const busyCalls = calls.filter((c) => c.conversationId === 'busy');
    assert.deepEqual(
      busyCalls.map((c) => (c.card.body as Array<{ text: string }>)[0]!.text),
      Array.from({ length: 20 }, (_, i) => `b${i}`),
      'in order',
    );
    assert.equal(busyCalls.filter((c) => c.at - start < 1000).length, 7);
    // Teams' 60 per 30 s and 8 per 2 s per conversation hold too.
    assert.ok(
      maxInWindow(
        busyCalls.map((c) => c.at),
        2000,
      ) <= 8,
      'at most 8 in two seconds',
    );
  });
});

describe('send queue: retries', () => {
  for (const status of [412, 502, 503, 504]) {
    test(`${status} is retried with backoff and then succeeds`, async () => {
      const { nowMs, sleep } = fakeClock();
      const { sender, calls } = fakeSender(nowMs, (n) => (n <= 2 ? restError(status) : null));
      const queue = queueWith({ sender, nowMs, sleep, backoff: { baseMs: 1000, maxMs: 60_000 }, random: () => 0.99 });
      const result = await queue.send('c', card('x'));
      assert.equal(result.activityId, 'act-1');
      assert.equal(calls.length, 3);
      // Full jitter with random 0.99: ~990 ms after the first failure, ~1980 ms after the second (or
      // when the conversation's bucket has its next token, if that is later: ~2040 ms).
      const gaps = [calls[1]!.at - calls[0]!.at, calls[2]!.at - calls[1]!.at];
      assert.ok(gaps[0]! >= 980 && gaps[0]! < 1000, `first retry after ${gaps[0]} ms`);
      assert.ok(gaps[1]! >= 1970 && gaps[1]! <= 2100, `second retry after ${gaps[1]} ms`);
    });
  }

  test('a Retry-After given as an HTTP date is honoured', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    clock.t = Date.UTC(2024, 1, 15, 17, 0, 0);
    const { sender, calls } = fakeSender(nowMs, (n) =>
      n === 1 ? restError(429, 'Thu, 15 Feb 2024 17:00:05 GMT') : null,
    );
    await queueWith({ sender, nowMs, sleep }).send('c', card('x'));
    assert.equal(calls[1]!.at - calls[0]!.at, 5000);
  });

  test('400, 403 and 404 are not retried; the caller gets the error', async () => {
    for (const status of [400, 403, 404]) {
      const { nowMs, sleep } = fakeClock();
      const { sender, calls } = fakeSender(nowMs, () => restError(status));
      await assert.rejects(queueWith({ sender, nowMs, sleep }).send('c', card('x')), { statusCode: status });
      assert.equal(calls.length, 1, String(status));
    }
  });

  test('our own refusals (unknown conversation, tenant not allowed) are not retried', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs, () => new LagebotError('NOT_FOUND', 'conversation unknown'));
    await assert.rejects(queueWith({ sender, nowMs, sleep }).send('c', card('x')), { code: 'NOT_FOUND' });
    assert.equal(calls.length, 1);
  });

  test('a connection error is retried', async () => {
    const { nowMs, sleep } = fakeClock();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const { sender, calls } = fakeSender(nowMs, (n) => (n === 1 ? refused : null));
    await queueWith({ sender, nowMs, sleep }).send('c', card('x'));
    assert.equal(calls.length, 2);
  });

  test('gives up after maxAttempts failures and rejects with the last error', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs, () => restError(502));
    await assert.rejects(queueWith({ sender, nowMs, sleep, maxAttempts: 4 }).send('c', card('x')), { statusCode: 502 });
    assert.equal(calls.length, 4);
  });

  test('429s do not use up the attempts, but every retry ends after giveUpAfterMs', async () => {
    const { nowMs, sleep, clock } = fakeClock();
    const start = clock.t;
    const { sender, calls } = fakeSender(nowMs, () => restError(429, '60'));
    const queue = queueWith({ sender, nowMs, sleep, maxAttempts: 2, giveUpAfterMs: 10 * 60_000 });
    await assert.rejects(queue.send('c', card('x')), { statusCode: 429 });
    // Tries at 0, 1, 2, … 10 minutes: eleven, far more than maxAttempts, none after the deadline.
    assert.equal(calls.length, 11);
    assert.equal(calls.at(-1)!.at - start, 10 * 60_000);
  });

  test('a retried message keeps its place before later messages to the same conversation', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs, (n) => (n === 1 ? restError(429, '3') : null));
    const queue = queueWith({ sender, nowMs, sleep });
    await Promise.all([
      queue.send('c', card('first')),
      queue.send('c', card('second')),
      queue.send('c', card('third')),
    ]);
    assert.deepEqual(
      calls.filter((c) => c.ok).map((c) => (c.card.body as Array<{ text: string }>)[0]!.text),
      ['first', 'second', 'third'],
    );
  });
});

describe('send queue: cards, keys, depth and drain', () => {
  test('a card function is rendered when its turn comes, not when it was queued', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    let state = 'queued';
    // Eight messages to one conversation: the eighth waits for a token (~2 s).
    const first = Array.from({ length: 7 }, () => queue.send('c', card('x')));
    const last = queue.send('c', () => card(state));
    state = 'changed while waiting';
    await Promise.all([...first, last]);
    assert.equal((calls[7]!.card.body as Array<{ text: string }>)[0]!.text, 'changed while waiting');
  });

  test('updates with the same key that wait together are sent once, with the newest card', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    const burst = Array.from({ length: 7 }, () => queue.send('c', card('x')));
    const a = queue.update('c', 'act-1', card('v1'), { key: 'u:c' });
    const b = queue.update('c', 'act-1', card('v2'), { key: 'u:c' });
    const c = queue.update('c', 'act-1', card('v3'), { key: 'u:c' });
    await Promise.all([...burst, a, b, c]);
    const updates = calls.filter((x) => x.method === 'update');
    assert.equal(updates.length, 1);
    assert.equal((updates[0]!.card.body as Array<{ text: string }>)[0]!.text, 'v3');
  });

  test('a send with the key of a waiting send joins it instead of sending twice', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender, calls } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    const burst = Array.from({ length: 7 }, () => queue.send('c', card('x')));
    const a = queue.send('c', card('alert'), { key: 'send:alert-1:c' });
    const b = queue.send('c', card('alert'), { key: 'send:alert-1:c' });
    await Promise.all(burst);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.activityId, rb.activityId);
    assert.equal(calls.length, 8);
  });

  test('depth counts waiting and in-flight messages and reports every change', async () => {
    const { nowMs, sleep } = fakeClock();
    const depths: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sender: ProactiveSender = {
      send: async () => {
        await gate;
        return { activityId: 'a' };
      },
      update: async () => {},
    };
    const queue = queueWith({ sender, nowMs, sleep, concurrency: 2, onDepth: (d) => depths.push(d) });
    const all = Promise.all([queue.send('a', card('x')), queue.send('b', card('x')), queue.send('c', card('x'))]);
    assert.equal(queue.depth(), 3);
    release();
    await all;
    assert.equal(queue.depth(), 0);
    assert.equal(depths.at(-1), 0);
    assert.ok(depths.includes(3), `depths ${depths.join(',')}`);
  });

  test('drain resolves true once empty, false when the time is up', async () => {
    const { nowMs, sleep } = fakeClock();
    const { sender } = fakeSender(nowMs);
    const queue = queueWith({ sender, nowMs, sleep });
    assert.equal(await queue.drain(10), true);
    void queue.send('a', card('x'));
    assert.equal(await queue.drain(1000), true);

    const stuck: ProactiveSender = { send: () => new Promise(() => {}), update: async () => {} };
    const stuckQueue = queueWith({ sender: stuck, nowMs, sleep });
    void stuckQueue.send('a', card('x'));
    assert.equal(await stuckQueue.drain(20), false);
  });

  test('with the real clock and timers it delivers too (a short run)', async () => {
    const calls: number[] = [];
    const sender: ProactiveSender = {
      send: async () => {
        calls.push(Date.now());
        return { activityId: String(calls.length) };
      },
      update: async () => {},
    };
    const queue = createSendQueue({ sender });
    await Promise.all(Array.from({ length: 12 }, (_, i) => queue.send(`c${i}`, card('x'))));
    assert.equal(calls.length, 12);
  });
});
