import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import {
  advanceToMondayAfternoon,
  gatewayAudit,
  gatewayDomains,
  requestFrom,
  say,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// Approving from a phone: the whole four-eyes path typed only (Action.Execute does not work in the Teams
// mobile apps), with the refusals of a typed confirmation. Real activities through /api/messages, replies
// captured by the fake Bot Connector.

let t: TestBot;
before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles() });
  await advanceToMondayAfternoon(t);
});
after(async () => {
  await t?.close();
});

async function typed(text: string, user: (typeof users)[keyof typeof users], locale = 'de-DE') {
  const replies = await say(t, text, user, locale);
  return replyText(replies.at(-1)!.activity);
}

function codeIn(text: string): string {
  const m = /(?:bestätigen|confirm) r-[0-9a-f]{8} (\d{6})/.exec(text);
  assert.ok(m, `no code in: ${text}`);
  return m[1]!;
}

function requestIdIn(text: string): string {
  const m = /(?:genehmigen|approve) (r-[0-9a-f]{8})/.exec(text);
  assert.ok(m, `no typed command in: ${text}`);
  return m[1]!;
}

async function stateOf(requestId: string) {
  return (await t.bot.release.get(requestId))!;
}

describe('typed decisions', () => {
  test('request, approve, confirm with the code, executed: typed only, with the refusals on the way', async () => {
    const { card, text } = await requestFrom(
      t,
      'freigabe Nordverband eingehend Alle Clients und Server gepatcht',
      // Anna is operator and approver: the four-eyes refusal, not the missing role, must stop her.
      users.approver1,
    );
    assertValidCard(card);
    assert.match(text, /Vom Handy/);
    const id = requestIdIn(text);
    const v1 = await stateOf(id);

    // The requester cannot approve their own request by typing either.
    assert.match(await typed(`genehmigen ${id}`, users.approver1), /Eigene Anträge können Sie nicht genehmigen/);
    assert.match(await typed(`genehmigen ${id}`, users.operator), /Rolle „Freigeber“/);

    const confirmation = await typed(`genehmigen ${id.toUpperCase()}`, users.approver2);
    assert.match(
      confirmation,
      /Externe Mail eingehend für \d+ Domänen freigeben\. 0 Clients und 0 Server ungepatcht\./,
    );
    assert.match(confirmation, /nur für Sie, nur einmal/);
    const code = codeIn(confirmation);
    assert.equal((await stateOf(id)).version, v1.version, 'issuing a code changes nothing');

    // A code of another person, a wrong code, a malformed one: refused, nothing changes.
    assert.match(await typed(`bestätigen ${id} ${code}`, users.approver1), /für eine andere Person/);
    assert.match(await typed(`bestätigen ${id} ${code}`, users.operator), /für eine andere Person/);
    const wrong = code === '000000' ? '000001' : '000000';
    assert.match(await typed(`bestätigen ${id} ${wrong}`, users.approver2), /Code stimmt nicht/);
    assert.match(await typed(`bestätigen ${id} 12ab`, users.approver2), /sechs Ziffern/);
    assert.match(await typed(`bestätigen ${id}`, users.approver2), /Bitte den Code angeben/);
    assert.equal((await stateOf(id)).request.state, 'pending');
    assert.ok((await gatewayDomains(t, 'vb-nord')).every((d) => d.inbound === 'held'));

    const confirmed = await typed(`bestätigen ${id} ${code}`, users.approver2);
    assert.match(confirmed, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    const after = await stateOf(id);
    assert.equal(after.request.state, 'executed');
    assert.deepEqual(
      after.request.approvals.map((a) => a.by.id),
      [users.approver2.aadObjectId],
    );
    const domains = await gatewayDomains(t, 'vb-nord');
    assert.ok(domains.every((d) => d.inbound === 'open'));
    const changes = (await gatewayAudit(t)).filter((c) => domains.some((d) => d.domain === c.domain));
    assert.equal(changes.length, domains.length, 'exactly one gateway change per domain');

    // Reused: refused, and nothing runs a second time.
    assert.match(await typed(`bestätigen ${id} ${code}`, users.approver2), /schon verwendet/);
    assert.equal(
      (await gatewayAudit(t)).filter((c) => domains.some((d) => d.domain === c.domain)).length,
      domains.length,
    );

    // The same audit as the card path, plus the codes issued and refused.
    const actions = (await t.bot.store.listAudit({ requestId: id, limit: 100 })).map((e) => e.action);
    for (const action of ['release.requested', 'release.code_issued', 'release.code_refused', 'release.approve']) {
      assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
    }
    assert.equal((await t.bot.store.verifyAuditChain()).ok, true);
  });

  test('a code for an outdated version is refused; below the policy the justification goes with the confirmation', async () => {
    const { text } = await requestFrom(t, 'freigabe Kreis Olpe eingehend Mit der Leitung abgestimmt', users.operator);
    const id = requestIdIn(text);
    const first = await typed(`genehmigen ${id}`, users.approver2);
    const staleCode = codeIn(first);
    assert.match(first, /Rechtfertigung/);

    const second = codeIn(await typed(`genehmigen ${id}`, users.approver1));
    assert.match(
      await typed(`bestätigen ${id} ${second}`, users.approver1),
      /braucht die Bestätigung eine Rechtfertigung/,
    );
    const oneOfTwo = await typed(
      `bestätigen ${id} ${second} Rathaus braucht Mail, Altclients sind vom Netz getrennt`,
      users.approver1,
    );
    assert.match(oneOfTwo, /Wartet auf Genehmigung \(1 von 2\)/);

    assert.match(await typed(`bestätigen ${id} ${staleCode}`, users.approver2), /seit diesem Code geändert/);
    assert.equal((await stateOf(id)).request.approvals.length, 1);

    const fresh = codeIn(await typed(`genehmigen ${id}`, users.approver2));
    assert.match(await typed(`bestätigen ${id} ${fresh}`, users.approver2), /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    const done = await stateOf(id);
    assert.equal(done.request.approvals.length, 2);
    assert.match(done.request.justification ?? '', /Altclients/);
  });

  test('reject and withdraw typed, in English too; without an id the answer says how', async () => {
    const a = requestIdIn((await requestFrom(t, 'freigabe Kreis Soest ausgehend Alles gepatcht', users.operator)).text);
    assert.match(await typed(`reject ${a} not today`, users.approver2, 'en-US'), /rejected/);
    assert.equal((await stateOf(a)).request.state, 'rejected');
    assert.match(await typed(`approve ${a}`, users.approver1, 'en-US'), /already been decided/);

    const b = requestIdIn((await requestFrom(t, 'freigabe Kreis Soest eingehend Alles gepatcht', users.operator)).text);
    assert.match(await typed(`zurückziehen ${b}`, users.approver2), /Nur die antragstellende Person/);
    assert.match(await typed(`zurückziehen ${b}`, users.operator), /zurückgezogen/);
    assert.equal((await stateOf(b)).request.state, 'cancelled');

    assert.match(await typed('genehmigen', users.approver2), /Antragsnummer angeben, z\. B\. `genehmigen r-/);
    assert.match(await typed('approve r-zz', users.approver2, 'en-US'), /give the request id/);
    assert.match(await typed('genehmigen r-00000000', users.approver2), /Diesen Antrag gibt es nicht/);
  });
});
