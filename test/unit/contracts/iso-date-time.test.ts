import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isoDateTime } from '../../../src/contracts/common.ts';

// isoDateTime compiles zod's own datetime pattern once; it must accept and refuse exactly what
// z.string().datetime({ offset: true }) does.

test('isoDateTime accepts and refuses what zod’s datetime({ offset: true }) does', () => {
  const reference = z.string().datetime({ offset: true });
  const cases = [
    '2024-02-15T17:00:00.000Z',
    '2024-02-15T17:00:00Z',
    '2024-02-15T17:00Z',
    '2024-02-15T17:00:00+01:00',
    '2024-02-15T17:00:00.123456+0100',
    '2024-02-29T23:59:59.9Z',
    '2024-02-15 17:00:00Z',
    '2024-02-30T17:00:00Z',
    '2023-02-29T10:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-02-15T24:00:00Z',
    '2024-02-15T17:00:00',
    '2024-02-15T17:00:00.Z',
    '2024-02-15',
    '',
    'x',
  ];
  let accepted = 0;
  for (const c of cases) {
    const expected = reference.safeParse(c).success;
    assert.equal(isoDateTime.safeParse(c).success, expected, c);
    if (expected) accepted++;
  }
  assert.ok(accepted >= 5 && accepted < cases.length, 'both kinds of case are covered');
  assert.equal(isoDateTime.safeParse(42).success, false);
});
