import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { percentile, summarizeLatencies } from './percentile.ts';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  test('of 1..100 is the value at that rank', () => {
    assert.equal(percentile(oneToHundred, 50), 50);
    assert.equal(percentile(oneToHundred, 95), 95);
    assert.equal(percentile(oneToHundred, 99), 99);
    assert.equal(percentile(oneToHundred, 100), 100);
    assert.equal(percentile(oneToHundred, 0.5), 1);
  });

  test('p99 of 1000 samples is the 990th smallest', () => {
    const sorted = Array.from({ length: 1000 }, (_, i) => i * 2);
    assert.equal(percentile(sorted, 99), 989 * 2);
  });

  test('rounds the rank up: p50 of four samples is the second', () => {
    assert.equal(percentile([10, 20, 30, 40], 50), 20);
    assert.equal(percentile([10, 20, 30, 40], 51), 30);
  });

  test('refuses no samples and percentiles outside (0, 100]', () => {
    assert.throws(() => percentile([], 50), RangeError);
    assert.throws(() => percentile([1], 0), RangeError);
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], Number.NaN), RangeError);
  });

  test('is a measured value with at least p % of the samples at or below it, and fewer below it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (samples, p) => {
          const sorted = [...samples].sort((a, b) => a - b);
          const v = percentile(sorted, p);
          assert.ok(sorted.includes(v));
          const atOrBelow = sorted.filter((x) => x <= v).length;
          const below = sorted.filter((x) => x < v).length;
          assert.ok(atOrBelow >= (p / 100) * sorted.length - 1e-9);
          assert.ok(below < (p / 100) * sorted.length);
        },
      ),
    );
  });
});

describe('summarizeLatencies', () => {
  test('sorts a copy and reports min, mean, percentiles and max', () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarizeLatencies(samples);
    assert.deepEqual(s, { n: 5, min: 1, mean: 3, p50: 3, p95: 5, p99: 5, max: 5 });
    assert.deepEqual(samples, [5, 1, 4, 2, 3]);
  });

  test('is null without samples', () => {
    assert.equal(summarizeLatencies([]), null);
  });
});
