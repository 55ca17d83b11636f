import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Actor,
  availableActions,
  type CreateRequestInput,
  createRequest,
  type Effect,
  type ExecuteItem,
  idempotencyKeyFor,
  isTerminal,
  JUSTIFICATION_MIN,
  type Refusal,
  type ReleaseEvent,
  type ReleaseRequest,
  type RequestState,
  requiredApprovalsFor,
  resumeEffects,
  type TransitionOutcome,
  transition,
} from '../../../src/domain/release-request.ts';

const T0 = '2024-02-12T08:00:00.000Z';
const HOUR = 3_600_000;
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

const TENANT = 'tenant-swf';
const actor = (id: string, ...roles: Actor['roles'][number][]): Actor => ({
  id,
  name: `Name ${id}`,
  tenantId: TENANT,
  roles,
});
const olga = actor('olga', 'operator'); // operator
const otto = actor('otto', 'operator'); // another operator
const anna = actor('anna', 'approver');
const bert = actor('bert', 'approver');
const carla = actor('carla', 'approver');
const opApprover = actor('paul', 'operator', 'approver'); // may request and approve, never his own
const vera = actor('vera', 'viewer');
const stranger: Actor = { ...actor('anna', 'approver', 'operator'), tenantId: 'other-tenant' };

const MET = { meets: true, summary: { unpatched: 0 } };
const BELOW = { meets: false, summary: { unpatched: 12 } };
const JUSTIFICATION = 'Bürgerbüro braucht Mail für Wahlunterlagen, Rest-Clients sind isoliert.';

const retryBy = (a: Actor, over: Partial<Extract<ReleaseEvent, { type: 'retry_failed' }>> = {}): ReleaseEvent => ({
  type: 'retry_failed',
  actor: a,
  freshPolicy: MET,
  freshPolicyWorse: false,
  ...over,
});

function input(over: Partial<CreateRequestInput> = {}): CreateRequestInput {
  return {
    id: 'req-1',
    actor: olga,
    kind: 'release',
    scope: { id: 'kreis-olpe', name: 'Kreis Olpe', domains: ['olpe.de', 'attendorn.de'] },
    direction: 'inbound',
    reason: 'Alle Server gepatcht',
    policy: MET,
    ttlMs: 4 * HOUR,
    ...over,
  };
}

function created(over: Partial<CreateRequestInput> = {}): ReleaseRequest {
  const r = createRequest(input(over), T0);
  assert.ok(r.ok, JSON.stringify(r));
  return r.request;
}

function ok(result: TransitionOutcome): { request: ReleaseRequest; effects: Effect[] } {
  assert.ok(result.ok, `expected ok, got ${JSON.stringify(result)}`);
  return result;
}

function refused(result: TransitionOutcome | ReturnType<typeof createRequest>): Refusal {
  assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
  return (result as { ok: false; refusal: Refusal }).refusal;
}

const approve = (a: Actor, over: Partial<Extract<ReleaseEvent, { type: 'approve' }>> = {}): ReleaseEvent => ({
  type: 'approve',
  actor: a,
  freshPolicy: MET,
  freshPolicyWorse: false,
  override: false,
  ...over,
});

function executeItems(effects: Effect[]): ExecuteItem[] {
  const execute = effects.filter((e) => e.type === 'execute');
  assert.equal(execute.length, 1, 'exactly one execute effect');
  return execute[0]!.type === 'execute' ? execute[0]!.items : [];
}

function executing(): ReleaseRequest {
  return ok(transition(created(), approve(anna), at(1))).request;
}

describe('createRequest', () => {
  test('a release that meets the policy waits for one approval and expires after the TTL', () => {
    const r = created({ scope: { id: 's', name: 'S', domains: [' Olpe.de ', 'olpe.de', 'attendorn.de'] } });
    assert.equal(r.state, 'pending');
    assert.equal(r.kind, 'release');
    assert.equal(r.requiredApprovals, 1);
    assert.equal(r.tenantId, TENANT);
    assert.deepEqual(r.requester, { id: 'olga', name: 'Name olga' });
    assert.deepEqual(r.scope.domains, ['olpe.de', 'attendorn.de']);
    assert.equal(r.expiresAt, at(240));
    assert.deepEqual(r.policyAtRequest, MET);
    assert.deepEqual(r.approvals, []);
    assert.equal(r.justification, null);
    assert.deepEqual(
      r.history.map((h) => [h.what, h.by?.id]),
      [['created', 'olga']],
    );
  });

  test('a release below policy needs two approvals', () => {
    assert.equal(created({ policy: BELOW }).requiredApprovals, 2);
    assert.equal(requiredApprovalsFor(false), 2);
    assert.equal(requiredApprovalsFor(true), 1);
  });

  test('a block awaits a confirmation and carries no policy', () => {
    const r = created({ kind: 'block', policy: null });
    assert.equal(r.state, 'awaiting_confirmation');
    assert.equal(r.policyAtRequest, null);
    assert.equal(created({ kind: 'block', policy: BELOW }).policyAtRequest, null);
  });

  test('refusals', () => {
    assert.deepEqual(refused(createRequest(input({ actor: vera }), T0)), { code: 'not_operator' });
    assert.deepEqual(refused(createRequest(input({ actor: anna }), T0)), { code: 'not_operator' });
    assert.deepEqual(refused(createRequest(input({ reason: '   ' }), T0)), { code: 'reason_required', min: 3 });
    assert.deepEqual(refused(createRequest(input({ reason: ' ok ' }), T0)), { code: 'reason_required', min: 3 });
    assert.deepEqual(refused(createRequest(input({ reason: 'x'.repeat(501) }), T0)), {
      code: 'too_long',
      field: 'reason',
      max: 500,
    });
    assert.deepEqual(refused(createRequest(input({ scope: { id: 's', name: 'S', domains: [] } }), T0)), {
      code: 'no_domains',
    });
    assert.deepEqual(refused(createRequest(input({ scope: { id: 's', name: 'S', domains: [' '] } }), T0)), {
      code: 'no_domains',
    });
    assert.deepEqual(refused(createRequest(input({ policy: null }), T0)), { code: 'policy_required' });
    assert.deepEqual(refused(createRequest(input({ justification: 'dringend' }), T0)), {
      code: 'justification_required',
      min: 10,
    });
    assert.deepEqual(refused(createRequest(input({ justification: 'x'.repeat(2001) }), T0)), {
      code: 'too_long',
      field: 'justification',
      max: 2000,
    });
  });

  test('a blank justification counts as none; a written one is kept trimmed', () => {
    assert.equal(created({ justification: '  ' }).justification, null);
    assert.equal(created({ justification: ` ${JUSTIFICATION} ` }).justification, JUSTIFICATION);
  });

  test('programming errors throw instead of refusing', () => {
    assert.throws(() => createRequest(input(), 'yesterday'), RangeError);
    assert.throws(() => createRequest(input({ ttlMs: 0 }), T0), RangeError);
    assert.throws(() => createRequest(input({ id: '' }), T0), RangeError);
  });
});

describe('approving a release', () => {
  test('one confirmed approval of a compliant scope starts execution per domain', () => {
    const before = created();
    const { request, effects } = ok(transition(before, approve(anna), at(1)));
    assert.equal(request.state, 'executing');
    assert.deepEqual(request.approvals, [
      { by: { id: 'anna', name: 'Name anna' }, at: at(1), override: false, policy: MET, justification: null },
    ]);
    assert.deepEqual(executeItems(effects), [
      {
        domain: 'olpe.de',
        key: 'req-1:olpe.de:apply',
        change: { inbound: 'open', reason: 'Alle Server gepatcht', actor: 'Name olga, Name anna' },
      },
      {
        domain: 'attendorn.de',
        key: 'req-1:attendorn.de:apply',
        change: { inbound: 'open', reason: 'Alle Server gepatcht', actor: 'Name olga, Name anna' },
      },
    ]);
    assert.deepEqual(
      effects.filter((e) => e.type === 'notify'),
      [{ type: 'notify', requestId: 'req-1', topic: 'execution_started' }],
    );
    assert.ok(request.state === 'executing');
    assert.deepEqual(request.execution.domains['olpe.de'], {
      status: 'pending',
      key: 'req-1:olpe.de:apply',
      error: null,
      attempts: 1,
      settledAt: null,
    });
    assert.deepEqual(
      request.history.map((h) => h.what),
      ['created', 'approved', 'execution_started'],
    );
    assert.equal(before.state, 'pending', 'the input is not mutated');
  });

  test('direction maps to the flows that change', () => {
    const outbound = ok(transition(created({ direction: 'outbound' }), approve(anna), at(1)));
    assert.deepEqual(
      executeItems(outbound.effects).map((i) => [i.change.inbound, i.change.outbound]),
      [
        [undefined, 'open'],
        [undefined, 'open'],
      ],
    );
    const both = ok(transition(created({ direction: 'both' }), approve(anna), at(1)));
    assert.deepEqual(executeItems(both.effects)[0]!.change, {
      inbound: 'open',
      outbound: 'open',
      reason: 'Alle Server gepatcht',
      actor: 'Name olga, Name anna',
    });
  });

  test('nobody approves their own request', () => {
    const r = created({ actor: opApprover });
    assert.deepEqual(refused(transition(r, approve(opApprover), at(1))), { code: 'self_approval' });
    assert.deepEqual(refused(transition(r, { type: 'reject', actor: opApprover }, at(1))), { code: 'self_approval' });
  });

  test('only approvers of the same tenant decide', () => {
    const r = created();
    assert.deepEqual(refused(transition(r, approve(otto), at(1))), { code: 'not_approver' });
    assert.deepEqual(refused(transition(r, approve(vera), at(1))), { code: 'not_approver' });
    assert.deepEqual(refused(transition(r, approve(stranger), at(1))), { code: 'wrong_tenant' });
    assert.deepEqual(refused(transition(r, { type: 'reject', actor: otto }, at(1))), { code: 'not_approver' });
  });

  test('below policy: justification and two distinct approvers', () => {
    const r = created({ policy: BELOW });
    assert.deepEqual(refused(transition(r, approve(anna, { freshPolicy: BELOW }), at(1))), {
      code: 'justification_required',
      min: 10,
    });
    assert.deepEqual(refused(transition(r, approve(anna, { freshPolicy: BELOW, justification: 'weil' }), at(1))), {
      code: 'justification_required',
      min: 10,
    });
    const first = ok(transition(r, approve(anna, { freshPolicy: BELOW, justification: JUSTIFICATION }), at(1)));
    assert.equal(first.request.state, 'pending');
    assert.equal(first.request.justification, JUSTIFICATION, "the approver's justification is on record");
    assert.deepEqual(first.effects, [{ type: 'notify', requestId: 'req-1', topic: 'approval_recorded' }]);
    assert.deepEqual(refused(transition(first.request, approve(anna, { freshPolicy: BELOW }), at(2))), {
      code: 'already_approved_by_you',
    });
    assert.deepEqual(refused(transition(first.request, { type: 'reject', actor: anna }, at(2))), {
      code: 'already_approved_by_you',
    });
    const second = ok(transition(first.request, approve(bert, { freshPolicy: BELOW }), at(2)));
    assert.equal(second.request.state, 'executing');
    assert.deepEqual(
      second.request.approvals.map((a) => a.by.id),
      ['anna', 'bert'],
    );
    assert.equal(executeItems(second.effects)[0]!.change.actor, 'Name olga, Name anna, Name bert');
  });

  test('below policy with a justification given at request time', () => {
    const r = created({ policy: BELOW, justification: JUSTIFICATION });
    const first = ok(transition(r, approve(anna, { freshPolicy: BELOW }), at(1)));
    assert.equal(first.request.state, 'pending');
    assert.equal(
      ok(transition(first.request, approve(bert, { freshPolicy: BELOW }), at(2))).request.state,
      'executing',
    );
  });

  test('a policy that got worse refuses the confirmation unless the override path is taken', () => {
    const r = created();
    const worse = { meets: true, summary: { unpatched: 3 } };
    assert.deepEqual(refused(transition(r, approve(anna, { freshPolicy: worse, freshPolicyWorse: true }), at(1))), {
      code: 'policy_worsened',
      policyAtRequest: MET,
      freshPolicy: worse,
    });
    // A scope that met the policy and no longer does is worse, whatever the flag says.
    assert.equal(refused(transition(r, approve(anna, { freshPolicy: BELOW }), at(1))).code, 'policy_worsened');
    assert.equal(
      refused(transition(r, approve(anna, { freshPolicy: BELOW, freshPolicyWorse: true, override: true }), at(1))).code,
      'justification_required',
    );
  });

  test('the override needs two approvers, each confirming the worse facts', () => {
    const r = created();
    const worse = { freshPolicy: BELOW, freshPolicyWorse: true };
    const first = ok(transition(r, approve(anna, { ...worse, override: true, justification: JUSTIFICATION }), at(1)));
    assert.equal(first.request.state, 'pending');
    assert.equal(first.request.requiredApprovals, 2);
    assert.equal(first.request.approvals[0]!.override, true);
    assert.equal(first.request.history.at(-1)!.what, 'override_approved');
    assert.equal(refused(transition(first.request, approve(bert, worse), at(2))).code, 'policy_worsened');
    const second = ok(transition(first.request, approve(bert, { ...worse, override: true }), at(2)));
    assert.equal(second.request.state, 'executing');
  });

  test('an override flag without a worse policy is an ordinary approval', () => {
    const { request } = ok(transition(created(), approve(anna, { override: true }), at(1)));
    assert.equal(request.state, 'executing');
    assert.equal(request.approvals[0]!.override, false);
    assert.equal(request.requiredApprovals, 1);
  });

  test('a second approver arriving after the decision is told politely', () => {
    assert.deepEqual(refused(transition(executing(), approve(bert), at(2))), {
      code: 'already_decided',
      state: 'executing',
    });
  });

  test('blocks are not approved', () => {
    const block = created({ kind: 'block' });
    assert.deepEqual(refused(transition(block, approve(anna), at(1))), { code: 'wrong_kind', kind: 'block' });
    assert.deepEqual(refused(transition(block, { type: 'reject', actor: anna }, at(1))), {
      code: 'wrong_kind',
      kind: 'block',
    });
  });
});

describe('rejecting and cancelling', () => {
  test('an approver rejects, with or without a reason', () => {
    const { request, effects } = ok(transition(created(), { type: 'reject', actor: anna, reason: ' zu früh ' }, at(1)));
    assert.equal(request.state, 'rejected');
    assert.ok(request.state === 'rejected');
    assert.deepEqual(request.rejection, { by: { id: 'anna', name: 'Name anna' }, at: at(1), reason: 'zu früh' });
    assert.deepEqual(effects, [{ type: 'notify', requestId: 'req-1', topic: 'rejected' }]);
    assert.deepEqual(refused(transition(request, approve(bert), at(2))), {
      code: 'already_decided',
      state: 'rejected',
    });
    assert.deepEqual(refused(transition(created(), { type: 'reject', actor: anna, reason: 'x'.repeat(501) }, at(1))), {
      code: 'too_long',
      field: 'rejection_reason',
      max: 500,
    });
  });

  test('one rejection ends a request that already has one of two approvals', () => {
    const first = ok(transition(created({ policy: BELOW, justification: JUSTIFICATION }), approve(anna), at(1)));
    assert.equal(ok(transition(first.request, { type: 'reject', actor: bert }, at(2))).request.state, 'rejected');
  });

  test('only the requester cancels, and only while open', () => {
    const r = created();
    assert.deepEqual(refused(transition(r, { type: 'cancel', actor: otto }, at(1))), { code: 'not_requester' });
    assert.deepEqual(refused(transition(r, { type: 'cancel', actor: { ...olga, tenantId: 'x' } }, at(1))), {
      code: 'wrong_tenant',
    });
    const { request, effects } = ok(transition(r, { type: 'cancel', actor: olga }, at(1)));
    assert.ok(request.state === 'cancelled');
    assert.deepEqual(request.cancellation, { by: { id: 'olga', name: 'Name olga' }, at: at(1) });
    assert.deepEqual(effects, [{ type: 'notify', requestId: 'req-1', topic: 'cancelled' }]);
    assert.deepEqual(refused(transition(executing(), { type: 'cancel', actor: olga }, at(2))), {
      code: 'already_decided',
      state: 'executing',
    });
  });

  test('a requester who lost the operator role can still withdraw', () => {
    const withdrawn = ok(transition(created(), { type: 'cancel', actor: { ...olga, roles: ['viewer'] } }, at(1)));
    assert.equal(withdrawn.request.state, 'cancelled');
  });
});

describe('expiry', () => {
  test('at expiresAt an open request refuses every decision and the caller records the expiry', () => {
    const r = created();
    const late = at(240);
    for (const event of [approve(anna), { type: 'reject', actor: anna }, { type: 'cancel', actor: olga }] as const) {
      assert.deepEqual(refused(transition(r, event, late)), { code: 'expired', expiresAt: at(240) });
    }
    assert.deepEqual(refused(transition(r, { type: 'expire' }, at(239))), { code: 'not_expired', expiresAt: at(240) });
    const { request, effects } = ok(transition(r, { type: 'expire' }, late));
    assert.ok(request.state === 'expired');
    assert.equal(request.expiredAt, late);
    assert.deepEqual(effects, [{ type: 'notify', requestId: 'req-1', topic: 'expired' }]);
    assert.deepEqual(refused(transition(request, approve(anna), late)), { code: 'already_decided', state: 'expired' });
    assert.deepEqual(refused(transition(request, { type: 'expire' }, late)), {
      code: 'already_decided',
      state: 'expired',
    });
  });

  test('a request already executing does not expire', () => {
    assert.deepEqual(refused(transition(executing(), { type: 'expire' }, at(10_000))), {
      code: 'already_decided',
      state: 'executing',
    });
  });

  test('an expired block cannot be confirmed', () => {
    const block = created({ kind: 'block' });
    assert.equal(refused(transition(block, { type: 'confirm_block', actor: olga }, at(240))).code, 'expired');
    assert.equal(ok(transition(block, { type: 'expire' }, at(240))).request.state, 'expired');
  });
});

describe('blocking', () => {
  test('one confirmation click by an operator executes the block', () => {
    const block = created({ kind: 'block', direction: 'both', reason: 'Spam-Spitze' });
    assert.deepEqual(refused(transition(block, { type: 'confirm_block', actor: vera }, at(1))), {
      code: 'not_operator',
    });
    assert.deepEqual(refused(transition(block, { type: 'confirm_block', actor: anna }, at(1))), {
      code: 'not_operator',
    });
    const own = ok(transition(block, { type: 'confirm_block', actor: olga }, at(1)));
    assert.equal(own.request.state, 'executing');
    assert.deepEqual(own.request.confirmation, { by: { id: 'olga', name: 'Name olga' }, at: at(1) });
    assert.deepEqual(executeItems(own.effects)[0], {
      domain: 'olpe.de',
      key: 'req-1:olpe.de:apply',
      change: { inbound: 'blocked', outbound: 'blocked', reason: 'Spam-Spitze', actor: 'Name olga' },
    });
    const other = ok(transition(block, { type: 'confirm_block', actor: otto }, at(1)));
    assert.equal(executeItems(other.effects)[0]!.change.actor, 'Name olga, Name otto');
    assert.deepEqual(refused(transition(own.request, { type: 'confirm_block', actor: otto }, at(2))), {
      code: 'already_decided',
      state: 'executing',
    });
  });

  test('a release is not confirmed as a block', () => {
    assert.deepEqual(refused(transition(created(), { type: 'confirm_block', actor: olga }, at(1))), {
      code: 'wrong_kind',
      kind: 'release',
    });
  });

  test('the requester can cancel an unconfirmed block', () => {
    const block = created({ kind: 'block' });
    assert.equal(ok(transition(block, { type: 'cancel', actor: olga }, at(1))).request.state, 'cancelled');
  });
});

describe('execution', () => {
  test('all domains succeeded: executed', () => {
    const one = ok(transition(executing(), { type: 'domain_succeeded', domain: 'olpe.de' }, at(2)));
    assert.equal(one.request.state, 'executing');
    assert.deepEqual(one.effects, [{ type: 'notify', requestId: 'req-1', topic: 'domain_settled' }]);
    const two = ok(transition(one.request, { type: 'domain_succeeded', domain: 'attendorn.de' }, at(3)));
    assert.ok(two.request.state === 'executed');
    assert.equal(two.request.execution.finishedAt, at(3));
    assert.deepEqual(two.effects, [{ type: 'notify', requestId: 'req-1', topic: 'executed' }]);
    assert.ok(isTerminal(two.request.state));
    assert.deepEqual(two.request.history.map((h) => [h.what, h.domain]).slice(-3), [
      ['domain_succeeded', 'olpe.de'],
      ['domain_succeeded', 'attendorn.de'],
      ['executed', null],
    ]);
  });

  test('outcomes are recorded once per domain and only for known domains while executing', () => {
    const one = ok(transition(executing(), { type: 'domain_succeeded', domain: 'olpe.de' }, at(2)));
    assert.deepEqual(refused(transition(one.request, { type: 'domain_succeeded', domain: 'olpe.de' }, at(3))), {
      code: 'domain_already_settled',
      domain: 'olpe.de',
      status: 'succeeded',
    });
    assert.deepEqual(
      refused(transition(one.request, { type: 'domain_failed', domain: 'olpe.de', error: 'x' }, at(3))),
      {
        code: 'domain_already_settled',
        domain: 'olpe.de',
        status: 'succeeded',
      },
    );
    assert.deepEqual(refused(transition(one.request, { type: 'domain_succeeded', domain: 'siegen.de' }, at(3))), {
      code: 'unknown_domain',
      domain: 'siegen.de',
    });
    assert.deepEqual(refused(transition(one.request, { type: 'domain_succeeded', domain: 'toString' }, at(3))), {
      code: 'unknown_domain',
      domain: 'toString',
    });
    assert.deepEqual(refused(transition(created(), { type: 'domain_succeeded', domain: 'olpe.de' }, at(3))), {
      code: 'not_executing',
      state: 'pending',
    });
  });

  test('a partial failure is retried for the failed domains only, with the same keys and body', () => {
    const start = ok(transition(created(), approve(anna), at(1)));
    const firstItems = executeItems(start.effects);
    const s1 = ok(transition(start.request, { type: 'domain_succeeded', domain: 'olpe.de' }, at(2)));
    const s2 = ok(transition(s1.request, { type: 'domain_failed', domain: 'attendorn.de', error: 'timeout' }, at(3)));
    assert.ok(s2.request.state === 'partially_failed');
    assert.deepEqual(s2.effects, [{ type: 'notify', requestId: 'req-1', topic: 'partially_failed' }]);
    assert.deepEqual(s2.request.execution.domains['attendorn.de']!.error, 'timeout');
    assert.equal(isTerminal(s2.request.state), false);

    assert.deepEqual(refused(transition(s2.request, retryBy(vera), at(4))), {
      code: 'not_operator',
    });
    assert.deepEqual(refused(transition(s2.request, { type: 'retry_failed', actor: otto }, at(4))), {
      code: 'policy_required',
    });
    const retry = ok(transition(s2.request, retryBy(otto), at(4)));
    assert.equal(retry.request.state, 'executing');
    assert.deepEqual(executeItems(retry.effects), [firstItems[1]]);
    assert.ok(retry.request.state === 'executing');
    assert.deepEqual(retry.request.execution.domains['attendorn.de'], {
      status: 'pending',
      key: idempotencyKeyFor('req-1', 'attendorn.de'),
      error: null,
      attempts: 2,
      settledAt: null,
    });
    assert.equal(retry.request.execution.domains['olpe.de']!.attempts, 1);

    const done = ok(transition(retry.request, { type: 'domain_succeeded', domain: 'attendorn.de' }, at(5)));
    assert.equal(done.request.state, 'executed');
    assert.deepEqual(refused(transition(done.request, retryBy(otto), at(6))), {
      code: 'nothing_to_retry',
      state: 'executed',
    });
  });

  test('when every domain fails the request is partially_failed and all are retried', () => {
    const start = executing();
    const f1 = ok(transition(start, { type: 'domain_failed', domain: 'olpe.de', error: 'e1' }, at(2)));
    const f2 = ok(transition(f1.request, { type: 'domain_failed', domain: 'attendorn.de', error: 'e2' }, at(3)));
    assert.equal(f2.request.state, 'partially_failed');
    const retry = ok(transition(f2.request, retryBy(olga), at(4)));
    assert.deepEqual(
      executeItems(retry.effects).map((i) => i.key),
      ['req-1:olpe.de:apply', 'req-1:attendorn.de:apply'],
    );
  });

  test('a retry skips and names the domains changed since they failed', () => {
    const start = executing();
    const f1 = ok(
      transition(start, { type: 'domain_failed', domain: 'olpe.de', error: 'e1', observedVersion: 3 }, at(2)),
    );
    const f2 = ok(transition(f1.request, { type: 'domain_failed', domain: 'attendorn.de', error: 'e2' }, at(3)));
    assert.ok(f2.request.state === 'partially_failed');
    assert.equal(f2.request.execution.domains['olpe.de']!.observedVersion, 3);
    const retry = ok(transition(f2.request, retryBy(olga, { changedSince: ['attendorn.de'] }), at(4)));
    assert.deepEqual(
      executeItems(retry.effects).map((i) => i.domain),
      ['olpe.de'],
    );
    assert.ok(retry.request.state === 'executing');
    assert.equal(retry.request.execution.domains['attendorn.de']!.status, 'skipped');
    // Everything changed since: nothing is sent, the request ends.
    const none = ok(transition(f2.request, retryBy(olga, { changedSince: ['olpe.de', 'attendorn.de'] }), at(4)));
    assert.equal(none.request.state, 'executed');
    assert.equal(none.effects.filter((e) => e.type === 'execute').length, 0);
  });

  test('below the policy or after the lifetime a retry needs four eyes again, with new keys', () => {
    const start = executing();
    const f1 = ok(transition(start, { type: 'domain_failed', domain: 'olpe.de', error: 'e1' }, at(2)));
    const failed = ok(transition(f1.request, { type: 'domain_succeeded', domain: 'attendorn.de' }, at(3))).request;
    const below = ok(transition(failed, retryBy(opApprover, { freshPolicy: BELOW }), at(4)));
    assert.equal(below.request.state, 'retry_pending');
    assert.equal(below.effects.filter((e) => e.type === 'execute').length, 0);
    // Neither the requester nor whoever asked for the retry approves it.
    assert.deepEqual(refused(transition(below.request, approve(opApprover), at(5))), { code: 'self_approval' });
    assert.deepEqual(refused(transition(below.request, approve(vera), at(5))), { code: 'not_approver' });
    const bertApproves = (justification: string | null) => ({
      ...approve(bert, { freshPolicy: BELOW }),
      justification,
    });
    assert.deepEqual(refused(transition(below.request, bertApproves(null), at(5))), {
      code: 'justification_required',
      min: JUSTIFICATION_MIN,
    });
    const one = ok(transition(below.request, bertApproves(JUSTIFICATION), at(5)));
    assert.equal(one.request.state, 'retry_pending');
    assert.deepEqual(refused(transition(one.request, approve(bert, { freshPolicy: BELOW }), at(6))), {
      code: 'already_approved_by_you',
    });
    const two = ok(
      transition(one.request, approve(carla, { freshPolicy: BELOW, justification: 'Zweite Sicht: vertretbar' }), at(6)),
    );
    assert.ok(two.request.state === 'executing');
    const items = executeItems(two.effects);
    assert.deepEqual(
      items.map((i) => i.key),
      [idempotencyKeyFor('req-1', 'olpe.de', 2)],
    );
    assert.match(items[0]!.change.actor, /paul/);
    assert.match(items[0]!.change.actor, /carla/);

    // Policy met but the request's lifetime (4 h) is over: still a new approval.
    const late = ok(transition(failed, retryBy(olga), at(241)));
    assert.equal(late.request.state, 'retry_pending');
  });

  test('the retry window ends a partially failed request; a rejected retry leaves it partially failed', () => {
    const start = executing();
    const failed = ok(transition(start, { type: 'domain_failed', domain: 'olpe.de', error: 'e1' }, at(2)));
    const done = ok(transition(failed.request, { type: 'domain_succeeded', domain: 'attendorn.de' }, at(3))).request;
    assert.ok(done.state === 'partially_failed');
    const until = done.execution.retryUntil!;
    // The retry window defaults to the request's lifetime, from the moment it settled.
    assert.equal(Date.parse(until), Date.parse(at(3)) + 4 * HOUR);
    assert.deepEqual(refused(transition(done, { type: 'expire' }, at(10))), { code: 'not_expired', expiresAt: until });
    const pending = ok(transition(done, retryBy(olga, { freshPolicy: BELOW }), at(10))).request;
    const rejected = ok(transition(pending, { type: 'reject', actor: anna, reason: 'erst patchen' }, at(11)));
    assert.equal(rejected.request.state, 'partially_failed');
    assert.deepEqual(refused(transition(done, retryBy(olga), at(3 + 240))), { code: 'retry_window_over', until });
    const expired = ok(transition(done, { type: 'expire' }, at(3 + 240)));
    assert.equal(expired.request.state, 'expired');
    assert.ok(expired.request.state === 'expired' && expired.request.execution !== null);
    assert.deepEqual(availableActions(expired.request, olga, at(250)), []);
  });

  test('a block supersedes a pending release; an executing one is not touched', () => {
    const block = { type: 'supersede', block: { requestId: 'blk-1', by: { id: 'otto', name: 'Otto' } } } as const;
    const superseded = ok(transition(created(), block, at(1)));
    assert.ok(superseded.request.state === 'superseded');
    assert.deepEqual(superseded.request.supersession, {
      requestId: 'blk-1',
      by: { id: 'otto', name: 'Otto' },
      at: at(1),
    });
    assert.deepEqual(superseded.effects, [{ type: 'notify', requestId: 'req-1', topic: 'superseded' }]);
    assert.equal(isTerminal('superseded'), true);
    assert.deepEqual(refused(transition(superseded.request, approve(anna), at(2))), {
      code: 'already_decided',
      state: 'superseded',
    });
    assert.deepEqual(refused(transition(executing(), block, at(2))), { code: 'already_decided', state: 'executing' });
  });

  test('a domain already in the requested state is recorded as such', () => {
    const one = ok(transition(executing(), { type: 'domain_succeeded', domain: 'olpe.de', unchanged: true }, at(2)));
    assert.ok(one.request.state === 'executing');
    assert.equal(one.request.execution.domains['olpe.de']!.unchanged, true);
  });

  test('resumeEffects re-issues exactly the unfinished intents', () => {
    const start = ok(transition(created(), approve(anna), at(1)));
    assert.deepEqual(resumeEffects(start.request), [start.effects[0]]);
    const one = ok(transition(start.request, { type: 'domain_succeeded', domain: 'olpe.de' }, at(2)));
    assert.deepEqual(resumeEffects(one.request), [
      { type: 'execute', requestId: 'req-1', items: [executeItems(start.effects)[1]] },
    ]);
    const done = ok(transition(one.request, { type: 'domain_failed', domain: 'attendorn.de', error: 'x' }, at(3)));
    assert.deepEqual(resumeEffects(done.request), []);
    assert.deepEqual(resumeEffects(created()), []);
  });

  test('idempotency keys derive from request id and domain only', () => {
    assert.equal(idempotencyKeyFor('req-1', 'olpe.de'), 'req-1:olpe.de:apply');
    assert.notEqual(idempotencyKeyFor('req-1', 'olpe.de'), idempotencyKeyFor('req-2', 'olpe.de'));
  });
});

describe('terminal states', () => {
  test('isTerminal', () => {
    const terminal: RequestState[] = ['executed', 'rejected', 'cancelled', 'expired'];
    const open: RequestState[] = ['pending', 'awaiting_confirmation', 'executing', 'partially_failed'];
    for (const s of terminal) assert.equal(isTerminal(s), true, s);
    for (const s of open) assert.equal(isTerminal(s), false, s);
  });
});

describe('availableActions', () => {
  test('who sees which buttons on a pending release', () => {
    const r = created();
    assert.deepEqual(availableActions(r, olga, at(1)), ['cancel']);
    assert.deepEqual(availableActions(r, anna, at(1)), ['approve', 'reject']);
    assert.deepEqual(availableActions(r, otto, at(1)), []);
    assert.deepEqual(availableActions(r, vera, at(1)), []);
    assert.deepEqual(availableActions(r, stranger, at(1)), []);
    assert.deepEqual(availableActions(created({ actor: opApprover }), opApprover, at(1)), ['cancel']);
    assert.deepEqual(availableActions(r, anna, at(240)), [], 'expired');
  });

  test('an approver who has approved sees no buttons while the second approval is open', () => {
    const first = ok(transition(created({ policy: BELOW, justification: JUSTIFICATION }), approve(anna), at(1)));
    assert.deepEqual(availableActions(first.request, anna, at(2)), []);
    assert.deepEqual(availableActions(first.request, carla, at(2)), ['approve', 'reject']);
  });

  test('blocks and failed executions', () => {
    const block = created({ kind: 'block' });
    assert.deepEqual(availableActions(block, olga, at(1)), ['confirm_block', 'cancel']);
    assert.deepEqual(availableActions(block, otto, at(1)), ['confirm_block']);
    assert.deepEqual(availableActions(block, anna, at(1)), []);
    const failed = ok(
      transition(
        ok(transition(ok(transition(created(), approve(anna), at(1))).request, fail('olpe.de'), at(2))).request,
        fail('attendorn.de'),
        at(3),
      ),
    ).request;
    assert.deepEqual(availableActions(failed, otto, at(4)), ['retry_failed']);
    assert.deepEqual(availableActions(failed, anna, at(4)), []);
    assert.deepEqual(availableActions(executing(), olga, at(4)), []);
  });
});

function fail(domain: string): ReleaseEvent {
  return { type: 'domain_failed', domain, error: 'gateway timeout' };
}
