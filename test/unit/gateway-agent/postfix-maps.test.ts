import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postfixAction, renderMaps } from '../../../src/gateway-agent/postfix-maps.ts';

test('held holds; blocked follows the domain blockMode: hold, defer with 4xx, reject with 5xx; open is absent', () => {
  assert.match(postfixAction('held', 'reject', 'inbound', 'olpe.de') ?? '', /^HOLD /);
  assert.match(postfixAction('blocked', 'hold', 'inbound', 'olpe.de') ?? '', /^HOLD /);
  assert.match(postfixAction('blocked', 'defer', 'inbound', 'olpe.de') ?? '', /^450 4\.7\.1 /);
  assert.match(postfixAction('blocked', 'reject', 'outbound', 'olpe.de') ?? '', /^550 5\.7\.1 /);
  assert.equal(postfixAction('open', 'reject', 'inbound', 'olpe.de'), null);
});

test('maps: every estate domain OK in estate, inbound and outbound list only stopped directions, sorted', () => {
  const maps = renderMaps([
    { domain: 'soest.de', inbound: 'open', outbound: 'held', blockMode: 'hold' },
    { domain: 'olpe.de', inbound: 'blocked', outbound: 'open', blockMode: 'defer' },
  ]);
  const body = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(body(maps.estate), ['olpe.de OK', 'soest.de OK']);
  assert.deepEqual(body(maps.inbound), [
    'olpe.de 450 4.7.1 inbound mail of olpe.de is stopped for now, try again later',
  ]);
  assert.deepEqual(body(maps.outbound), ['soest.de HOLD outbound mail of soest.de held by lagebot']);
});
