import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type DecisionCode,
  isDecisionCodeShape,
  issueDecisionCode,
  MAX_WRONG_TRIES,
  redeemDecisionCode,
} from '../../../src/domain/decision-code.ts';

const code = (over: Partial<DecisionCode> = {}): DecisionCode => ({
  code: '123456',
  personId: 'anna',
  version: 3,
  override: false,
  issuedAt: '2024-02-19T14:00:00.000Z',
  expiresAt: '2024-02-19T18:00:00.000Z',
  usedAt: null,
  wrongTries: 0,
  ...over,
});
const now = '2024-02-19T15:00:00.000Z';
const redeem = (codes: DecisionCode[], over: Partial<Parameters<typeof redeemDecisionCode>[1]> = {}) =>
  redeemDecisionCode(codes, { personId: 'anna', code: '123456', currentVersion: 3, now, ...over });

describe('decision codes', () => {
  test('the right person, code and version redeem it once', () => {
    const first = redeem([code()]);
    assert.ok(first.ok);
    assert.equal(first.code.usedAt, now);
    assert.deepEqual(redeem(first.codes), { ok: false, reason: 'used', codes: null });
  });

  test('another person, an outdated version, an expired request are refused and change nothing', () => {
    assert.deepEqual(redeem([code()], { personId: 'bernd' }), { ok: false, reason: 'other_person', codes: null });
    assert.deepEqual(redeem([code()], { currentVersion: 4 }), { ok: false, reason: 'outdated', codes: null });
    assert.deepEqual(redeem([code()], { now: '2024-02-19T18:00:00.000Z' }), {
      ok: false,
      reason: 'expired',
      codes: null,
    });
  });

  test('wrong codes count against the person’s open code until it is void', () => {
    let codes = [code()];
    for (let i = 0; i < MAX_WRONG_TRIES; i++) {
      const wrong = redeem(codes, { code: '654321' });
      assert.equal(wrong.ok, false);
      assert.equal(!wrong.ok && wrong.reason, 'wrong_code');
      codes = (!wrong.ok && wrong.codes) || codes;
    }
    assert.deepEqual(redeem(codes), { ok: false, reason: 'too_many_tries', codes: null });
    assert.deepEqual(redeem([], {}), { ok: false, reason: 'no_code', codes: null });
  });

  test('a new code replaces the person’s unused ones, not others’ or used ones', () => {
    const used = code({ code: '111111', usedAt: now });
    const bernd = code({ code: '222222', personId: 'bernd' });
    const next = issueDecisionCode([code(), used, bernd], code({ code: '333333', version: 4 }));
    assert.deepEqual(
      next.map((c) => c.code),
      ['111111', '222222', '333333'],
    );
    assert.ok(isDecisionCodeShape('123 456'));
    assert.ok(!isDecisionCodeShape('12345a'));
  });
});
