import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { message, post, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// Issue 13, amplification: every rate-limited message used to get its own "bitte langsamer", so 200
// messages of a script made 200 posts of ours. Now one notice per user and window, the rest is dropped
// and counted in /metrics.

describe('a user far over the rate limit', () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot({ USER_RATE_LIMIT_BURST: '3', USER_RATE_LIMIT_PER_MINUTE: '1' }, { devices: 300 });
  });
  after(async () => {
    await t?.close();
  });

  test('200 messages: the burst is answered, one notice, the rest dropped and counted', async () => {
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          post(t.botUrl, message('hilfe', { serviceUrl: t.connector.url, user: users.operator })),
        ),
      );
      assert.ok(results.every((r) => r.status === 200));
    }
    // teams-ai sends a turn's replies before the HTTP answer, so every post of ours is in by now.
    const texts = t.connector.calls.map((c) => replyText(c.activity));
    const notices = texts.filter((text) => /etwas langsamer/.test(text));
    const helps = texts.filter((text) => /was ich kann/.test(text));
    assert.equal(notices.length, 1, texts.join(' | '));
    // The burst, and at most one more if a token refilled during the run (1 a minute).
    assert.ok(helps.length >= 3 && helps.length <= 4, `${helps.length} help cards`);
    assert.ok(texts.length <= 5, `${texts.length} posts for 200 messages`);

    const metrics = await (await fetch(`${t.botUrl}/metrics`)).text();
    const dropped = Number(/^lagebot_rate_limit_dropped_total\{kind="message"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.equal(dropped, 200 - helps.length - notices.length);

    // Another user is served as before.
    t.connector.reset();
    await post(t.botUrl, message('hilfe', { serviceUrl: t.connector.url, user: users.viewer }));
    assert.match(replyText(t.connector.calls[0]!.activity), /was ich kann/);
  });
});
