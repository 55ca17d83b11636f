import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildRegionIndex } from '../../src/domain/region-index.ts';
import { channel, message, post, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { olpeSpike } from '../fixtures/olpe-spike.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// The composed bot's sweep and alert deliveries a dead replica left claimed (start-lagebot wiring,
// docs/decisions/spam-alerts.md): the watcher's new leader leaves a delivery alone while the dead replica's
// claim holds, and its sweep (every second here) sends the card once the claim has expired. The bot lives on
// the simulator's frozen clock, which the test moves.

let t: TestBot;
before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles(), SWEEP_INTERVAL_SECONDS: '1' }, {}, { onSimClock: true });
});
after(async () => {
  await t?.close();
});

const sued = channel('lage-sued-claims');

async function advanceSimMinutes(minutes: number): Promise<void> {
  const res = await fetch(`${t.simUrl}/sim/v1/clock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advanceMinutes: minutes }),
  });
  assert.equal(res.status, 200);
}

describe('alert deliveries left claimed by a dead replica', () => {
  test('the leader sends the card once the claim has expired, not before', async () => {
    const before = t.connector.calls.length;
    const res = await post(
      t.botUrl,
      message('alarme an Südverband', { serviceUrl: t.connector.url, user: users.viewer, conversation: sued }),
    );
    assert.equal(res.status, 200);
    await t.connector.waitFor((calls) => calls.slice(before).some((c) => c.conversationId === sued.id));

    // A replica recorded the alert, claimed its delivery into this channel and died.
    const { store, alertDelivery, watcher } = t.bot;
    const now = t.sim.now();
    const index = buildRegionIndex(t.sim.regions());
    const alert = await alertDelivery.recordEvent(
      {
        type: 'opened',
        alert: olpeSpike(now, { id: `spike:group:kr-olpe:${new Date(now - 10 * 60_000).toISOString()}` }),
      },
      { index, domains: new Map() },
    );
    await store.ensureDelivery(alert.id, sued.id, new Date(now).toISOString());
    await store.claimDelivery(alert.id, sued.id, 'replica-dead', new Date(now).toISOString(), 60_000);

    // This bot becomes the watcher's leader: its resume leaves the delivery to the claim's holder.
    await watcher.pollOnce();
    assert.ok(watcher.isLeader());
    assert.ok(await alertDelivery.drain(5000));
    const [held] = await store.listDeliveries({ alertId: alert.id });
    assert.deepEqual([held!.status, held!.claimedBy], ['pending', 'replica-dead']);

    // The claim runs out; the next sweep takes the delivery over.
    await advanceSimMinutes(2);
    const posts = () =>
      t.connector.calls.filter(
        (c) => c.method === 'POST' && c.conversationId === sued.id && replyText(c.activity).startsWith('Spam-Welle'),
      );
    await waitUntil(
      async () => (await store.listDeliveries({ alertId: alert.id }))[0]?.status === 'sent',
      'the delivery recorded as sent by the sweep',
      15_000,
      100,
    );
    assert.equal(posts().length, 1);
    const [sent] = await store.listDeliveries({ alertId: alert.id });
    assert.deepEqual([sent!.claimedBy, sent!.attempts, sent!.activityId], [null, 2, posts()[0]!.id]);
  });
});
