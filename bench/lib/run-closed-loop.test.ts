import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runClosedLoop } from './run-closed-loop.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('runClosedLoop', () => {
  test('each user sends its requests one after the other: never more in flight than users', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: string[] = [];
    const r = await runClosedLoop({
      users: 5,
      requestsPerUser: 4,
      maxDurationMs: 60_000,
      request: async (user, seq) => {
        inFlight++;
        most = Math.max(most, inFlight);
        seen.push(`${user}:${seq}`);
        await tick();
        inFlight--;
        return user * 10 + seq;
      },
    });
    assert.equal(most, 5);
    assert.equal(r.issued, 20);
    assert.equal(r.samples.length, 20);
    assert.equal(r.stoppedByDeadline, false);
    assert.deepEqual(
      seen.filter((s) => s.startsWith('3:')),
      ['3:0', '3:1', '3:2', '3:3'],
    );
  });

  test('a failed request is an error with its user and sequence, and the user goes on', async () => {
    const r = await runClosedLoop({
      users: 2,
      requestsPerUser: 3,
      maxDurationMs: 60_000,
      request: async (user, seq) => {
        if (user === 1 && seq === 1) throw new Error('boom');
        return seq;
      },
    });
    assert.equal(r.issued, 6);
    assert.equal(r.samples.length, 5);
    assert.deepEqual(r.errors, [{ user: 1, seq: 1, message: 'boom' }]);
  });

  test('starts no request after the time bound and says so', async () => {
    let clock = 0;
    const r = await runClosedLoop({
      users: 2,
      requestsPerUser: 10,
      maxDurationMs: 100,
      now: () => clock,
      request: async () => {
        clock += 30;
        return 1;
      },
    });
    assert.equal(r.stoppedByDeadline, true);
    // 0, 30, 60, 90 are before the bound (two users share the clock, so four requests in all).
    assert.equal(r.issued, 4);
    assert.equal(r.elapsedMs, 120);
  });

  test('refuses a non-positive number of users', async () => {
    await assert.rejects(
      runClosedLoop({ users: 0, requestsPerUser: 1, maxDurationMs: 1, request: async () => 1 }),
      RangeError,
    );
  });
});
