import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { channel, message, personal, post, tenantId, users } from '../fakes/activities.ts';
import { type CapturedCall, cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { advanceToMondayAfternoon, click, requestFrom } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// Reminders and escalation with the fake Bot Connector and an injected clock: nothing here waits on the
// wall clock; the test moves the bot's clock and runs the sweep's tick() itself.

const approvers = channel('freigaben');
const T0 = Date.parse('2026-12-07T09:00:00.000Z');
let nowMs = T0;
const minutes = (n: number) => {
  nowMs += n * 60_000;
};
let t: TestBot;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lagebot-nudges-'));
  const roles = join(dir, 'roles.json');
  writeFileSync(
    roles,
    JSON.stringify({
      roles: {
        viewer: ['*'],
        operator: [users.operator.aadObjectId],
        approver: [users.approver1.aadObjectId, users.approver2.aadObjectId, 'aad-approver-3'],
      },
      escalation: [users.approver1.aadObjectId, 'aad-never-seen'],
    }),
  );
  t = await startTestBot(
    { ROLES_FILE: roles, APPROVERS_CONVERSATION: approvers.id },
    {},
    { now: () => new Date(nowMs) },
  );
  await advanceToMondayAfternoon(t);
  // Bernd is in the approvers' team roster (TeamsInfo member lookup); Anna is not, but the bot saw her.
  t.connector.members.set(users.approver2.aadObjectId, { ...users.approver2, tenantId });
  // The bot learns the approvers' channel, and Anna's 1:1 chat, from a message in each.
  for (const conversation of [approvers, personal(users.approver1)]) {
    const res = await post(
      t.botUrl,
      message('hilfe', { serviceUrl: t.connector.url, user: users.approver1, conversation }),
    );
    assert.equal(res.status, 200);
  }
});
after(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Moves the clock, runs the sweep, and returns what the bot posted meanwhile. */
async function tickAfter(n: number): Promise<CapturedCall[]> {
  minutes(n);
  const before = t.connector.calls.length;
  await t.bot.nudges.tick();
  return t.connector.calls.slice(before).filter((c) => c.method === 'POST');
}

describe('reminders and escalation', () => {
  test('15, 30, 45 min: reminders in the card’s thread mentioning the approvers; escalation 1:1 after 1 h; then quiet', async () => {
    t.connector.reset();
    const { text } = await requestFrom(t, 'freigabe Nordverband eingehend Alle Clients gepatcht', users.operator);
    const id = /r-[0-9a-f]{8}/.exec(text)![0];
    const card = t.connector.calls.find((c) => c.conversationId === approvers.id && c.method === 'POST');
    assert.ok(card, 'the request card went to the approvers channel');

    assert.deepEqual(await tickAfter(14), [], 'nothing before 15 minutes');
    for (const n of [1, 2, 3]) {
      const posted = await tickAfter(n === 1 ? 1 : 15);
      assert.equal(
        posted.length,
        1,
        `reminder ${n}: ${posted.map((p) => `${p.conversationId} ${p.activityId} ${replyText(p.activity).slice(0, 200)}`).join('\n')}`,
      );
      const reminder = posted[0]!;
      assert.equal(reminder.conversationId, `${approvers.id};messageid=${card.id}`, 'a reply in the card’s thread');
      const body = reminder.activity as {
        text: string;
        entities: Array<{ type: string; text: string; mentioned: { id: string; name: string } }>;
      };
      assert.match(body.text, new RegExp(`Erinnerung ${n} von 3`));
      assert.match(body.text, new RegExp(`Antrag ${id}`));
      assert.match(body.text, new RegExp(`Vom Handy: \`genehmigen ${id}\``));
      assert.match(body.text, /\[Zum Antrag\]\(https:\/\/teams\.microsoft\.com\/l\/message\//);
      const mentions = body.entities.filter((e) => e.type === 'mention');
      // Bernd from the roster, Anna from her last activity, the third approver (never seen) by id.
      assert.deepEqual(
        mentions.map((m) => m.mentioned),
        [
          { id: users.approver1.id, name: users.approver1.name },
          { id: users.approver2.id, name: users.approver2.name },
          { id: 'aad-approver-3', name: 'aad-approver-3' },
        ],
      );
      for (const m of mentions) assert.ok(body.text.includes(m.text), `${m.text} is in the text`);
    }

    const escalation = await tickAfter(15);
    const oneToOne = escalation.filter((c) => c.conversationId === personal(users.approver1).id);
    assert.equal(oneToOne.length, 1, 'Anna gets the request card 1:1');
    assertValidCard(cardOf(oneToOne[0]!.activity));
    assert.match(replyText(oneToOne[0]!.activity), /Eskalation/);
    const named = escalation.filter((c) => c.conversationId.startsWith(approvers.id));
    assert.equal(named.length, 1);
    assert.match(
      String((named[0]!.activity as { text: string }).text),
      /aad-never-seen<\/at> konnte nicht benachrichtigt werden, Lagebot ist bei ihr\/ihm nicht installiert/,
    );
    assert.equal(escalation.length, 2, 'no fourth reminder with the escalation');

    assert.deepEqual(await tickAfter(15), [], 'nothing after the third reminder and the escalation');
    assert.deepEqual(await tickAfter(60), []);

    const actions = (await t.bot.store.listAudit({ requestId: id, limit: 100 })).map((e) => e.action);
    assert.equal(actions.filter((a) => a === 'release.reminder_sent').length, 3);
    assert.equal(actions.filter((a) => a === 'release.escalated').length, 1);
  });

  test('a decision stops the reminders; the requester gets one line', async () => {
    t.connector.reset();
    const { ref, text } = await requestFrom(t, 'freigabe Kreis Soest ausgehend Alles gepatcht', users.operator);
    const id = /r-[0-9a-f]{8}/.exec(text)![0];
    minutes(10);
    await click(t, 'request.confirm', { ...ref! }, users.approver2);
    assert.ok(await t.bot.executor.idle(20_000));
    await t.bot.cards.flush();
    const afterDecision = await tickAfter(0);
    const note = afterDecision.filter((c) => c.conversationId === personal(users.operator).id);
    assert.equal(note.length, 1, afterDecision.map((c) => c.conversationId).join(', '));
    assert.match(String((note[0]!.activity as { text: string }).text), new RegExp(`Ihr Antrag ${id} .* ist genehmigt`));
    assert.deepEqual(await tickAfter(5), [], 'no reminder at 15 minutes');
    assert.deepEqual(await tickAfter(60), [], 'no escalation, and the line only once');
  });

  test('a bot that missed the slots sends one reminder, not three in a row', async () => {
    t.connector.reset();
    const { text } = await requestFrom(t, 'freigabe Kreis Olpe eingehend Rathaus braucht Mail', users.operator);
    const id = /r-[0-9a-f]{8}/.exec(text)![0];
    const isReminder = (c: CapturedCall) =>
      /Erinnerung \d von 3/.test(String((c.activity as { text?: string }).text)) &&
      String((c.activity as { text?: string }).text).includes(id);
    minutes(50);
    assert.equal((await tickAfter(0)).filter(isReminder).length, 1);
    assert.equal((await tickAfter(1)).filter(isReminder).length, 0, 'not the missed 30- and 45-minute ones too');
    assert.equal((await tickAfter(14)).filter(isReminder).length, 1, 'the next one an interval later');
  });

  test('a release superseded by a block: its requester gets one line, no more reminders', async () => {
    t.connector.reset();
    const { text } = await requestFrom(t, 'freigabe Siegen-Wittgenstein ausgehend Alles geprüft', users.operator);
    const id = /r-[0-9a-f]{8}/.exec(text)![0];
    // A block overtakes only a release requested before its confirmation: a minute later on this clock.
    minutes(1);
    const block = await requestFrom(t, 'sperren Siegen-Wittgenstein ausgehend Spam-Welle', users.operator);
    await click(t, 'request.confirm_block', { ...block.ref! }, users.operator);
    assert.ok(await t.bot.executor.idle(20_000));
    assert.equal((await t.bot.release.get(id))!.request.state, 'superseded');
    const posted = await tickAfter(0);
    const note = posted.filter((c) => c.conversationId === personal(users.operator).id);
    assert.equal(note.length, 1, posted.map((c) => c.conversationId).join(', '));
    assert.match(String((note[0]!.activity as { text: string }).text), new RegExp(`Ihr Antrag ${id} .* ist überholt`));
    const later = await tickAfter(20);
    assert.equal(later.filter((c) => String((c.activity as { text?: string }).text ?? '').includes(id)).length, 0);
  });
});
