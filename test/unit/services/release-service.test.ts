import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { PolicySummary, RequestOutcome } from '../../../src/services/release-service.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';

// The release service at the service tier: request, the approver's facts, decisions, expiry — on the
// four-level estate, with an injected clock. The executor runs only where a test says so.

const JUSTIFICATION = 'Lagebesprechung: Restrisiko bewusst akzeptiert';
const words = (text: string) => text.split(' ');

function created(outcome: RequestOutcome) {
  assert.equal(outcome.kind, 'created', JSON.stringify(outcome).slice(0, 300));
  return outcome as Extract<RequestOutcome, { kind: 'created' }>;
}

let core: ReleaseCore;
afterEach(() => core.close());

describe('requesting', () => {
  beforeEach(async () => {
    core = await startReleaseCore({ unpatchedClients: { 'ags:05382060': 2 } });
  });

  test('a viewer cannot request; nothing is stored', async () => {
    const outcome = await core.service.requestFromWords(callers.viewer, 'release', words('Kreis Unna eingehend ok so'));
    assert.deepEqual(outcome, { kind: 'forbidden', role: 'operator' });
    assert.deepEqual(await core.store.listRequests(), []);
  });

  test('without a reason the service asks for one, naming the scope', async () => {
    const outcome = await core.service.requestFromWords(callers.operator, 'release', words('Kreis Unna eingehend'));
    assert.deepEqual(outcome, {
      kind: 'needs_reason',
      scopeId: 'ags:05978',
      scopeName: 'Kreis Unna',
      direction: 'inbound',
      requestKind: 'release',
    });
  });

  test('an ambiguous or unknown place is answered with choices named by their level', async () => {
    const ambiguous = await core.service.requestFromWords(callers.operator, 'release', words('Unna eingehend geprüft'));
    assert.deepEqual(ambiguous, {
      kind: 'scope_ambiguous',
      input: 'Unna',
      candidates: [
        { id: 'ags:05978', name: 'Kreis Unna', level: { de: 'Kreis', en: 'district' } },
        { id: 'ags:05978036', name: 'Unna', level: { de: 'Gemeinde', en: 'municipality' } },
      ],
    });
    const unknown = await core.service.requestFromWords(callers.operator, 'release', words('Meshede eingehend ok'));
    assert.equal(unknown.kind, 'scope_unknown');
    assert.deepEqual(unknown.kind === 'scope_unknown' && unknown.suggestions.map((s) => s.id), ['ags:05958032']);
  });

  test('a release of a patched region: its domains from the region list, the facts, an audit entry', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(
        callers.operator,
        'release',
        words('Regierungsbezirk Arnsberg eingehend alles gepatcht'),
      ),
    );
    assert.equal(version, 1);
    assert.equal(request.state, 'pending');
    assert.equal(request.scope.id, 'ags:059');
    assert.deepEqual(request.scope.domains.sort(), [
      'arnsberg.nrw.example',
      'hsk.nrw.example',
      'kreis-unna.nrw.example',
      'meschede.nrw.example',
      'schwerte.nrw.example',
      'stadt-unna.nrw.example',
      'unna.nrw.example',
    ]);
    assert.equal(request.requiredApprovals, 1);
    const summary = request.policyAtRequest?.summary as PolicySummary;
    assert.equal(summary.evaluation.meets, true);
    assert.deepEqual(summary.devices, []);
    const audit = await core.store.listAudit({ requestId: request.id, limit: 10 });
    assert.deepEqual(
      audit.map((a) => a.action),
      ['release.requested'],
    );
    assert.equal(audit[0]!.scopeId, 'ags:059');
  });

  test('below the policy: two approvers, the unpatched devices that matter most in the facts', async () => {
    const { request } = created(
      await core.service.requestFromWords(callers.operator, 'release', words('Rhein-Sieg-Kreis eingehend dringend')),
    );
    assert.equal(request.requiredApprovals, 2);
    const summary = request.policyAtRequest?.summary as PolicySummary;
    assert.equal(summary.unpatchedClients, 2);
    assert.deepEqual(
      summary.devices.map((d) => [d.hostname, d.state, d.town]),
      [
        ['WS-05382060-000', 'failed', 'Siegburg'],
        ['WS-05382060-001', 'pending', 'Siegburg'],
      ],
    );
  });

  test('"alle": every domain, the policy over the roots of the tree', async () => {
    const { request } = created(
      await core.service.requestFromWords(callers.operator, 'release', words('alle eingehend geprüft')),
    );
    assert.equal(request.scope.id, 'all');
    assert.equal(request.scope.domains.length, (await core.gateway.listDomains()).length);
    assert.equal(request.requiredApprovals, 2, 'Siegburg is not patched, so neither is everything');
  });

  test('a back end that does not answer: "unavailable", nothing stored', async () => {
    core.inventory.failNext('getCompliance');
    assert.deepEqual(
      await core.service.requestFromWords(callers.operator, 'release', words('Kreis Unna eingehend geprüft')),
      { kind: 'unavailable', what: 'inventory' },
    );
    core.gateway.fail('listDomains', { code: 'UPSTREAM_UNAVAILABLE', count: 1 });
    assert.deepEqual(
      await core.service.requestFromWords(callers.operator, 'release', words('Kreis Unna eingehend geprüft')),
      { kind: 'unavailable', what: 'gateway' },
    );
    assert.deepEqual(await core.store.listRequests(), []);
  });
});

describe('deciding', () => {
  beforeEach(async () => {
    core = await startReleaseCore({ unpatchedClients: { 'ags:05382060': 2 } });
  });

  const requestArnsberg = async () =>
    created(
      await core.service.requestFromWords(
        callers.operator,
        'release',
        words('Regierungsbezirk Arnsberg eingehend alles ok'),
      ),
    );

  test('approve after the confirmation view: executing, one outbox intent per domain, audited', async () => {
    const { request, version } = await requestArnsberg();
    const facts = await core.service.confirmFacts(callers.approver2, request.id);
    assert.ok(!('kind' in facts), JSON.stringify(facts).slice(0, 200));
    assert.equal(facts.worse, false);
    assert.equal(facts.version, version);
    // The confirmation view changes nothing.
    assert.equal((await core.service.get(request.id))!.version, version);

    const outcome = await core.service.act(callers.approver2, request.id, version, 'approve');
    assert.equal(outcome.kind, 'ok');
    assert.equal(outcome.kind === 'ok' && outcome.request.state, 'executing');
    assert.ok(outcome.kind === 'ok' && outcome.effects.some((e) => e.type === 'execute'));
    const outbox = await core.store.listOutboxForRequest(request.id);
    assert.equal(outbox.length, request.scope.domains.length);
    assert.deepEqual(
      outbox.map((o) => o.key).sort(),
      request.scope.domains.map((d) => `${request.id}:${d}:apply#1`).sort(),
    );
    const actions = (await core.store.listAudit({ requestId: request.id, limit: 50 })).map((a) => a.action);
    assert.equal(actions.filter((a) => a === 'gateway.intent').length, request.scope.domains.length);
    assert.ok(actions.includes('release.approve'));
    assert.equal(core.transitions.at(-1)!.request.state, 'executing', 'the cards hear of it');
    assert.equal(core.gateway.changes.length, 0, 'nothing is sent before the executor runs');
  });

  test('the requester cannot approve their own request; nothing changes', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(callers.approver1, 'release', words('Kreis Unna ausgehend geprüft')),
    );
    const facts = await core.service.confirmFacts(callers.approver1, request.id);
    assert.equal('kind' in facts && facts.kind === 'refused' && facts.refusal.code, 'self_approval');
    const forced = await core.service.act(callers.approver1, request.id, version, 'approve');
    assert.equal(forced.kind === 'refused' && forced.refusal.code, 'self_approval');
    assert.equal((await core.service.get(request.id))!.request.state, 'pending');
  });

  test('two approvers at the same moment: one decision, the other sees it was decided', async () => {
    const { request, version } = await requestArnsberg();
    const [a, b] = await Promise.all([
      core.service.act(callers.approver1, request.id, version, 'approve'),
      core.service.act(callers.approver2, request.id, version, 'approve'),
    ]);
    assert.deepEqual([a.kind, b.kind].sort(), ['ok', 'stale']);
    const current = (await core.service.get(request.id))!;
    assert.equal(current.request.approvals.length, 1);
    assert.equal((await core.store.listOutboxForRequest(request.id)).length, request.scope.domains.length);
  });

  test('a click on an outdated card, a forged id, another tenant: clear outcomes, nothing changes', async () => {
    const { request, version } = await requestArnsberg();
    const stale = await core.service.act(callers.approver2, request.id, version + 5, 'approve');
    assert.equal(stale.kind, 'stale');
    assert.deepEqual(await core.service.act(callers.approver2, 'r-nope', 1, 'approve'), { kind: 'not_found' });
    assert.deepEqual(await core.service.act(callers.otherTenant, request.id, version, 'approve'), {
      kind: 'wrong_tenant',
    });
    assert.equal((await core.service.get(request.id))!.version, version);
  });

  test('below the policy: a written justification and two distinct approvers', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(
        callers.operator,
        'release',
        words('Rhein-Sieg-Kreis eingehend Bürgermeister drängen'),
      ),
    );
    const without = await core.service.act(callers.approver1, request.id, version, 'approve');
    assert.equal(without.kind === 'refused' && without.refusal.code, 'justification_required');
    const first = await core.service.act(callers.approver1, request.id, version, 'approve', {
      justification: JUSTIFICATION,
    });
    assert.equal(first.kind, 'ok');
    assert.equal(first.kind === 'ok' && first.request.state, 'pending');
    const v2 = (await core.service.get(request.id))!.version;
    const again = await core.service.act(callers.approver1, request.id, v2, 'approve');
    assert.equal(again.kind === 'refused' && again.refusal.code, 'already_approved_by_you');
    const second = await core.service.act(callers.approver2, request.id, v2, 'approve');
    assert.equal(second.kind === 'ok' && second.request.state, 'executing');
  });

  test('the scope got worse since the request: refused, unless an approver takes the override path', async () => {
    const { request, version } = await requestArnsberg();
    core.inventory.setState('dev-05958004-c0', 'outlook-2024-02', 'failed');
    const facts = await core.service.confirmFacts(callers.approver2, request.id);
    assert.ok(!('kind' in facts) && facts.worse);
    const plain = await core.service.act(callers.approver2, request.id, version, 'approve');
    assert.equal(plain.kind === 'refused' && plain.refusal.code, 'policy_worsened');
    const override = await core.service.act(callers.approver2, request.id, version, 'approve', {
      override: true,
      justification: JUSTIFICATION,
    });
    assert.equal(override.kind, 'ok');
    assert.equal(override.kind === 'ok' && override.request.requiredApprovals, 2);
    assert.equal(override.kind === 'ok' && override.request.state, 'pending');
  });

  test('reject and cancel end the request; only the requester cancels', async () => {
    const a = await requestArnsberg();
    const rejected = await core.service.act(callers.approver2, a.request.id, a.version, 'reject', {
      reason: 'nicht jetzt',
    });
    assert.equal(rejected.kind === 'ok' && rejected.request.state, 'rejected');
    const b = await requestArnsberg();
    const notMine = await core.service.act(callers.approver2, b.request.id, b.version, 'cancel');
    assert.equal(notMine.kind === 'refused' && notMine.refusal.code, 'not_requester');
    const cancelled = await core.service.act(callers.operator, b.request.id, b.version, 'cancel');
    assert.equal(cancelled.kind === 'ok' && cancelled.request.state, 'cancelled');
    assert.deepEqual(
      (await core.service.listOpen('tenant-1')).map((o) => o.request.id),
      [],
    );
  });

  test('a block needs only the operator’s confirmation', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(callers.operator, 'block', words('unna.nrw.example beides Spam-Welle')),
    );
    assert.equal(request.state, 'awaiting_confirmation');
    assert.deepEqual(request.scope.domains, ['unna.nrw.example']);
    assert.equal(request.policyAtRequest, null, 'blocking is the safe direction: no policy check');
    const confirmed = await core.service.act(callers.operator, request.id, version, 'confirm_block');
    assert.equal(confirmed.kind === 'ok' && confirmed.request.state, 'executing');
  });
});

describe('expiry, on the injected clock', () => {
  beforeEach(async () => {
    core = await startReleaseCore({ ttlMinutes: 60 });
  });

  test('past its time a request cannot be approved; the sweep expires it once; the gateway is untouched', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(callers.operator, 'release', words('Kreis Unna ausgehend Ablauf-Test')),
    );
    core.advance(59);
    assert.equal(await core.service.expireDue(), 0, 'not yet');
    core.advance(2);
    const late = await core.service.act(callers.approver2, request.id, version, 'approve');
    assert.equal(late.kind === 'refused' && late.refusal.code, 'expired');
    assert.equal(await core.service.expireDue(), 1);
    assert.equal(await core.service.expireDue(), 0, 'once');
    const current = (await core.service.get(request.id))!;
    assert.equal(current.request.state, 'expired');
    assert.deepEqual(core.service.actions(current.request, callers.approver2), []);
    assert.equal(core.transitions.at(-1)!.request.state, 'expired', 'its cards are updated');
    assert.equal(core.gateway.changes.length, 0);
  });
});
