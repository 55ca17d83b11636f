import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConversationSpec, channel, channelThread, invoke, message, post, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// The alert commands and card actions through the composed bot (start-lagebot wiring): subscribe in
// a channel, list, a test alert delivered proactively through the send queue, acknowledge it.

let t: TestBot;
before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles() });
});
after(async () => {
  await t?.close();
});

const ops = channel('lage-suedverband');

async function sayInChannel(text: string, user = users.operator, conversation: ConversationSpec = ops) {
  const before = t.connector.calls.length;
  assert.equal((await post(t.botUrl, message(text, { serviceUrl: t.connector.url, user, conversation }))).status, 200);
  await t.connector.waitFor((calls) => calls.length > before);
  return t.connector.calls.slice(before);
}

describe('alerts through the composed bot', () => {
  test('alarme an Südverband, alarme, alarm test, Bestätigen', async () => {
    const subscribed = await sayInChannel('alarme an Südverband');
    assert.match(replyText(subscribed.at(-1)!.activity), /erhält jetzt Spam-Alarme für Südverband/);
    const list = await sayInChannel('alarme', users.viewer);
    assert.match(replyText(list.at(-1)!.activity), /Spam-Alarme in diesem Kanal/);
    assert.match(replyText(list.at(-1)!.activity), /Südverband/);

    const viewerTest = await sayInChannel('alarm test', users.viewer);
    assert.match(replyText(viewerTest.at(-1)!.activity), /Operator/);

    const before = t.connector.calls.length;
    await post(
      t.botUrl,
      message('alarm test', { serviceUrl: t.connector.url, user: users.operator, conversation: ops }),
    );
    const calls = await t.connector.waitFor((c) =>
      c
        .slice(before)
        .some((x) => cardOf(x.activity)?.actions !== undefined && /Bestätigen/.test(replyText(x.activity))),
    );
    const alertCall = calls.slice(before).find((x) => /Bestätigen/.test(replyText(x.activity)))!;
    const card = cardOf(alertCall.activity)!;
    assertValidCard(card);
    const ack = (card.actions as Array<{ verb: string; data: Record<string, unknown> }>).find(
      (a) => a.verb === 'alert.ack',
    )!;
    assert.ok(ack, 'the alert card offers Bestätigen');
    const res = await post(
      t.botUrl,
      invoke('alert.ack', ack.data, {
        serviceUrl: t.connector.url,
        user: users.approver1,
        conversation: ops,
        replyToId: alertCall.id,
      }),
    );
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /Anna Approver/);
    const forged = await post(
      t.botUrl,
      invoke(
        'alert.ack',
        { alertId: 'spike:group:kr-olpe:x', by: 'someone' },
        { serviceUrl: t.connector.url, user: users.viewer, conversation: ops },
      ),
    );
    assert.doesNotMatch(JSON.stringify(forged.body), /someone/);
  });

  test('in channel threads: one subscription for the channel, alerts as new posts, clicks from the alert post', async () => {
    const name = 'lage-olpe-threads';
    const channelId = `19:${name}@thread.tacv2`;
    // The answer to a command typed in a thread, which is where it goes.
    const answerIn = async (text: string, user: (typeof users)[keyof typeof users], root: string) => {
      const thread = channelThread(name, root);
      const before = t.connector.calls.length;
      await sayInChannel(text, user, thread);
      const calls = await t.connector.waitFor((c) => c.slice(before).some((x) => x.conversationId === thread.id));
      return replyText(calls.slice(before).find((x) => x.conversationId === thread.id)!.activity);
    };
    assert.match(
      await answerIn('alarme an Kreis Olpe', users.operator, '1001'),
      /erhält jetzt Spam-Alarme für Kreis Olpe/,
    );
    // Another thread of the same channel: the same subscription, not a second one.
    assert.match(await answerIn('alarme', users.viewer, '1002'), /Kreis Olpe/);
    assert.match(await answerIn('alarme an Kreis Olpe', users.operator, '1003'), /bereits/);

    const before = t.connector.calls.length;
    await post(
      t.botUrl,
      message('alarm test', {
        serviceUrl: t.connector.url,
        user: users.operator,
        conversation: channelThread(name, '1004'),
      }),
    );
    const calls = await t.connector.waitFor((c) =>
      c.slice(before).some((x) => x.conversationId === channelId && /Bestätigen/.test(replyText(x.activity))),
    );
    const alertCall = calls.slice(before).find((x) => x.conversationId === channelId)!;
    // A new post in the channel, not into one of its threads: Teams threads by the conversation id's
    // `;messageid=`. (botbuilder gives every proactive activity a reply-to id of its own continuation
    // event; it names no message of the channel.)
    assert.equal(alertCall.method, 'POST');
    assert.ok(!['1001', '1002', '1003', '1004'].includes(String(alertCall.activityId)));

    // Bestätigen is clicked on the alert post, whose thread is `<channel>;messageid=<post>`.
    const ack = (cardOf(alertCall.activity)!.actions as Array<{ verb: string; data: Record<string, unknown> }>).find(
      (a) => a.verb === 'alert.ack',
    )!;
    const res = await post(
      t.botUrl,
      invoke('alert.ack', ack.data, {
        serviceUrl: t.connector.url,
        user: users.operator,
        conversation: channelThread(name, alertCall.id),
        replyToId: alertCall.id,
      }),
    );
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /Olaf Operator/);
  });
});
