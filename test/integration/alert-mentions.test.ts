import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channel, message, post, tenantId, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// People on alerts: `alarme an <scope> @Anna` stores Anna with the subscription, `alarme` lists her, and
// the alert card @mentions her (mention entities under msteams.entities). A mention of someone the
// conversation's roster does not know, or of another tenant, is refused and stores nothing.

let t: TestBot;
before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles() });
  t.connector.members.set(users.approver1.id, { ...users.approver1, tenantId });
  t.connector.members.set('29:guest', {
    id: '29:guest',
    name: 'Gustav Gast',
    aadObjectId: 'aad-guest',
    tenantId: 'another-tenant',
  });
});
after(async () => {
  await t?.close();
});

const ops = channel('lage-mentions');

/** A channel message naming people with @, as Teams sends it: <at> in the text, one entity each. */
async function sayMentioning(text: string, people: Array<{ id: string; name: string }>) {
  const activity = message(`${text} ${people.map((p) => `<at>${p.name}</at>`).join(' ')}`, {
    serviceUrl: t.connector.url,
    user: users.operator,
    conversation: ops,
  });
  activity.entities.push(
    ...people.map(
      (p) =>
        ({
          type: 'mention',
          text: `<at>${p.name}</at>`,
          mentioned: p,
        }) as unknown as (typeof activity.entities)[number],
    ),
  );
  const before = t.connector.calls.length;
  assert.equal((await post(t.botUrl, activity)).status, 200);
  const calls = await t.connector.waitFor((c) => c.length > before);
  return replyText(calls.at(-1)!.activity);
}

describe('people on alerts', () => {
  test('a mention outside the tenant or unknown here is refused and nothing is stored', async () => {
    assert.match(
      await sayMentioning('alarme an Kreis Soest', [{ id: '29:guest', name: 'Gustav Gast' }]),
      /Gustav Gast gehört nicht zu diesem Mandanten.*nichts gespeichert/,
    );
    assert.match(
      await sayMentioning('alarme an Kreis Soest', [
        { id: users.approver1.id, name: users.approver1.name },
        { id: '29:nobody', name: 'Niemand' },
      ]),
      /Niemand gehört nicht/,
    );
    assert.deepEqual(await t.bot.store.listSubscriptions(ops.id), []);
  });

  test('stored with the subscription, listed, and mentioned on the alert card', async () => {
    const anna = { id: users.approver1.id, name: users.approver1.name };
    assert.match(await sayMentioning('alarme an Südverband', [anna]), /Bei Alarmen werden erwähnt: Anna Approver/);
    assert.deepEqual((await t.bot.store.listSubscriptions(ops.id))[0]?.mentions, [anna]);
    assert.match(await sayMentioning('alarme', []), /erwähnt: Anna Approver/);

    const before = t.connector.calls.length;
    await post(
      t.botUrl,
      message('alarm test', { serviceUrl: t.connector.url, user: users.operator, conversation: ops }),
    );
    const calls = await t.connector.waitFor((c) =>
      c.slice(before).some((x) => x.conversationId === ops.id && /Bestätigen/.test(replyText(x.activity))),
    );
    const card = cardOf(calls.slice(before).find((x) => /Bestätigen/.test(replyText(x.activity)))!.activity)!;
    assertValidCard(card);
    assert.deepEqual((card.msteams as { entities: unknown[] }).entities, [
      { type: 'mention', text: '<at>Anna Approver</at>', mentioned: anna },
    ]);
    assert.match(JSON.stringify(card.body), /Zur Kenntnis: <at>Anna Approver<\/at>/);
    const audit = (await t.bot.store.listAudit({ limit: 50 })).map((e) => e.action);
    assert.ok(audit.includes('alert.mentions'));
  });
});
