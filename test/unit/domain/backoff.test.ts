import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { backoffDelay, isRetryableStatus, retryAfterMs } from '../../../src/domain/backoff.ts';

const fixed = (r: number) => () => r;

describe('backoffDelay', () => {
  const cases: Array<[attempt: number, baseMs: number, maxMs: number, random: number, expected: number]> = [
    [0, 100, 10_000, 0, 0],
    [0, 100, 10_000, 0.5, 50],
    [1, 100, 10_000, 0.5, 100],
    [3, 100, 10_000, 0.999, 799],
    [6, 100, 10_000, 0.5, 3200],
    [7, 100, 10_000, 0.5, 5000], // 12,800 capped at 10,000
    [20, 100, 10_000, 0.25, 2500],
    [5000, 100, 10_000, 0.5, 5000], // 2^5000 is Infinity; the cap still holds
    [2, 0, 10_000, 0.9, 0],
  ];
  for (const [attempt, baseMs, maxMs, r, expected] of cases) {
    test(`attempt ${attempt}, base ${baseMs}, max ${maxMs}, random ${r} → ${expected} ms`, () => {
      assert.equal(backoffDelay(attempt, { baseMs, maxMs }, fixed(r)), expected);
    });
  }

  test('a broken random source is clamped into [0, ceiling)', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(4, options, fixed(Number.NaN)), 0);
    assert.equal(backoffDelay(4, options, fixed(-3)), 0);
    assert.equal(backoffDelay(4, options, fixed(1)), 999);
    assert.equal(backoffDelay(4, options, fixed(7)), 999);
  });

  test('rejects attempts that are negative or fractional', () => {
    assert.throws(() => backoffDelay(-1, { baseMs: 100, maxMs: 1000 }, fixed(0.5)), RangeError);
    assert.throws(() => backoffDelay(1.5, { baseMs: 100, maxMs: 1000 }, fixed(0.5)), RangeError);
  });

  test('always an integer in [0, min(max, base·2^attempt)) — full jitter, never above the cap', () => {
    fc.assert(
      fc.property(
        fc.nat(60),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, maxMs, r) => {
          const d = backoffDelay(attempt, { baseMs, maxMs }, fixed(r));
          const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
          return Number.isInteger(d) && d >= 0 && d < ceiling;
        },
      ),
    );
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2015, 9, 21, 7, 27, 30); // 30 s before the header date below
  const cases: Array<[header: string | null | undefined, expected: number | null]> = [
    ['120', 120_000],
    ['0', 0],
    [' 5 ', 5_000],
    ['Wed, 21 Oct 2015 07:28:00 GMT', 30_000],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0], // already past
    ['Thu, 01 Jan 2015 00:00:00 GMT', 0],
    ['-1', null],
    ['1.5', null],
    ['soon', null],
    ['', null],
    ['Wed, 31 Feb 2015 07:28:00 GMT', null], // impossible date
    ['Wed, 21 Oct 2015 25:28:00 GMT', null],
    ['2015-10-21T07:28:00', null], // not an HTTP-date; Date.parse would read it as local time
    ['Wed, 21 Oct 2015 07:28:00 CEST', null],
    [null, null],
    [undefined, null],
  ];
  for (const [header, expected] of cases) {
    test(`${JSON.stringify(header)} → ${expected}`, () => {
      assert.equal(retryAfterMs(header, now), expected);
    });
  }
});

describe('isRetryableStatus', () => {
  const cases: Array<[number, boolean]> = [
    [412, true],
    [429, true],
    [502, true],
    [503, true],
    [504, true],
    [200, false],
    [201, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [413, false],
    [500, false],
    [501, false],
  ];
  for (const [status, expected] of cases) {
    test(`${status} → ${expected}`, () => assert.equal(isRetryableStatus(status), expected));
  }
});
