import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConversationSpec, channel, message, post, users } from '../fakes/activities.ts';
import { type CapturedCall, cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// The daily situation report driven by the simulator's clock (frozen in tests, moved by the test): a
// channel following the Südverband gets one report at 08:00 Europe/Berlin on each simulated day of the
// feb-2024 scenario, and across the change to summer time at the end of March; bad input stores nothing.

let t: TestBot;
before(async () => {
  // The bot's clock is the simulator's, as in the demo, where the embedded simulator's clock drives reports.
  t = await startTestBot({ ROLES_FILE: writeTestRoles() }, {}, { now: () => new Date(t ? t.sim.now() : Date.now()) });
});
after(async () => {
  await t?.close();
});

const sued = channel('lage-sued-bericht');

async function simNow(): Promise<number> {
  return Date.parse(((await (await fetch(`${t.simUrl}/sim/v1/clock`)).json()) as { now: string }).now);
}
async function setSimTime(iso: string): Promise<void> {
  let minutes = Math.round((Date.parse(iso) - (await simNow())) / 60_000);
  assert.ok(minutes >= 0, `the simulator's clock only moves forward (${iso})`);
  while (minutes > 0) {
    // The simulator moves at most 30 days per call.
    const step = Math.min(minutes, 60 * 24 * 30);
    const res = await fetch(`${t.simUrl}/sim/v1/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMinutes: step }),
    });
    assert.equal(res.status, 200);
    minutes -= step;
  }
}

async function sayIn(conversation: ConversationSpec, text: string, user = users.operator): Promise<string> {
  const before = t.connector.calls.length;
  assert.equal((await post(t.botUrl, message(text, { serviceUrl: t.connector.url, user, conversation }))).status, 200);
  const calls = await t.connector.waitFor((c) => c.length > before);
  return replyText(calls.at(-1)!.activity);
}

/** Runs the report sweep and returns the reports it posted. */
async function reportsAt(iso: string): Promise<CapturedCall[]> {
  await setSimTime(iso);
  const before = t.connector.calls.length;
  await t.bot.reports.tick();
  return t.connector.calls
    .slice(before)
    .filter((c) => c.method === 'POST' && /Lagebericht/.test(replyText(c.activity)));
}

describe('daily situation report', () => {
  test('bad input is answered and stores nothing', async () => {
    const bad = channel('lage-bericht-bad');
    assert.match(await sayIn(bad, 'bericht an 25:00 Südverband'), /„25:00“ ist keine Uhrzeit.*nichts gespeichert/);
    assert.match(await sayIn(bad, 'bericht an 8:61 Südverband'), /keine Uhrzeit/);
    assert.match(await sayIn(bad, 'bericht an 08:00 Atlantis'), /Die Region „Atlantis“ kenne ich nicht/);
    assert.match(
      await sayIn(bad, 'bericht an 08:00 Olpe'),
      /„Olpe“ ist nicht eindeutig.*In Frage kommen: .*Olpe \(Kreis\)/,
    );
    assert.match(await sayIn(bad, 'bericht an 08:00'), /Für welche Region/);
    assert.deepEqual(await t.bot.store.listReportSchedules(bad.id), []);
    assert.match(await sayIn(bad, 'bericht jetzt'), /kein täglicher Lagebericht/);
    assert.match(await sayIn(bad, 'report on 25:00 Südverband', users.operator), /keine Uhrzeit|not a time/);
  });

  test('08:00 on each simulated day of February 2024, once each, compared with the day before', async () => {
    assert.match(await sayIn(sued, 'bericht an Südverband'), /jeden Tag um 08:00 Uhr.*Südverband/);
    // The simulator starts on Thursday 2024-02-15 at 18:00; the first report is Friday's.
    assert.deepEqual(await reportsAt('2024-02-16T06:59:00.000Z'), [], 'nothing before 08:00');
    const seen: string[] = [];
    for (const day of ['16', '17', '18', '19', '20', '21']) {
      const posted = await reportsAt(`2024-02-${day}T07:00:00.000Z`);
      assert.equal(posted.length, 1, `one report on the ${day}th`);
      assert.equal(posted[0]!.conversationId, sued.id);
      const card = cardOf(posted[0]!.activity)!;
      assertValidCard(card);
      const text = replyText(posted[0]!.activity);
      assert.match(text, /Lagebericht Südverband/);
      assert.match(text, /Kreis Olpe|Olpe/);
      assert.match(text, /Siegen-Wittgenstein/);
      assert.match(text, day === '16' ? /Erster Bericht/ : /Veränderung seit dem letzten Bericht/);
      seen.push(text);
      assert.deepEqual(await reportsAt(`2024-02-${day}T09:00:00.000Z`), [], 'and not again that day');
    }
    // Patching progresses over the February days: some Kreis shows a positive change.
    assert.ok(
      seen.slice(1).some((text) => /\(\+\d+,\d %\)/.test(text)),
      seen.join('\n---\n').slice(0, 2000),
    );
    const sent = await t.bot.store.listNotifications({ keyPrefix: `report:${sued.id}:`, status: 'sent' });
    assert.deepEqual(
      sent.map((n) => n.key.slice(-10)),
      ['2024-02-16', '2024-02-17', '2024-02-18', '2024-02-19', '2024-02-20', '2024-02-21'],
    );
    const audited = (await t.bot.store.listAudit({ limit: 200 })).filter((e) => e.action === 'report.sent');
    assert.equal(audited.length, 6);
  });

  test('across the change to summer time 08:00 stays 08:00 Berlin (07:00 UTC, then 06:00 UTC)', async () => {
    // Missed days in between are older than CATCH_UP_WINDOW: skipped, not sent.
    assert.deepEqual(await reportsAt('2024-03-30T06:59:00.000Z'), []);
    assert.equal((await reportsAt('2024-03-30T07:00:00.000Z')).length, 1);
    assert.deepEqual(await reportsAt('2024-03-31T05:59:00.000Z'), [], 'not at 07:59 CEST');
    assert.equal((await reportsAt('2024-03-31T06:00:00.000Z')).length, 1, '08:00 CEST');
    assert.equal((await reportsAt('2024-04-01T06:00:00.000Z')).length, 1);
  });

  test('werktags, bericht jetzt and bericht aus', async () => {
    const weekdays = channel('lage-bericht-werktags');
    assert.match(await sayIn(weekdays, 'bericht an 07:30 werktags Kreis Olpe'), /Werktag.*07:30/);
    const asked = await sayIn(weekdays, 'freigabe Kreis Olpe eingehend Rathaus braucht Mail');
    const id = /r-[0-9a-f]{8}/.exec(asked)![0];
    const now = await sayIn(weekdays, 'bericht jetzt');
    assert.match(now, /Lagebericht Kreis Olpe/);
    // The open request and who it waits for (neither approver has written to the bot: their ids).
    assert.match(now, new RegExp(`${id}: Kreis Olpe, eingehend, .* wartet auf aad-approver-1, aad-approver-2`));
    assert.match(await sayIn(weekdays, 'bericht aus'), /abgestellt/);
    assert.deepEqual(await t.bot.store.listReportSchedules(weekdays.id), []);
  });
});
