import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestUser, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { clearSimFaults, setSimFault } from '../fakes/set-sim-fault.ts';
import {
  advanceToMondayAfternoon,
  type CardRef,
  click,
  requestFrom,
  say,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// docs/decisions/hardening.md: roles are checked server-side on every command and every card action. People without the
// role press the buttons of real requests (Teams lets anyone in the channel click any card), with
// and without forged identity in the card data: each gets a refusal and nothing changes.
// Roles (writeTestRoles): viewer = everybody; operator = Olaf, Anna; approver = Anna, Bernd.

let t: TestBot;
const refs: Record<'release' | 'block' | 'failed', CardRef> = {} as never;

before(async () => {
  t = await startTestBot({ ROLES_FILE: writeTestRoles() }, { devices: 2000 });
  await advanceToMondayAfternoon(t);
  // A pending release asked for by Anna (operator and approver), so that Olaf is neither its
  // requester nor an approver.
  refs.release = (await requestFrom(t, 'freigabe Kreis Soest eingehend Alle Geräte gepatcht', users.approver1)).ref!;
  refs.block = (await requestFrom(t, 'sperren olpe.de beides Spam-Welle', users.operator)).ref!;
  // A partially failed release: the gateway refuses two domains (409), so "Fehlgeschlagene wiederholen" is offered.
  refs.failed = (await requestFrom(t, 'freigabe Märkischer Kreis eingehend Alle Geräte gepatcht', users.operator)).ref!;
  await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 409, count: 2 });
  await click(t, 'request.confirm', { ...refs.failed }, users.approver2);
  assert.ok(await t.bot.executor.idle(30_000));
  await clearSimFaults(t.simUrl);
  refs.failed.version = (await t.bot.release.get(refs.failed.requestId))!.version;
});
after(async () => {
  await t?.close();
});

async function snapshot() {
  const requests = await Promise.all(Object.values(refs).map((r) => t.bot.release.get(r.requestId)));
  return {
    requests: requests.map((r) => `${r!.request.id} ${r!.request.state} v${r!.version}`),
    all: (await t.bot.store.listRequests({ limit: 1000 })).length,
    // Refusals are audited too (docs/decisions/release-workflow.md); everything else must stay as it was.
    audit: (await t.bot.store.listAudit({ limit: 1000 })).filter((e) => !e.action.endsWith('.refused')).length,
    chain: (await t.bot.store.verifyAuditChain()).ok,
    gatewayChanges: t.sim.audit({ limit: 1000 }).items.filter((a) => a.action === 'domain.change').length,
  };
}

const decisionVerbs = /request\.(approve|confirm|confirm_override|reject|confirm_block|retry)"/;

/** Clicks and checks: a refusal naming what is missing, and a card without decision buttons. */
async function refused(verb: string, data: Record<string, unknown>, user: TestUser, expected: RegExp) {
  const res = await click(t, verb, data, user);
  assert.match(res.text, expected, `${user.name} → ${verb}: ${res.text.slice(0, 300)}`);
  assert.doesNotMatch(JSON.stringify(res.card), decisionVerbs, `${user.name} is offered no decision button`);
}

const needsApprover = /Rolle „Freigeber“/;
const needsOperator = /Rolle „Operator“/;
const onlyRequester = /Nur die antragstellende Person/;

describe('roles on every card action', () => {
  test('the requests are what the test expects', async () => {
    assert.equal((await t.bot.release.get(refs.release.requestId))!.request.state, 'pending');
    assert.equal((await t.bot.release.get(refs.block.requestId))!.request.state, 'awaiting_confirmation');
    assert.equal((await t.bot.release.get(refs.failed.requestId))!.request.state, 'partially_failed');
  });

  test('a viewer pressing every button of real requests: refused, nothing changes', async () => {
    const before = await snapshot();
    const viewer = users.viewer;
    await refused('request.approve', { ...refs.release }, viewer, needsApprover);
    await refused('request.confirm', { ...refs.release }, viewer, needsApprover);
    await refused(
      'request.confirm_override',
      { ...refs.release, justification: 'Ich will das jetzt einfach freigeben' },
      viewer,
      needsApprover,
    );
    await refused('request.reject', { ...refs.release }, viewer, needsApprover);
    await refused('request.cancel', { ...refs.release }, viewer, onlyRequester);
    await refused('request.confirm_block', { ...refs.block }, viewer, needsOperator);
    await refused('request.cancel', { ...refs.block }, viewer, onlyRequester);
    await refused('request.retry', { ...refs.failed }, viewer, needsOperator);
    assert.deepEqual(await snapshot(), before);
    const refusals = (await t.bot.store.listAudit({ limit: 1000 })).filter(
      (e) => e.action.endsWith('.refused') && e.actor === viewer.aadObjectId,
    );
    assert.equal(refusals.length, 8, 'every refusal is audited');
  });

  test('identity in the card data is ignored: a viewer claiming to be an approver is still refused', async () => {
    const before = await snapshot();
    const forged = {
      ...refs.release,
      aadObjectId: users.approver2.aadObjectId,
      approvedBy: users.approver2.aadObjectId,
      from: { aadObjectId: users.approver2.aadObjectId },
      roles: ['approver', 'operator'],
    };
    await refused('request.confirm', forged, users.viewer, needsApprover);
    await refused('request.confirm_block', { ...refs.block, ...forged, ...refs.block }, users.viewer, needsOperator);
    assert.deepEqual(await snapshot(), before);
  });

  test('an operator cannot approve, an approver cannot confirm a block or retry', async () => {
    const before = await snapshot();
    await refused('request.approve', { ...refs.release }, users.operator, needsApprover);
    await refused('request.confirm', { ...refs.release }, users.operator, needsApprover);
    await refused('request.reject', { ...refs.release }, users.operator, needsApprover);
    await refused('request.confirm_block', { ...refs.block }, users.approver2, needsOperator);
    await refused('request.retry', { ...refs.failed }, users.approver2, needsOperator);
    assert.deepEqual(await snapshot(), before);
  });

  test('someone Teams sends without an Entra object id gets a refusal too', async () => {
    const before = await snapshot();
    const anonymous: TestUser = { id: '29:anonymous', name: 'Anonym', aadObjectId: '' };
    for (const [verb, ref] of [
      ['request.confirm', refs.release],
      ['request.confirm_block', refs.block],
      ['request.retry', refs.failed],
      ['request.cancel', refs.block],
    ] as const) {
      const res = await click(t, verb, { ...ref }, anonymous);
      assert.doesNotMatch(res.text, /wird ausgeführt/);
      assert.doesNotMatch(JSON.stringify(res.card), decisionVerbs);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('chat commands and the reason form check the role too', async () => {
    const before = await snapshot();
    for (const text of ['freigabe Kreis Soest eingehend Alles gepatcht', 'sperren olpe.de beides Spam']) {
      const replies = await say(t, text, users.viewer);
      assert.match(replyText(replies.at(-1)!.activity), needsOperator);
    }
    // The "Begründung" form posts request.create; a viewer submitting it is refused as well.
    await refused(
      'request.create',
      { kind: 'block', scopeId: 'domain:olpe.de', direction: 'both', reason: 'Spam-Welle' },
      users.viewer,
      needsOperator,
    );
    await refused(
      'request.create',
      { kind: 'release', scopeId: 'kr-soest', direction: 'inbound', reason: 'Alles gepatcht' },
      users.approver2,
      needsOperator,
    );
    assert.deepEqual(await snapshot(), before);
  });

  test('the people with the role still can (the refusals above are about roles, not broken buttons)', async () => {
    const confirmed = await click(t, 'request.confirm', { ...refs.release }, users.approver2);
    assert.match(confirmed.text, /wird ausgeführt|ausgeführt/);
    const blocked = await click(t, 'request.confirm_block', { ...refs.block }, users.operator);
    assert.match(blocked.text, /wird ausgeführt|ausgeführt/);
    const retried = await click(t, 'request.retry', { ...refs.failed }, users.operator);
    assert.match(retried.text, /wird ausgeführt|ausgeführt/);
  });
});
