import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatMB, formatMs, formatTable } from './format-table.ts';

describe('formatTable', () => {
  test('pads columns to the widest cell, numbers to the right, text to the left', () => {
    const text = formatTable(
      ['name', 'n'],
      [
        ['echo', 1000],
        ['status alle', 7],
      ],
    );
    assert.deepEqual(text.split('\n'), [
      `name${' '.repeat(12)}n`,
      '-----------  ----',
      `echo${' '.repeat(9)}1000`,
      `status alle${' '.repeat(5)}7`,
    ]);
  });

  test('shows a missing value as a dash and honours an explicit alignment', () => {
    const text = formatTable(
      [{ header: 'p95', align: 'right' }, 'x'],
      [
        ['12.5', null],
        ['3.0', undefined],
      ],
    );
    const lines = text.split('\n');
    assert.equal(lines[2], '12.5  —');
    assert.equal(lines[3], ' 3.0  —');
  });
});

describe('number formats', () => {
  test('milliseconds with fixed decimals, megabytes as 10^6 bytes, dashes for nothing', () => {
    assert.equal(formatMs(12.345), '12.3');
    assert.equal(formatMs(12.345, 2), '12.35');
    assert.equal(formatMs(null), '—');
    assert.equal(formatMs(Number.NaN), '—');
    assert.equal(formatMB(200e6, 0), '200');
    assert.equal(formatMB(undefined), '—');
  });
});
