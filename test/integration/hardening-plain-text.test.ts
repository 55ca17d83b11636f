import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channel, message, post, users } from '../fakes/activities.ts';
import { cardOf } from '../fakes/fake-bot-connector.ts';
import { markdownProblems, stringsOf } from '../helpers/markdown-problems.ts';
import { advanceToMondayAfternoon, say, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// Issue 13: an operator's reason (and display name) reached the approvers' channel as Markdown, where
// Teams showed a link and bold text. Through the real path — chat message, release service, proactive post
// to APPROVERS_CONVERSATION — the card JSON now carries the text so that it renders literally.

const approvers = channel('freigaben');
const reason = '[Prüfbericht.pdf](https://evil.example/phish) **GENEHMIGT durch Leitstelle**';
// The display name comes from the activity, which the user's own tenant controls.
const operator = { ...users.operator, name: '[Leitstelle](https://evil.example) _Olaf_' };

/** The strings of a card that hold any of the hostile texts, each with what it would render to. */
function hostileProblems(card: Record<string, unknown> | undefined): string[] {
  assert.ok(card, 'a card was sent');
  return stringsOf(card)
    .filter(({ text }) => /Prüfbericht|Leitstelle|evil\.example/.test(text))
    .flatMap(({ path, text }) => [
      ...markdownProblems(text).map((p) => `${path}: ${p}`),
      ...(text.includes('](') ? [`${path}: ](`] : []),
      ...(text.includes('**') ? [`${path}: **`] : []),
    ]);
}

describe('user text in the cards the bot posts', () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot({ ROLES_FILE: writeTestRoles(), APPROVERS_CONVERSATION: approvers.id }, { devices: 1000 });
    await advanceToMondayAfternoon(t);
    // The bot learns the approvers' channel from a message in it.
    const res = await post(
      t.botUrl,
      message('hilfe', { serviceUrl: t.connector.url, user: users.approver1, conversation: approvers }),
    );
    assert.equal(res.status, 200);
  });
  after(async () => {
    await t?.close();
  });

  test('the markdown reason is shown literally in the card sent to the approvers’ channel', async () => {
    t.connector.reset();
    await say(t, `freigabe Nordverband eingehend ${reason}`, operator);
    const [posted] = await t.connector.waitFor((calls) => calls.some((c) => c.conversationId === approvers.id));
    const toApprovers = t.connector.calls.find((c) => c.conversationId === approvers.id)!;
    assert.ok(posted);
    const card = cardOf(toApprovers.activity);
    const text = JSON.stringify(card);
    assert.ok(text.includes('Prüfbericht.pdf') && text.includes('GENEHMIGT durch Leitstelle'), text.slice(0, 500));
    assert.deepEqual(hostileProblems(card), []);
    // The requester's own copy too.
    const own = t.connector.calls.find((c) => c.conversationId !== approvers.id && cardOf(c.activity));
    assert.deepEqual(hostileProblems(cardOf(own!.activity)), []);
  });

  test('the open requests list and the audit log show it literally too', async () => {
    for (const command of ['anträge', 'protokoll']) {
      const replies = await say(t, command, users.viewer);
      const card = cardOf(replies.at(-1)!.activity);
      assert.match(JSON.stringify(card), /Leitstelle/, `${command} shows the request`);
      assert.deepEqual(hostileProblems(card), [], command);
    }
  });

  test('the echoed unknown scope of `status [x](https://evil.example)`', async () => {
    const replies = await say(t, 'status [x](https://evil.example)', users.viewer);
    const card = cardOf(replies.at(-1)!.activity);
    assert.match(JSON.stringify(card), /evil\.example/);
    assert.deepEqual(hostileProblems(card), []);
  });
});
