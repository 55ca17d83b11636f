import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFairLimiter } from '../../../src/services/create-fair-limiter.ts';

// The executor's bound on gateway calls: never more than the limit at once, and a freed slot goes to
// the group with the fewest running, so a small request is not queued behind a large one. Tasks here are held open
// by the test and released one by one; nothing waits on the clock.

function gate() {
  const open: Array<() => void> = [];
  const started: string[] = [];
  const task = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      open.push(() => resolve(name));
    });
  return { started, task, release: () => open.shift()?.() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createFairLimiter', () => {
  test('never more than the limit at once; every task runs once', async () => {
    const limiter = createFairLimiter(3);
    const g = gate();
    let peak = 0;
    const all = Array.from({ length: 10 }, (_, i) =>
      limiter.run('a', () => {
        peak = Math.max(peak, limiter.active);
        return g.task(`a${i}`)();
      }),
    );
    await settle();
    assert.equal(limiter.active, 3);
    assert.equal(limiter.queued, 7);
    while (g.started.length < 10 || limiter.active > 0) {
      g.release();
      await settle();
    }
    assert.deepEqual(await Promise.all(all), g.started);
    assert.equal(peak, 3);
    assert.deepEqual(new Set(g.started).size, 10);
  });

  test('a freed slot goes to the group with the fewest running, not to the group that queued first', async () => {
    const limiter = createFairLimiter(2);
    const g = gate();
    const big = Array.from({ length: 8 }, (_, i) => limiter.run('big', g.task(`big${i}`)));
    await settle();
    const small = limiter.run('small', g.task('small'));
    g.release();
    await settle();
    assert.deepEqual(g.started, ['big0', 'big1', 'small'], 'the small group is served at the first free slot');
    g.release();
    await settle();
    assert.equal(g.started.at(-1), 'big2');
    while (limiter.active > 0) {
      g.release();
      await settle();
    }
    assert.equal(await small, 'small');
    assert.equal((await Promise.all(big)).length, 8);
  });

  test('a failing task frees its slot and rejects its caller', async () => {
    const limiter = createFairLimiter(1);
    const failed = limiter.run('a', async () => {
      throw new Error('boom');
    });
    const thrown = limiter.run('a', () => {
      throw new Error('sync boom');
    });
    const next = limiter.run('a', async () => 'ran');
    await assert.rejects(failed, /boom/);
    await assert.rejects(thrown, /sync boom/);
    assert.equal(await next, 'ran');
    assert.equal(limiter.active, 0);
  });

  test('the limit must be a positive whole number', () => {
    assert.throws(() => createFairLimiter(0), RangeError);
    assert.throws(() => createFairLimiter(1.5), RangeError);
  });
});
