import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOCK_SKEW_SECONDS, checkTokenTimes } from '../../../src/teams/check-token-times.ts';

const now = Date.parse('2024-02-19T13:00:00Z');
const s = now / 1000;
const jwt = (claims: unknown) =>
  `Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

test('a token with exp in the future and nbf in the past passes', () => {
  assert.equal(checkTokenTimes(jwt({ exp: s + 3600, nbf: s - 10 }), now), null);
  assert.equal(checkTokenTimes(jwt({ exp: s + 3600 }), now), null);
});

test('no exp, a non-numeric exp: refused', () => {
  assert.equal(checkTokenTimes(jwt({ nbf: s - 10 }), now), 'no_expiry');
  assert.equal(checkTokenTimes(jwt({ exp: String(s + 3600) }), now), 'no_expiry');
  assert.equal(checkTokenTimes(jwt({ exp: null }), now), 'no_expiry');
});

test('expired and not yet valid, beyond the clock skew botbuilder allows', () => {
  assert.equal(checkTokenTimes(jwt({ exp: s - CLOCK_SKEW_SECONDS + 1 }), now), null);
  assert.equal(checkTokenTimes(jwt({ exp: s - CLOCK_SKEW_SECONDS - 1 }), now), 'expired');
  assert.equal(checkTokenTimes(jwt({ exp: s + 3600, nbf: s + CLOCK_SKEW_SECONDS - 1 }), now), null);
  assert.equal(checkTokenTimes(jwt({ exp: s + 3600, nbf: s + 600 }), now), 'not_yet_valid');
  assert.equal(checkTokenTimes(jwt({ exp: s + 3600, nbf: 'soon' }), now), 'unreadable');
});

test('no bearer JWT at all is left to botbuilder; an unreadable payload is refused', () => {
  for (const header of ['', 'Basic abc', 'Bearer', 'Bearer not-a-jwt', 'Bearer a.b']) {
    assert.equal(checkTokenTimes(header, now), null, header);
  }
  assert.equal(checkTokenTimes('Bearer a.!!!.c', now), 'unreadable');
  assert.equal(checkTokenTimes(jwt([1, 2]), now), 'unreadable');
});
