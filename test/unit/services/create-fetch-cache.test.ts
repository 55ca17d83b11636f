import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFetchCache } from '../../../src/services/create-fetch-cache.ts';

test('concurrent identical questions share one fetch', async () => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const cache = createFetchCache({ ttlMs: 1000, now: () => 0 });
  const load = async () => {
    calls++;
    await gate;
    return 42;
  };
  const all = Promise.all(Array.from({ length: 50 }, () => cache.get('k', load)));
  release();
  const results = await all;
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r.value === 42 && !r.stale));
});

test('a fresh value is reused within the TTL and refetched after it', async () => {
  let now = 0;
  let calls = 0;
  const cache = createFetchCache({ ttlMs: 1000, now: () => now });
  const load = async () => ++calls;
  assert.equal((await cache.get('k', load)).value, 1);
  now = 999;
  assert.equal((await cache.get('k', load)).value, 1);
  now = 1000;
  assert.equal((await cache.get('k', load)).value, 2);
});

test('on failure the last good value is served as stale only when asked', async () => {
  let now = 0;
  let fail = false;
  const cache = createFetchCache({ ttlMs: 10, now: () => now });
  const load = async () => {
    if (fail) throw new Error('down');
    return 'v';
  };
  await cache.get('k', load);
  fail = true;
  now = 100;
  const stale = await cache.get('k', load, { staleOnError: true });
  assert.deepEqual(stale, { value: 'v', fetchedAt: 0, stale: true });
  await assert.rejects(cache.get('k', load), /down/);
  await assert.rejects(cache.get('other', load, { staleOnError: true }), /down/);
});

test('within the refresh-ahead window the old value is served while one refresh runs', async () => {
  let now = 0;
  let calls = 0;
  let release!: () => void;
  const cache = createFetchCache({ ttlMs: 1000, now: () => now, refreshAheadMs: 1000 });
  assert.equal((await cache.get('k', async () => ++calls)).value, 1);
  now = 1500;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const slow = async () => {
    await gate;
    return ++calls;
  };
  // Served at once from the old value, although the refresh has not finished.
  assert.equal((await cache.get('k', slow)).value, 1);
  assert.equal((await cache.get('k', slow)).value, 1);
  release();
  // The refresh settles in the promise jobs after release(); one turn of the event loop runs them.
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2, 'one refresh, not two');
  assert.equal((await cache.get('k', slow)).value, 2);
  // Past TTL + window the caller waits for a fresh value again.
  now = 1500 + 2000;
  let freshCalls = 0;
  assert.equal((await cache.get('k', async () => 100 + ++freshCalls)).value, 101);
});
