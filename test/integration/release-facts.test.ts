import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/domain/logger.ts';
import { requestBlockCard } from '../../src/teams/release-routes.ts';
import { invoke, message, post, tenantId, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { setSimFault } from '../fakes/set-sim-fault.ts';
import {
  advanceToMondayAfternoon,
  click,
  gatewayAudit,
  gatewayDomains,
  refOf,
  requestFrom,
  say,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// Every release is decided on current facts (docs/decisions/release-workflow.md), over /api/messages with
// the fake Bot Connector and the simulator: duplicates, overlaps, a block superseding a waiting release,
// nothing to do, own writes in `status`, the reason form's card, and the stale retry.

const JUSTIFICATION = 'Lagebesprechung: Restrisiko bewusst akzeptiert, Clients isoliert';

let t: TestBot;
// The bot's clock, moved by the test (the simulator keeps its own).
let offsetMs = 0;
before(async () => {
  t = await startTestBot(
    // A status cache long enough that only dropping it can show a block at once.
    { ROLES_FILE: writeTestRoles(), REQUEST_TTL: '1h', REQUEST_RETRY_WINDOW: '2d', STATUS_CACHE_SECONDS: '600' },
    {},
    { now: () => new Date(Date.now() + offsetMs) },
  );
  await advanceToMondayAfternoon(t);
});
after(async () => {
  await t?.close();
});

async function domainState(domain: string) {
  const all = [...(await gatewayDomains(t, 'vb-nord')), ...(await gatewayDomains(t, 'vb-sued'))];
  return all.find((d) => d.domain === domain)!;
}

/** `sperren <domain> eingehend …`, confirmed by Anna and executed. */
async function block(domain: string) {
  const { ref, text } = await requestFrom(t, `sperren ${domain} eingehend Spam-Welle`, users.approver1);
  assert.match(text, /Wirklich sperren\?/);
  await click(t, 'request.confirm_block', { ...ref! }, users.approver1);
  assert.ok(await t.bot.executor.idle(20_000));
  return ref!;
}

async function lastPutFor(activityId: string) {
  assert.ok(await t.bot.cards.flush());
  const puts = t.connector.calls.filter((c) => c.method === 'PUT' && c.activityId === activityId);
  assert.ok(puts.length > 0, `no update of ${activityId}`);
  return puts.at(-1)!;
}

describe('one open change per domain and direction', () => {
  test('20 identical requests in one second make one request', async () => {
    const before = t.connector.calls.length;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(
          t.botUrl,
          message('freigabe Kreis Soest eingehend Alle Clients gepatcht', {
            serviceUrl: t.connector.url,
            user: users.operator,
          }),
        ),
      ),
    );
    assert.ok(results.every((r) => r.status === 200));
    await t.connector.waitFor(
      (calls) => calls.slice(before).filter((c) => c.method === 'POST' && cardOf(c.activity)).length >= 20,
    );
    const stored = await t.bot.store.listRequests({ scopeId: 'kr-soest' });
    assert.equal(stored.length, 1);
    const replies = t.connector.calls.slice(before).filter((c) => c.method === 'POST' && cardOf(c.activity));
    assert.equal(
      replies.filter((c) => /Diesen Antrag haben Sie bereits gestellt/.test(replyText(c.activity))).length,
      19,
    );
    assert.ok(replies.every((c) => refOf(cardOf(c.activity)).requestId === stored[0]!.id));
  });

  test('a town request overlapping the Kreis request is refused with a pointer; the requester can withdraw', async () => {
    const [kreis] = await t.bot.store.listRequests({ scopeId: 'kr-soest' });
    const other = await requestFrom(t, 'freigabe Lippstadt eingehend Bürgerbüro braucht Mail', users.approver1);
    assertValidCard(other.card);
    assert.match(other.text, /Abgelehnt: 1 dieser Domänen haben schon eine offene Änderung/);
    assert.match(other.text, new RegExp(`Antrag ${kreis!.id}\\) von Olaf Operator`));
    assert.equal(refOf(other.card).requestId, kreis!.id);
    const own = await requestFrom(t, 'freigabe Lippstadt eingehend Bürgerbüro braucht Mail', users.operator);
    assert.match(own.text, /Zurückziehen/);
    assert.equal((await t.bot.store.listRequests({ scopeId: 'kr-soest' })).length, 1);
    const withdrawn = await click(t, 'request.cancel', { ...refOf(own.card) }, users.operator);
    assert.match(withdrawn.text, /zurückgezogen/);
  });
});

describe('facts, not memory', () => {
  test('a block while a release waits: the release is superseded on every card', async () => {
    const before = t.connector.calls.length;
    const { ref } = await requestFrom(t, 'freigabe Kreis Olpe eingehend Bürgermeister drängen', users.operator);
    const cardPost = t.connector.calls
      .slice(before)
      .filter((c) => c.method === 'POST')
      .at(-1)!;
    await block('olpe.de');
    assert.equal((await t.bot.release.get(ref!.requestId))?.request.state, 'superseded');
    const put = await lastPutFor(cardPost.id!);
    assertValidCard(cardOf(put.activity));
    assert.match(replyText(put.activity), /überholt/);
    assert.match(replyText(put.activity), /Überholt durch Sperre von Anna Approver/);
    assert.deepEqual(cardOf(put.activity)!.actions, []);
    const late = await click(t, 'request.confirm', { ...ref!, justification: JUSTIFICATION }, users.approver2);
    assert.match(late.text, /bereits entschieden|jemand anderes/);
    assert.equal((await domainState('olpe.de')).inbound, 'blocked');
  });

  test('status right after a block shows it, whatever the cache', async () => {
    const gesperrt = (text: string) => Number(/gesperrt (\d+)/.exec(text)?.[1] ?? Number.NaN);
    const before = replyText((await say(t, 'status Kreis Olpe', users.viewer)).at(-1)!.activity);
    await block('lennestadt.de');
    const after = replyText((await say(t, 'status Kreis Olpe', users.viewer)).at(-1)!.activity);
    assert.equal(gesperrt(after), gesperrt(before) + 1, `${before}\n---\n${after}`);
  });

  test('a request whose domains are all already open: "nichts zu tun", no gateway change', async () => {
    const res = await fetch(`${t.simUrl}/gateway/v1/domains/werl.de`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'by-hand-werl' },
      body: JSON.stringify({ outbound: 'open', reason: 'von Hand geöffnet', actor: 'Gateway-Admin' }),
    });
    assert.equal(res.status, 200, await res.text());
    const { ref } = await requestFrom(t, 'freigabe werl.de ausgehend Alles gepatcht', users.operator);
    const view = await click(t, 'request.approve', { ...ref! }, users.approver2);
    assert.match(view.text, /Alle 1 Domänen sind bereits offen: es gibt nichts zu tun/);
    const done = await click(t, 'request.confirm', { ...ref! }, users.approver2);
    assert.match(done.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(20_000));
    const current = (await t.bot.release.get(ref!.requestId))!;
    assert.equal(current.request.state, 'executed');
    const card = await click(
      t,
      'request.view',
      { requestId: ref!.requestId, version: current.version },
      users.operator,
    );
    assert.match(card.text, /Nichts zu tun/);
    assert.match(card.text, /bereits in Kraft/);
    const changes = (await gatewayAudit(t)).filter((c) => c.idempotencyKey?.startsWith(`${ref!.requestId}:`));
    assert.deepEqual(changes, []);
  });

  test('the card answered to the reason form is updated in place on execution', async () => {
    const res = await post(
      t.botUrl,
      invoke(
        'request.create',
        { kind: 'release', scopeId: 'kr-hsk', direction: 'outbound', reason: 'Alle Clients gepatcht' },
        { serviceUrl: t.connector.url, user: users.operator, replyToId: 'act-reason-form' },
      ),
    );
    const card = (res.body as { value: Record<string, unknown> }).value;
    const ref = refOf(card);
    await click(t, 'request.confirm', { ...ref }, users.approver2);
    assert.ok(await t.bot.executor.idle(20_000));
    const put = await lastPutFor('act-reason-form');
    assert.match(replyText(put.activity), /ausgeführt/);
    assert.doesNotMatch(replyText(put.activity), /Zurückziehen/);
  });

  test('below the policy the confirmation says the justification is required and why; both are on the card', async () => {
    const { ref } = await requestFrom(t, 'freigabe Kreis Olpe ausgehend Bürgermeister drängen', users.operator);
    const view = await click(t, 'request.approve', { ...ref! }, users.approver1);
    assert.match(view.text, /Freigaberichtlinie ist nicht erfüllt/);
    const input = (view.card.body as Array<{ type: string; id?: string; isRequired?: unknown; label?: string }>).find(
      (e) => e.type === 'Input.Text',
    );
    assert.equal(input?.isRequired, true);
    assert.match(String(input?.label), /Pflicht/);
    const first = await click(t, 'request.confirm', { ...ref!, justification: JUSTIFICATION }, users.approver1);
    assert.match(first.text, /1 von 2/);
    const version = (await t.bot.release.get(ref!.requestId))!.version;
    const second = await click(
      t,
      'request.confirm',
      { requestId: ref!.requestId, version, justification: 'Zweite Sicht: Risiko vertretbar' },
      users.approver2,
    );
    assert.match(second.text, new RegExp(JUSTIFICATION.slice(0, 20)));
    assert.match(second.text, /Zweite Sicht: Risiko vertretbar/);
    assert.ok(await t.bot.executor.idle(20_000));
  });
});

describe('the alert’s block', () => {
  test('blocks exactly the alert’s domains, posted as its own card that is tracked like every request card', async () => {
    const posted: Array<Record<string, unknown>> = [];
    const result = await requestBlockCard(
      { service: t.bot.release, cards: t.bot.cards, logger: silentLogger },
      {
        caller: { aadObjectId: users.operator.aadObjectId, userId: users.operator.id, name: 'Olaf Operator', tenantId },
        conversationId: 'a:alerts-olpe',
        scopeId: 'kr-olpe',
        domains: ['wenden.de', 'drolshagen.de'],
        direction: 'inbound',
        reason: 'Spam-Welle Kreis Olpe',
        lang: 'de',
        post: async (card) => {
          posted.push(card);
          return 'act-alert-block';
        },
      },
    );
    assert.deepEqual(result, { posted: true, count: 2 });
    assert.equal(posted.length, 1);
    assertValidCard(posted[0]);
    const text = replyText({ attachments: [{ content: posted[0] }] });
    assert.match(text, /Wirklich sperren\? 2 Domänen, externe Mail eingehend/);
    const ref = refOf(posted[0]);
    const request = (await t.bot.release.get(ref.requestId))!.request;
    assert.deepEqual([...request.scope.domains].sort(), ['drolshagen.de', 'wenden.de']);
    assert.deepEqual(await t.bot.store.listRequestCards(ref.requestId), [
      { conversationId: 'a:alerts-olpe', activityId: 'act-alert-block' },
    ]);
    await click(t, 'request.confirm_block', { ...ref }, users.operator);
    assert.ok(await t.bot.executor.idle(20_000));
    assert.equal((await domainState('wenden.de')).inbound, 'blocked');
    assert.equal((await domainState('kirchhundem.de')).inbound, 'held', 'a Kreis domain the alert did not name');
  });
});

describe('the stale retry', () => {
  test('a retry after a later block needs four eyes again and leaves attendorn.de blocked', async () => {
    const { ref } = await requestFrom(t, 'freigabe attendorn.de eingehend Bürgerbüro braucht Mail', users.operator);
    await click(t, 'request.confirm', { ...ref!, justification: JUSTIFICATION }, users.approver1);
    const version = (await t.bot.release.get(ref!.requestId))!.version;
    // The run reads the gateway once, then sends the change: both answered 422.
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 422, count: 2 });
    await click(t, 'request.confirm', { requestId: ref!.requestId, version }, users.approver2);
    assert.ok(await t.bot.executor.idle(20_000));
    const failed = (await t.bot.release.get(ref!.requestId))!;
    assert.equal(failed.request.state, 'partially_failed');

    await block('attendorn.de');
    assert.equal((await domainState('attendorn.de')).inbound, 'blocked');
    offsetMs += 24 * 3_600_000; // a day later: past the request's lifetime, within its retry window

    const retry = await click(
      t,
      'request.retry',
      { requestId: ref!.requestId, version: failed.version },
      users.operator,
    );
    assert.match(retry.text, /Wiederholung wartet auf Genehmigung \(0 von 2\)/);
    assert.equal((await domainState('attendorn.de')).inbound, 'blocked', 'the requester alone changed nothing');
    let current = (await t.bot.release.get(ref!.requestId))!;
    const own = await click(
      t,
      'request.confirm',
      { requestId: ref!.requestId, version: current.version, justification: JUSTIFICATION },
      users.operator,
    );
    assert.match(own.text, /Freigeber|Vier-Augen/);
    await click(
      t,
      'request.confirm',
      { requestId: ref!.requestId, version: current.version, justification: JUSTIFICATION },
      users.approver1,
    );
    current = (await t.bot.release.get(ref!.requestId))!;
    await click(t, 'request.confirm', { requestId: ref!.requestId, version: current.version }, users.approver2);
    assert.ok(await t.bot.executor.idle(20_000));
    const end = (await t.bot.release.get(ref!.requestId))!.request;
    assert.equal(end.state, 'executed');
    assert.ok(end.state === 'executed' && end.execution.domains['attendorn.de']!.status === 'skipped');
    assert.equal((await domainState('attendorn.de')).inbound, 'blocked', 'the later block stands');
    const view = await click(
      t,
      'request.view',
      { requestId: ref!.requestId, version: (await t.bot.release.get(ref!.requestId))!.version },
      users.operator,
    );
    assert.match(view.text, /übersprungen – seither geändert/);
  });
});
