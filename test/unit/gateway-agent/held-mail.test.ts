import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countHeld, heldFor, type QueuedMessage, releasable } from '../../../src/gateway-agent/held-mail.ts';

const estate = new Set(['attendorn.de', 'olpe.de', 'soest.de']);
const msg = (
  queueId: string,
  sender: string,
  recipients: string[],
  queueName = 'hold',
  arrivalTime = 100,
): QueuedMessage => ({
  queueId,
  queueName,
  sender,
  recipients,
  arrivalTime,
});

test('a message is held for each estate recipient domain inbound and for its estate sender outbound when it leaves the estate', () => {
  assert.deepEqual(heldFor(msg('a', 'x@example.com', ['a@attendorn.de', 'b@olpe.de', 'c@attendorn.de']), estate), [
    { domain: 'attendorn.de', direction: 'inbound' },
    { domain: 'olpe.de', direction: 'inbound' },
  ]);
  assert.deepEqual(heldFor(msg('b', 'me@soest.de', ['x@example.com']), estate), [
    { domain: 'soest.de', direction: 'outbound' },
  ]);
  assert.deepEqual(heldFor(msg('c', 'me@soest.de', ['a@olpe.de']), estate), [
    { domain: 'olpe.de', direction: 'inbound' },
  ]);
});

test('the mixed-recipient rule: a message leaves only when every direction it is held for is open', () => {
  const queue = [
    msg('nord', 'x@example.com', ['a@soest.de']),
    msg('mixed', 'x@example.com', ['a@soest.de', 'b@olpe.de']),
    msg('sued', 'x@example.com', ['b@olpe.de']),
    msg('deferred', 'x@example.com', ['a@soest.de'], 'deferred'),
    msg('out', 'me@soest.de', ['x@example.com']),
  ];
  const open = new Set(['soest.de|inbound']);
  const isOpen = (d: string, dir: string) => open.has(`${d}|${dir}`);
  assert.deepEqual(releasable(queue, estate, isOpen), ['nord']);
  open.add('soest.de|outbound');
  assert.deepEqual(releasable(queue, estate, isOpen), ['nord', 'out']);
  open.add('olpe.de|inbound');
  assert.deepEqual(releasable(queue, estate, isOpen), ['nord', 'mixed', 'sued', 'out']);
});

test('an explicit release lets out the messages of that domain and direction whose other directions are open', () => {
  const queue = [
    msg('o1', 'x@example.com', ['b@olpe.de']),
    msg('mixed', 'x@example.com', ['a@soest.de', 'b@olpe.de']),
    msg('s', 'x@example.com', ['a@soest.de']),
  ];
  const closed = () => false;
  assert.deepEqual(releasable(queue, estate, closed, [{ domain: 'olpe.de', direction: 'inbound' }]), ['o1']);
});

test('held counts per domain and direction with the oldest arrival, from the hold queue only', () => {
  const counts = countHeld(
    [
      msg('a', 'x@example.com', ['a@olpe.de'], 'hold', 300),
      msg('b', 'x@example.com', ['b@olpe.de', 'c@olpe.de'], 'hold', 200),
      msg('c', 'x@example.com', ['b@olpe.de'], 'active', 100),
    ],
    estate,
  );
  assert.deepEqual(counts.get('olpe.de|inbound'), { domain: 'olpe.de', direction: 'inbound', held: 2, oldestAt: 200 });
  assert.equal(counts.size, 1);
});
