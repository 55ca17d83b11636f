import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import {
  advanceToMondayAfternoon,
  click,
  gatewayAudit,
  gatewayDomains,
  requestFrom,
  say,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// The four-eyes release workflow over /api/messages with the fake Bot Connector and the simulator.

let t: TestBot;
before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles() });
  await advanceToMondayAfternoon(t);
});
after(async () => {
  await t?.close();
});

describe('release of external mail', () => {
  test('a viewer cannot request; the answer names the role', async () => {
    const replies = await say(t, 'freigabe Nordverband eingehend Alles gepatcht', users.viewer);
    assert.match(replyText(replies.at(-1)!.activity), /Rolle „Operator“/);
  });

  test('without a reason the bot asks for one with a card form', async () => {
    const { card, text } = await requestFrom(t, 'freigabe Kreis Soest eingehend', users.operator);
    assertValidCard(card);
    assert.match(text, /Begründung fehlt/);
    const input = (card!.body as Array<{ type: string; id?: string; isRequired?: boolean }>).find(
      (e) => e.type === 'Input.Text',
    );
    assert.equal(input?.id, 'reason');
    assert.equal(input?.isRequired, true);
  });

  test('happy path for the Nordverband: request, approve, confirm, executed exactly once per domain', async () => {
    const { card, text, ref } = await requestFrom(
      t,
      'freigabe Nordverband eingehend Alle Clients und Server gepatcht',
      users.operator,
    );
    assertValidCard(card);
    assert.match(text, /Freigabe: externe Mail eingehend · Nordverband/);
    assert.match(text, /Wartet auf Genehmigung \(0 von 1\)/);
    assert.match(text, /Richtlinie erfüllt/);
    assert.ok(ref);

    // The requester cannot approve; an approver sees the confirmation view first.
    const confirmView = await click(t, 'request.approve', { ...ref }, users.approver2);
    assertValidCard(confirmView.card);
    assert.match(
      confirmView.text,
      /Externe Mail eingehend für \d+ Domänen freigeben\. 0 Clients und 0 Server ungepatcht\./,
    );
    const domainsBefore = await gatewayDomains(t, 'vb-nord');
    assert.ok(
      domainsBefore.every((d) => d.inbound === 'held'),
      'nothing changed before the confirmation',
    );

    const confirmed = await click(t, 'request.confirm', { ...ref }, users.approver2);
    assert.match(confirmed.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    const domainsAfter = await gatewayDomains(t, 'vb-nord');
    assert.ok(domainsAfter.length >= 40);
    assert.ok(
      domainsAfter.every((d) => d.inbound === 'open'),
      'every Nordverband domain is open inbound',
    );
    assert.ok(
      domainsAfter.every((d) => d.outbound === 'held'),
      'outbound untouched',
    );
    const changes = (await gatewayAudit(t)).filter((c) => domainsAfter.some((d) => d.domain === c.domain));
    assert.equal(changes.length, domainsAfter.length, 'exactly one gateway change per domain');

    // The card in the requester's chat was updated in place to "ausgeführt", showing who approved.
    const update = await t.connector.waitFor((calls) =>
      calls.some((c) => c.method === 'PUT' && replyText(c.activity).includes('ausgeführt')),
    );
    const last = update.filter((c) => c.method === 'PUT').at(-1)!;
    assertValidCard(cardOf(last.activity));
    assert.match(replyText(last.activity), /Genehmigt von: Bernd Approver|Bernd Approver/);
    const verified = await t.bot.store.verifyAuditChain();
    assert.equal(verified.ok, true);
  });

  test('self-approval is refused; nothing changes', async () => {
    const { ref } = await requestFrom(t, 'freigabe Kreis Soest ausgehend Patch-Stand geprüft', users.approver1);
    const res = await click(t, 'request.approve', { ...ref! }, users.approver1);
    assert.match(res.text, /Eigene Anträge können Sie nicht genehmigen/);
    const forced = await click(t, 'request.confirm', { ...ref! }, users.approver1);
    assert.match(forced.text, /Vier-Augen-Prinzip/);
    const current = await t.bot.release.get(ref!.requestId);
    assert.equal(current?.request.state, 'pending');
  });

  test('two approvers confirming at the same moment: one execution, one polite "bereits entschieden"', async () => {
    const { ref } = await requestFrom(t, 'freigabe Hochsauerlandkreis ausgehend Alles gepatcht', users.operator);
    const results = await Promise.all([
      click(t, 'request.confirm', { ...ref! }, users.approver1),
      click(t, 'request.confirm', { ...ref! }, users.approver2),
    ]);
    const decided = results.filter((r) => /bereits entschieden|jemand anderes/.test(r.text));
    assert.equal(decided.length, 1, results.map((r) => r.text.slice(0, 200)).join('\n---\n'));
    assert.ok(await t.bot.executor.idle(20_000));
    const current = await t.bot.release.get(ref!.requestId);
    assert.equal(current?.request.state, 'executed');
    assert.equal(current?.request.approvals.length, 1);
    const hsk = (await gatewayDomains(t, 'vb-nord')).filter(
      (d) => d.domain.includes('hochsauerland') || d.domain === 'arnsberg.de',
    );
    const audit = await gatewayAudit(t);
    for (const d of hsk) {
      assert.equal(
        audit.filter((a) => a.domain === d.domain && a.idempotencyKey?.startsWith(ref!.requestId)).length,
        1,
      );
    }
  });

  test('forged, stale and malformed card data gets a clear answer and changes nothing', async () => {
    const forged = await click(t, 'request.confirm', { requestId: 'r-doesnotexist', version: 1 }, users.approver2);
    assert.match(forged.text, /gibt es nicht/);
    const malformed = await click(
      t,
      'request.confirm',
      { requestId: 42, approvedBy: 'aad-approver-1' },
      users.approver2,
    );
    assert.match(malformed.text, /ungültig oder veraltet/);
    const { ref } = await requestFrom(t, 'freigabe Märkischer Kreis ausgehend geprüft und ok', users.operator);
    const stale = await click(t, 'request.confirm', { ...ref!, version: ref!.version + 5 }, users.approver2);
    assert.match(stale.text, /jemand anderes gehandelt/);
    assert.equal((await t.bot.release.get(ref!.requestId))?.request.state, 'pending');
  });

  test('below the policy the Südverband needs a written justification and two approvers', async () => {
    const { text, ref } = await requestFrom(t, 'freigabe Südverband eingehend Bürgermeister drängen', users.operator);
    assert.match(text, /Richtlinie NICHT erfüllt/);
    assert.match(text, /Wartet auf Genehmigung \(0 von 2\)/);
    const view = await click(t, 'request.approve', { ...ref! }, users.approver1);
    const input = (view.card.body as Array<{ type: string; id?: string }>).find((e) => e.type === 'Input.Text');
    assert.equal(input?.id, 'justification', 'the confirmation view asks for a justification');
    const without = await click(t, 'request.confirm', { ...ref! }, users.approver1);
    assert.match(without.text, /schriftliche Rechtfertigung nötig/);
    const first = await click(
      t,
      'request.confirm',
      { ...ref!, justification: 'Lagebesprechung 19.02.: Restrisiko akzeptiert, Clients in Quarantäne-VLAN' },
      users.approver1,
    );
    assert.match(first.text, /Wartet auf Genehmigung \(1 von 2\)/);
    // approver1's own view offers nothing more; the card everybody sees carries the new version.
    const current = { requestId: ref!.requestId, version: (await t.bot.release.get(ref!.requestId))!.version };
    const again = await click(t, 'request.confirm', current, users.approver1);
    assert.match(again.text, /bereits genehmigt/);
    const second = await click(t, 'request.confirm', current, users.approver2);
    assert.match(second.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    assert.equal((await t.bot.release.get(ref!.requestId))?.request.state, 'executed');
  });

  test('a block needs only a confirmation and is audited', async () => {
    const { text, ref } = await requestFrom(t, 'sperren olpe.de beides Spam-Welle', users.operator);
    assert.match(text, /Wirklich sperren\? 1 Domäne,/);
    const done = await click(t, 'request.confirm_block', { ...ref! }, users.operator);
    assert.match(done.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    const olpe = (await gatewayDomains(t, 'vb-sued')).find((d) => d.domain === 'olpe.de')!;
    assert.equal(olpe.inbound, 'blocked');
    assert.equal(olpe.outbound, 'blocked');
    const audit = await t.bot.store.listAudit({ requestId: ref!.requestId, limit: 20 });
    assert.ok(audit.some((a) => a.action === 'block.confirm_block'));
  });

  test('anträge lists open requests and protokoll shows audit entries', async () => {
    const replies = await say(t, 'anträge', users.viewer);
    assert.match(replyText(replies.at(-1)!.activity), /Offene Anträge/);
    const audit = await say(t, 'protokoll olpe.de', users.viewer);
    const text = replyText(audit.at(-1)!.activity);
    assert.match(text, /Protokoll: olpe\.de/);
    assert.match(text, /Olaf Operator hat eine Sperrung beantragt: olpe\.de ein- und ausgehend/);
    assert.match(text, /Olaf Operator hat die Sperrung bestätigt: olpe\.de ein- und ausgehend/);
    assert.match(text, /olpe\.de ein- und ausgehend: 1 Domäne gesperrt, 0 fehlgeschlagen/);
  });
});

describe('expiry', () => {
  let short: TestBot;
  // The bot's clock, moved by the test (the simulator keeps its own).
  let offsetMs = 0;
  before(async () => {
    short = await startTestBot(
      { ROLES_FILE: writeTestRoles(), REQUEST_TTL: '1h' },
      {},
      {
        now: () => new Date(Date.now() + offsetMs),
      },
    );
    await advanceToMondayAfternoon(short);
  });
  after(async () => {
    await short?.close();
  });

  test('an expired request cannot be approved, and its cards lose their buttons', async () => {
    const { ref } = await requestFrom(short, 'freigabe Kreis Soest ausgehend Ablauf-Test', users.operator);
    offsetMs += 61 * 60_000;
    const late = await click(short, 'request.confirm', { ...ref! }, users.approver2);
    assert.match(late.text, /abgelaufen/);
    assert.equal(await short.bot.release.expireDue(), 1);
    const current = await short.bot.release.get(ref!.requestId);
    assert.equal(current?.request.state, 'expired');
    // The card in the chat is updated in place once the tracker's coalesced update has gone out.
    assert.ok(await short.bot.cards.flush());
    const puts = short.connector.calls.filter((c) => c.method === 'PUT');
    assert.match(replyText(puts.at(-1)!.activity), /Abgelaufen: keine Aktionen/);
    const card = cardOf(puts.at(-1)!.activity)!;
    assert.deepEqual(card.actions, []);
    const soest = await gatewayDomains(short, 'vb-nord');
    assert.ok(
      soest.every((d) => d.outbound === 'held'),
      'nothing was released',
    );
  });
});
