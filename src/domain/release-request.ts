import type { DomainGroup } from './group-domains.ts';
import type { FlowState } from './model.ts';

// The release/block request workflow (docs/decisions/release-workflow.md): one union of states and
// one pure transition(request, event, now). Expected refusals (self-approval, expired, already
// decided, ...) are returned, never thrown; only programming errors (an unparsable `now`, a bad
// TTL) throw.
//
// Decisions taken here (the card and service layers build on them):
// - The "Approve" click only opens the confirmation view on the card and is no event; the
//   confirmed approval is the `approve` event. There is no separate `approved` state: the
//   approval that completes the required count moves the request straight to `executing` and
//   emits the `execute` effect. That transition is the outbox intent the store writes.
// - A justification may be given at request time or with any approval. Every approval of a
//   release that needs two approvers (below policy at request, or the override path) is refused
//   with `justification_required` while none is on record, so nobody approves an unexplained
//   release. The first justification given becomes `request.justification`.
// - Expiry: any event on an open (pending / awaiting_confirmation) request at or after
//   `expiresAt` is refused with `expired`; the caller then applies `{ type: 'expire' }` (or the
//   expiry sweep does). Requests already executing never expire: a change that started is
//   finished or recorded as failed.
// - Policy re-check: every confirmed approval carries the fresh policy. It is worse when the
//   policy module says so or when a scope that met the policy no longer does. A worse policy
//   refuses the approval with `policy_worsened` unless the approver took the override path;
//   an override raises the request to two approvers and needs a justification.
// - Retries are decisions too. A retry re-executes only the failed domains that nobody changed since
//   (the caller names the others in `changedSince`; they end `skipped`). Within the request's lifetime
//   and with the policy met it reuses the keys and the change body (a gateway may answer a reused
//   Idempotency-Key with a different body as a conflict). Below the policy, or after the lifetime, it
//   goes to `retry_pending` and needs a new approval round (four eyes again, not the requester nor
//   whoever asked for the retry); that round gets new keys and a body naming its deciders.
// - A partially failed request can be retried within its retry window (`retryWindowMs` from its last
//   settling); after it the `expire` event ends it (`expired`, its execution kept for the card).
// - A block supersedes: `supersede` ends a pending release (or one waiting for a retry approval) that
//   a confirmed block covers. It is a transition like any other, with its own notify topic.
// - A domain the gateway already shows as requested is settled `succeeded` with `unchanged`
//   ("bereits in Kraft"): nothing was sent for it.
// - Outcomes may arrive in batches (`domains_settled`): the executor writes a large request's outcomes
//   in a few groups, not one request write per domain (docs/decisions/state-wide-scale.md). A batch
//   settles the domains still pending and passes over the ones already settled (their first outcome
//   stands), so recording an outcome twice — a resumed run reading it back from the outbox — is harmless.

export type Role = 'viewer' | 'operator' | 'approver';
export interface Person {
  id: string;
  name: string;
}
// Identity comes from Teams (aadObjectId, tenant), roles from the roles file, never from card data.
export interface Actor extends Person {
  tenantId: string;
  roles: readonly Role[];
}

export type RequestKind = 'release' | 'block';
export type ReleaseDirection = 'inbound' | 'outbound' | 'both';
export interface RequestScope {
  id: string;
  name: string;
  domains: string[];
  // The domains by Kreis and town as the region list had them when the request was made (the card shows
  // every one of them); absent in requests stored before.
  groups?: DomainGroup[];
}
// The release policy's verdict (computed by release-policy.ts); `summary` is shown on the card as is.
export interface PolicyCheck {
  meets: boolean;
  summary: unknown;
}

export interface Approval {
  by: Person;
  at: string;
  // True only when the fresh policy was worse and the approver confirmed the override path.
  override: boolean;
  // The fresh policy the approver saw when confirming.
  policy: PolicyCheck;
  justification: string | null;
}
export interface Decision {
  by: Person;
  at: string;
}
export interface Rejection extends Decision {
  reason: string | null;
}

// skipped: a retry left it out because it was changed since it failed (another request, a block, a
// change on the gateway); `error` then says why.
export type DomainStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';
export interface DomainExecution {
  status: DomainStatus;
  key: string;
  error: string | null;
  // How many times this domain was handed out for execution (1 + retries).
  attempts: number;
  settledAt: string | null;
  // Succeeded without a change: the gateway already showed the requested state ("bereits in Kraft").
  unchanged?: boolean;
  // The gateway's version of the domain when it failed: a retry skips it when the version moved.
  observedVersion?: number | null;
}
// A retry that needs approval again: who asked, the fresh policy, and the round's approvals.
export interface RetryRound {
  by: Person;
  at: string;
  why: 'below_policy' | 'lifetime_over';
  policy: PolicyCheck | null;
  requiredApprovals: 1 | 2;
  approvals: Approval[];
  justification: string | null;
}
// The body of a gateway change; with `domain` and `idempotencyKey` it is a ports.ts DomainChange.
export interface GatewayChange {
  inbound?: FlowState;
  outbound?: FlowState;
  reason: string;
  actor: string;
}
export interface Execution {
  startedAt: string;
  finishedAt: string | null;
  // Fixed when execution starts so that every retry sends the identical body with the same key.
  change: GatewayChange;
  domains: Record<string, DomainExecution>;
  // Until when the failed domains may be retried (set when the request settles partially failed).
  retryUntil?: string | null;
  // 1 for the approved execution, +1 for every re-approved retry (new keys, new body).
  round?: number;
  // The approved retry round behind the current round's keys and body (round > 1).
  retry?: RetryRound | null;
  // A retry that waits for its approval round (state retry_pending).
  pendingRetry?: RetryRound | null;
}

export type HistoryWhat =
  | 'created'
  | 'approved'
  | 'override_approved'
  | 'rejected'
  | 'cancelled'
  | 'expired'
  | 'block_confirmed'
  | 'execution_started'
  | 'domain_succeeded'
  | 'domain_failed'
  | 'retry_started'
  | 'retry_approval_needed'
  | 'retry_approved'
  | 'retry_rejected'
  | 'domain_skipped'
  | 'superseded'
  | 'executed'
  | 'partially_failed';
export interface HistoryEntry {
  at: string;
  what: HistoryWhat;
  // null for system events (expiry, gateway outcomes).
  by: Person | null;
  domain: string | null;
  note: string | null;
}

interface RequestBase {
  id: string;
  tenantId: string;
  kind: RequestKind;
  scope: RequestScope;
  direction: ReleaseDirection;
  reason: string;
  justification: string | null;
  requester: Person;
  // Releases: 1, or 2 below policy / after an override. Blocks need no approval; always 1 there.
  requiredApprovals: 1 | 2;
  approvals: Approval[];
  // Blocks only: the operator's confirmation click.
  confirmation: Decision | null;
  createdAt: string;
  expiresAt: string;
  // null for blocks: blocking is the safe direction and is not checked against the policy.
  policyAtRequest: PolicyCheck | null;
  history: HistoryEntry[];
  // How long a partially failed request may be retried; absent on requests stored before it existed
  // (then the request's own lifetime).
  retryWindowMs?: number;
}

export type OpenState = 'pending' | 'awaiting_confirmation';
// retry_pending: partially failed, a retry asked for, waiting for its new approval round.
export type ExecutionState = 'executing' | 'executed' | 'partially_failed' | 'retry_pending';
export type RequestState = OpenState | ExecutionState | 'rejected' | 'cancelled' | 'expired' | 'superseded';

export interface OpenRequest extends RequestBase {
  state: OpenState;
  execution: null;
}
// partially_failed: every domain settled and at least one failed (possibly all); retryable.
export interface ExecutionRequest extends RequestBase {
  state: ExecutionState;
  execution: Execution;
}
export interface RejectedRequest extends RequestBase {
  state: 'rejected';
  execution: null;
  rejection: Rejection;
}
export interface CancelledRequest extends RequestBase {
  state: 'cancelled';
  execution: null;
  cancellation: Decision;
}
// An expired partially failed request keeps its execution: the card still shows what was done.
export interface ExpiredRequest extends RequestBase {
  state: 'expired';
  execution: Execution | null;
  expiredAt: string;
}
export interface Supersession {
  // The block that ended this request, who confirmed it, and when.
  requestId: string;
  by: Person;
  at: string;
}
export interface SupersededRequest extends RequestBase {
  state: 'superseded';
  execution: Execution | null;
  supersession: Supersession;
}
export type ReleaseRequest =
  | OpenRequest
  | ExecutionRequest
  | RejectedRequest
  | CancelledRequest
  | ExpiredRequest
  | SupersededRequest;

export type ReleaseEvent =
  | {
      type: 'approve';
      actor: Actor;
      freshPolicy: PolicyCheck;
      freshPolicyWorse: boolean;
      override: boolean;
      justification?: string | null;
      // Approving a retry round: the failed domains changed since they failed (skipped, not sent).
      changedSince?: readonly string[];
    }
  | { type: 'reject'; actor: Actor; reason?: string | null }
  | { type: 'cancel'; actor: Actor }
  | { type: 'confirm_block'; actor: Actor }
  | { type: 'expire' }
  | { type: 'supersede'; block: { requestId: string; by: Person } }
  | { type: 'domain_succeeded'; domain: string; unchanged?: boolean }
  | { type: 'domain_failed'; domain: string; error: string; observedVersion?: number | null }
  | { type: 'domains_settled'; outcomes: readonly DomainOutcome[] }
  | {
      type: 'retry_failed';
      actor: Actor;
      // Releases: the policy now (required); blocks: null.
      freshPolicy?: PolicyCheck | null;
      freshPolicyWorse?: boolean;
      changedSince?: readonly string[];
    };
export type Action = 'approve' | 'reject' | 'cancel' | 'confirm_block' | 'retry_failed';

/** One domain's gateway outcome: error null for success. */
export interface DomainOutcome {
  domain: string;
  error: string | null;
  unchanged?: boolean;
  observedVersion?: number | null;
}

export type TextField = 'reason' | 'justification' | 'rejection_reason';
export type Refusal =
  | { code: 'not_operator' }
  | { code: 'not_approver' }
  | { code: 'not_requester' }
  // Also for rejecting one's own request: the requester cancels instead.
  | { code: 'self_approval' }
  | { code: 'already_approved_by_you' }
  | { code: 'already_decided'; state: RequestState }
  | { code: 'wrong_kind'; kind: RequestKind }
  | { code: 'wrong_tenant' }
  | { code: 'expired'; expiresAt: string }
  | { code: 'retry_window_over'; until: string }
  | { code: 'not_expired'; expiresAt: string }
  | { code: 'justification_required'; min: number }
  | { code: 'policy_worsened'; policyAtRequest: PolicyCheck | null; freshPolicy: PolicyCheck }
  | { code: 'nothing_to_retry'; state: RequestState }
  | { code: 'not_executing'; state: RequestState }
  | { code: 'unknown_domain'; domain: string }
  | { code: 'domain_already_settled'; domain: string; status: DomainStatus }
  | { code: 'reason_required'; min: number }
  | { code: 'too_long'; field: TextField; max: number }
  | { code: 'no_domains' }
  | { code: 'policy_required' };
export type RefusalCode = Refusal['code'];

export interface ExecuteItem {
  domain: string;
  key: string;
  change: GatewayChange;
}
// Exactly one notify per accepted transition, so the card is updated in place for everybody.
export type NotifyTopic =
  | 'approval_recorded'
  | 'rejected'
  | 'cancelled'
  | 'expired'
  | 'execution_started'
  | 'retry_started'
  | 'retry_approval_needed'
  | 'retry_rejected'
  | 'superseded'
  | 'domain_settled'
  | 'executed'
  | 'partially_failed';
export type Effect =
  | { type: 'execute'; requestId: string; items: ExecuteItem[] }
  | { type: 'notify'; requestId: string; topic: NotifyTopic };

export type TransitionOutcome =
  | { ok: true; request: ReleaseRequest; effects: Effect[] }
  | { ok: false; refusal: Refusal };

export interface CreateRequestInput {
  // Chosen by the caller (the domain has no randomness); also the prefix of every idempotency key.
  id: string;
  actor: Actor;
  kind: RequestKind;
  scope: RequestScope;
  direction: ReleaseDirection;
  reason: string;
  justification?: string | null;
  // Required for releases; ignored for blocks.
  policy: PolicyCheck | null;
  ttlMs: number;
  // Default: ttlMs.
  retryWindowMs?: number;
}
export type CreateRequestResult = { ok: true; request: OpenRequest } | { ok: false; refusal: Refusal };

// The gateway accepts a change reason of 3..500 characters and an actor of at most 200
// (src/contracts/gateway.ts, domainChangeRequest); the request reason is sent as the change reason.
export const REASON_MIN = 3;
export const REASON_MAX = 500;
const GATEWAY_ACTOR_MAX = 200;
// Our own limits: "ok" or "dringend" is no written justification; a card text box is not an essay.
export const JUSTIFICATION_MIN = 10;
export const JUSTIFICATION_MAX = 2000;
const ERROR_MAX = 500;

export function requiredApprovalsFor(policyMeets: boolean): 1 | 2 {
  return policyMeets ? 1 : 2;
}

// partially_failed is not terminal: its failed domains can be retried (within the retry window).
export function isTerminal(state: RequestState): boolean {
  return (
    state === 'executed' ||
    state === 'rejected' ||
    state === 'cancelled' ||
    state === 'expired' ||
    state === 'superseded'
  );
}

// States in which a request still holds its domains: another change of them must wait.
export const HOLDING_STATES: readonly RequestState[] = [
  'pending',
  'awaiting_confirmation',
  'executing',
  'retry_pending',
];

// Derived from request id, domain and round only, so a retry or a resumed intent after a crash reuses it.
// A re-approved retry is a new decision with a new body, so it gets a new key (round 2, 3, ...).
export function idempotencyKeyFor(requestId: string, domain: string, round = 1): string {
  return round <= 1 ? `${requestId}:${domain}:apply` : `${requestId}:${domain}:apply:r${round}`;
}

// Open requests expire at expiresAt; partially failed ones (and retries waiting for approval) at the
// end of their retry window.
export function isExpired(request: ReleaseRequest, now: string): boolean {
  if (request.state === 'pending' || request.state === 'awaiting_confirmation') return isPast(request.expiresAt, now);
  const until = retryDeadline(request);
  return until !== null && isPast(until, now);
}

/** Until when the failed domains may be retried; null when the request is not partially failed. */
export function retryDeadline(request: ReleaseRequest): string | null {
  if (request.state !== 'partially_failed' && request.state !== 'retry_pending') return null;
  const e = request.execution;
  if (e.retryUntil) return e.retryUntil;
  return new Date(toMs(e.finishedAt ?? e.startedAt) + retryWindowOf(request)).toISOString();
}

/** When the store's sweep must look at the request again (its expiry column). */
export function dueAt(request: ReleaseRequest): string {
  return retryDeadline(request) ?? request.expiresAt;
}

export function createRequest(input: CreateRequestInput, now: string): CreateRequestResult {
  if (input.id.length === 0) throw new RangeError('request id must not be empty');
  if (!Number.isFinite(input.ttlMs) || input.ttlMs <= 0) throw new RangeError(`ttlMs must be positive: ${input.ttlMs}`);
  if (input.retryWindowMs !== undefined && (!Number.isFinite(input.retryWindowMs) || input.retryWindowMs <= 0)) {
    throw new RangeError(`retryWindowMs must be positive: ${input.retryWindowMs}`);
  }
  const createdMs = toMs(now);
  if (!hasRole(input.actor, 'operator')) return refuse({ code: 'not_operator' });
  const reason = input.reason.trim();
  if (reason.length < REASON_MIN) return refuse({ code: 'reason_required', min: REASON_MIN });
  if (reason.length > REASON_MAX) return refuse({ code: 'too_long', field: 'reason', max: REASON_MAX });
  const domains = [...new Set(input.scope.domains.map((d) => d.trim().toLowerCase()).filter((d) => d.length > 0))];
  if (domains.length === 0) return refuse({ code: 'no_domains' });
  const justification = checkJustification(input.justification);
  if (!justification.ok) return justification;
  const release = input.kind === 'release';
  if (release && input.policy === null) return refuse({ code: 'policy_required' });
  const policy = release ? input.policy : null;
  const request: OpenRequest = {
    id: input.id,
    tenantId: input.actor.tenantId,
    kind: input.kind,
    scope: {
      id: input.scope.id,
      name: input.scope.name,
      domains,
      ...(input.scope.groups ? { groups: input.scope.groups } : {}),
    },
    direction: input.direction,
    reason,
    justification: justification.text,
    requester: personOf(input.actor),
    requiredApprovals: policy === null ? 1 : requiredApprovalsFor(policy.meets),
    approvals: [],
    confirmation: null,
    createdAt: now,
    expiresAt: new Date(createdMs + input.ttlMs).toISOString(),
    policyAtRequest: policy,
    history: [entry(now, 'created', input.actor)],
    retryWindowMs: input.retryWindowMs ?? input.ttlMs,
    state: release ? 'pending' : 'awaiting_confirmation',
    execution: null,
  };
  return { ok: true, request };
}

export function transition(request: ReleaseRequest, event: ReleaseEvent, now: string): TransitionOutcome {
  toMs(now);
  switch (event.type) {
    case 'approve':
      return approve(request, event, now);
    case 'reject':
      return reject(request, event, now);
    case 'cancel':
      return cancel(request, event.actor, now);
    case 'confirm_block':
      return confirmBlock(request, event.actor, now);
    case 'expire':
      return expire(request, now);
    case 'supersede':
      return supersede(request, event, now);
    case 'domain_succeeded':
      return settleDomains(request, [{ domain: event.domain, error: null, unchanged: event.unchanged === true }], now);
    case 'domain_failed':
      return settleDomains(
        request,
        [{ domain: event.domain, error: event.error, observedVersion: event.observedVersion ?? null }],
        now,
      );
    case 'domains_settled':
      return settleDomains(request, event.outcomes, now);
    case 'retry_failed':
      return retryFailed(request, event, now);
  }
}

// The effects a recovering process must (re-)apply for this request: the intents of domains that
// were handed out but have no recorded outcome. Keys and bodies are the original ones.
export function resumeEffects(request: ReleaseRequest): Effect[] {
  if (request.state !== 'executing') return [];
  const items = itemsFor(request.execution, 'pending');
  return items.length === 0 ? [] : [{ type: 'execute', requestId: request.id, items }];
}

// The buttons this actor sees. transition() checks permissions again; this only keeps the card honest.
export function availableActions(request: ReleaseRequest, actor: Actor, now: string): Action[] {
  if (actor.tenantId !== request.tenantId) return [];
  const actions: Action[] = [];
  const isRequester = actor.id === request.requester.id;
  if (request.state === 'pending' && !isExpired(request, now)) {
    if (!isRequester && hasRole(actor, 'approver') && !hasApproved(request, actor)) actions.push('approve', 'reject');
    if (isRequester) actions.push('cancel');
  } else if (request.state === 'awaiting_confirmation' && !isExpired(request, now)) {
    if (hasRole(actor, 'operator')) actions.push('confirm_block');
    if (isRequester) actions.push('cancel');
  } else if (request.state === 'partially_failed' && !isExpired(request, now) && hasRole(actor, 'operator')) {
    actions.push('retry_failed');
  } else if (request.state === 'retry_pending' && !isExpired(request, now)) {
    const round = request.execution.pendingRetry;
    const mayDecide =
      round !== null &&
      round !== undefined &&
      hasRole(actor, 'approver') &&
      !isRequester &&
      actor.id !== round.by.id &&
      !round.approvals.some((a) => a.by.id === actor.id);
    if (mayDecide) actions.push('approve', 'reject');
  }
  return actions;
}

/**
 * Why this actor may not approve or reject the request now, or null: the checks that need no fresh
 * facts, so a click that cannot succeed is refused before any back-end call.
 */
export function decisionRefusal(request: ReleaseRequest, actor: Actor, now: string): Refusal | null {
  const r = refusalForDecider(request, actor, now);
  return r && !r.ok ? r.refusal : null;
}

// Who may approve or reject a request, and when: the same rules for both decisions (four eyes).
function refusalForDecider(r: ReleaseRequest, actor: Actor, now: string): TransitionOutcome | null {
  if (actor.tenantId !== r.tenantId) return refuse({ code: 'wrong_tenant' });
  if (r.kind !== 'release') return refuse({ code: 'wrong_kind', kind: r.kind });
  if (r.state === 'retry_pending') {
    const until = retryDeadline(r) ?? r.expiresAt;
    if (isPast(until, now)) return refuse({ code: 'retry_window_over', until });
    if (!hasRole(actor, 'approver')) return refuse({ code: 'not_approver' });
    // The one who asked for the retry is its requester: four eyes again.
    if (actor.id === r.requester.id || actor.id === r.execution.pendingRetry?.by.id) {
      return refuse({ code: 'self_approval' });
    }
    if (r.execution.pendingRetry?.approvals.some((a) => a.by.id === actor.id)) {
      return refuse({ code: 'already_approved_by_you' });
    }
    return null;
  }
  if (r.state !== 'pending') return refuse({ code: 'already_decided', state: r.state });
  if (isExpired(r, now)) return refuse({ code: 'expired', expiresAt: r.expiresAt });
  if (!hasRole(actor, 'approver')) return refuse({ code: 'not_approver' });
  if (actor.id === r.requester.id) return refuse({ code: 'self_approval' });
  if (hasApproved(r, actor)) return refuse({ code: 'already_approved_by_you' });
  return null;
}

function approve(r: ReleaseRequest, e: Extract<ReleaseEvent, { type: 'approve' }>, now: string): TransitionOutcome {
  const notDecider = refusalForDecider(r, e.actor, now);
  if (notDecider) return notDecider;
  if (r.state === 'retry_pending') return approveRetry(r, e, now);
  const worse = e.freshPolicyWorse || (r.policyAtRequest?.meets === true && !e.freshPolicy.meets);
  if (worse && !e.override) {
    return refuse({ code: 'policy_worsened', policyAtRequest: r.policyAtRequest, freshPolicy: e.freshPolicy });
  }
  const given = checkJustification(e.justification);
  if (!given.ok) return given;
  const requiredApprovals: 1 | 2 = worse || r.approvals.some((a) => a.override) ? 2 : r.requiredApprovals;
  const justification = r.justification ?? given.text;
  if (requiredApprovals === 2 && justification === null) {
    return refuse({ code: 'justification_required', min: JUSTIFICATION_MIN });
  }
  const approvals = [
    ...r.approvals,
    { by: personOf(e.actor), at: now, override: worse, policy: e.freshPolicy, justification: given.text },
  ];
  const base: RequestBase = {
    ...baseOf(r),
    requiredApprovals,
    justification,
    approvals,
    history: [...r.history, entry(now, worse ? 'override_approved' : 'approved', e.actor)],
  };
  if (approvals.length < requiredApprovals) {
    return accept({ ...base, state: 'pending', execution: null }, [notify(r.id, 'approval_recorded')]);
  }
  return startExecution(base, now);
}

function reject(r: ReleaseRequest, e: Extract<ReleaseEvent, { type: 'reject' }>, now: string): TransitionOutcome {
  const notDecider = refusalForDecider(r, e.actor, now);
  if (notDecider) return notDecider;
  const reason = e.reason?.trim() || null;
  if (reason !== null && reason.length > REASON_MAX) {
    return refuse({ code: 'too_long', field: 'rejection_reason', max: REASON_MAX });
  }
  if (r.state === 'retry_pending') {
    // A refused retry leaves the request as it was: partially failed, until its window ends.
    const next: ExecutionRequest = {
      ...baseOf(r),
      history: [...r.history, entry(now, 'retry_rejected', e.actor, null, reason)],
      state: 'partially_failed',
      execution: { ...r.execution, pendingRetry: null },
    };
    return accept(next, [notify(r.id, 'retry_rejected')]);
  }
  const next: RejectedRequest = {
    ...baseOf(r),
    history: [...r.history, entry(now, 'rejected', e.actor, null, reason)],
    state: 'rejected',
    execution: null,
    rejection: { by: personOf(e.actor), at: now, reason },
  };
  return accept(next, [notify(r.id, 'rejected')]);
}

function cancel(r: ReleaseRequest, actor: Actor, now: string): TransitionOutcome {
  if (actor.tenantId !== r.tenantId) return refuse({ code: 'wrong_tenant' });
  if (r.state !== 'pending' && r.state !== 'awaiting_confirmation') {
    return refuse({ code: 'already_decided', state: r.state });
  }
  if (isExpired(r, now)) return refuse({ code: 'expired', expiresAt: r.expiresAt });
  // No role check: withdrawing one's own request is always safe, even after losing the operator role.
  if (actor.id !== r.requester.id) return refuse({ code: 'not_requester' });
  const next: CancelledRequest = {
    ...baseOf(r),
    history: [...r.history, entry(now, 'cancelled', actor)],
    state: 'cancelled',
    execution: null,
    cancellation: { by: personOf(actor), at: now },
  };
  return accept(next, [notify(r.id, 'cancelled')]);
}

function confirmBlock(r: ReleaseRequest, actor: Actor, now: string): TransitionOutcome {
  if (actor.tenantId !== r.tenantId) return refuse({ code: 'wrong_tenant' });
  if (r.kind !== 'block') return refuse({ code: 'wrong_kind', kind: r.kind });
  if (r.state !== 'awaiting_confirmation') return refuse({ code: 'already_decided', state: r.state });
  if (isExpired(r, now)) return refuse({ code: 'expired', expiresAt: r.expiresAt });
  if (!hasRole(actor, 'operator')) return refuse({ code: 'not_operator' });
  return startExecution(
    {
      ...baseOf(r),
      confirmation: { by: personOf(actor), at: now },
      history: [...r.history, entry(now, 'block_confirmed', actor)],
    },
    now,
  );
}

function expire(r: ReleaseRequest, now: string): TransitionOutcome {
  const open = r.state === 'pending' || r.state === 'awaiting_confirmation';
  if (!open && r.state !== 'partially_failed' && r.state !== 'retry_pending') {
    return refuse({ code: 'already_decided', state: r.state });
  }
  if (!isExpired(r, now)) return refuse({ code: 'not_expired', expiresAt: dueAt(r) });
  const next: ExpiredRequest = {
    ...baseOf(r),
    history: [...r.history, entry(now, 'expired', null)],
    state: 'expired',
    execution: open ? null : r.execution,
    expiredAt: now,
  };
  return accept(next, [notify(r.id, 'expired')]);
}

function supersede(r: ReleaseRequest, e: Extract<ReleaseEvent, { type: 'supersede' }>, now: string): TransitionOutcome {
  if (r.kind !== 'release') return refuse({ code: 'wrong_kind', kind: r.kind });
  if (r.state !== 'pending' && r.state !== 'retry_pending') return refuse({ code: 'already_decided', state: r.state });
  const next: SupersededRequest = {
    ...baseOf(r),
    history: [...r.history, entry(now, 'superseded', e.block.by, null, e.block.requestId)],
    state: 'superseded',
    execution: r.state === 'retry_pending' ? r.execution : null,
    supersession: { requestId: e.block.requestId, by: personOf(e.block.by), at: now },
  };
  return accept(next, [notify(r.id, 'superseded')]);
}

// Settles the outcomes' domains that are still pending, in order (the first outcome of a domain wins);
// refused when none of them is pending. One copy of the domains however many outcomes: a batch of n
// costs O(request), not n times that.
function settleDomains(r: ReleaseRequest, outcomes: readonly DomainOutcome[], now: string): TransitionOutcome {
  if (r.state !== 'executing') return refuse({ code: 'not_executing', state: r.state });
  const unknown = outcomes.find((o) => !Object.hasOwn(r.execution.domains, o.domain));
  if (unknown) return refuse({ code: 'unknown_domain', domain: unknown.domain });
  const domains = { ...r.execution.domains };
  const history = [...r.history];
  for (const o of outcomes) {
    const current = domains[o.domain]!;
    if (current.status !== 'pending') continue;
    const error = o.error === null ? null : o.error.slice(0, ERROR_MAX);
    const settled: DomainExecution = {
      ...current,
      status: error === null ? 'succeeded' : 'failed',
      error,
      settledAt: now,
    };
    if (error === null && o.unchanged) settled.unchanged = true;
    if (error !== null && typeof o.observedVersion === 'number') settled.observedVersion = o.observedVersion;
    domains[o.domain] = settled;
    history.push(entry(now, error === null ? 'domain_succeeded' : 'domain_failed', null, o.domain, error));
  }
  if (history.length === r.history.length) {
    const first = r.execution.domains[outcomes[0]?.domain ?? ''];
    return first
      ? refuse({ code: 'domain_already_settled', domain: outcomes[0]!.domain, status: first.status })
      : refuse({ code: 'no_domains' });
  }
  if (Object.values(domains).some((d) => d.status === 'pending')) {
    const next: ExecutionRequest = {
      ...baseOf(r),
      history,
      state: 'executing',
      execution: { ...r.execution, domains },
    };
    return accept(next, [notify(r.id, 'domain_settled')]);
  }
  return finish(r, r.execution, domains, history, now);
}

// Every domain settled: executed, or partially failed with a retry window from now.
function finish(
  r: ReleaseRequest,
  execution: Execution,
  domains: Record<string, DomainExecution>,
  history: HistoryEntry[],
  now: string,
): TransitionOutcome {
  const failed = Object.values(domains).some((d) => d.status === 'failed');
  const state = failed ? 'partially_failed' : 'executed';
  const retryUntil = failed ? new Date(toMs(now) + retryWindowOf(r)).toISOString() : null;
  const next: ExecutionRequest = {
    ...baseOf(r),
    history: [...history, entry(now, state, null)],
    state,
    execution: { ...execution, domains, finishedAt: now, retryUntil },
  };
  return accept(next, [notify(r.id, state)]);
}

function retryFailed(
  r: ReleaseRequest,
  e: Extract<ReleaseEvent, { type: 'retry_failed' }>,
  now: string,
): TransitionOutcome {
  const { actor } = e;
  if (actor.tenantId !== r.tenantId) return refuse({ code: 'wrong_tenant' });
  if (r.state !== 'partially_failed') return refuse({ code: 'nothing_to_retry', state: r.state });
  if (!hasRole(actor, 'operator')) return refuse({ code: 'not_operator' });
  const until = retryDeadline(r);
  if (until !== null && isPast(until, now)) return refuse({ code: 'retry_window_over', until });
  if (r.kind === 'release') {
    const fresh = e.freshPolicy ?? null;
    if (fresh === null) return refuse({ code: 'policy_required' });
    const lifetimeOver = isPast(r.expiresAt, now);
    const below = !fresh.meets || e.freshPolicyWorse === true;
    if (below || lifetimeOver) {
      const round: RetryRound = {
        by: personOf(actor),
        at: now,
        why: below ? 'below_policy' : 'lifetime_over',
        policy: fresh,
        requiredApprovals: requiredApprovalsFor(!below),
        approvals: [],
        justification: null,
      };
      const next: ExecutionRequest = {
        ...baseOf(r),
        history: [...r.history, entry(now, 'retry_approval_needed', actor, null, round.why)],
        state: 'retry_pending',
        execution: { ...r.execution, pendingRetry: round },
      };
      return accept(next, [notify(r.id, 'retry_approval_needed')]);
    }
  }
  return startRetry(r, r.execution, entry(now, 'retry_started', actor), e.changedSince ?? [], false, now);
}

function approveRetry(
  r: ExecutionRequest,
  e: Extract<ReleaseEvent, { type: 'approve' }>,
  now: string,
): TransitionOutcome {
  const round = r.execution.pendingRetry;
  if (!round) return refuse({ code: 'nothing_to_retry', state: r.state });
  const given = checkJustification(e.justification);
  if (!given.ok) return given;
  const requiredApprovals: 1 | 2 = !e.freshPolicy.meets || e.freshPolicyWorse ? 2 : round.requiredApprovals;
  const justification = round.justification ?? given.text;
  if (requiredApprovals === 2 && justification === null) {
    return refuse({ code: 'justification_required', min: JUSTIFICATION_MIN });
  }
  const approval: Approval = {
    by: personOf(e.actor),
    at: now,
    override: false,
    policy: e.freshPolicy,
    justification: given.text,
  };
  const next: RetryRound = { ...round, requiredApprovals, justification, approvals: [...round.approvals, approval] };
  const approved = entry(now, 'retry_approved', e.actor, null, given.text);
  if (next.approvals.length < requiredApprovals) {
    const pending: ExecutionRequest = {
      ...baseOf(r),
      history: [...r.history, approved],
      state: 'retry_pending',
      execution: { ...r.execution, pendingRetry: next },
    };
    return accept(pending, [notify(r.id, 'approval_recorded')]);
  }
  const execution: Execution = { ...r.execution, retry: next, pendingRetry: null };
  return startRetry(r, execution, approved, e.changedSince ?? [], true, now);
}

// Hands the failed domains out again, except those changed since (skipped and named). A new round
// (after a new approval) gets new keys and a body naming the round's deciders.
function startRetry(
  r: ReleaseRequest,
  execution: Execution,
  started: HistoryEntry,
  changedSince: readonly string[],
  newRound: boolean,
  now: string,
): TransitionOutcome {
  const roundNo = (execution.round ?? 1) + (newRound ? 1 : 0);
  const skip = new Set(changedSince);
  const domains: Record<string, DomainExecution> = {};
  const history = [...r.history, started];
  for (const [domain, d] of Object.entries(execution.domains)) {
    if (d.status !== 'failed') {
      domains[domain] = d;
    } else if (skip.has(domain)) {
      domains[domain] = { ...d, status: 'skipped', error: 'changed_since', settledAt: now };
      history.push(entry(now, 'domain_skipped', null, domain, 'changed_since'));
    } else {
      const again: DomainExecution = {
        ...d,
        status: 'pending',
        error: null,
        attempts: d.attempts + 1,
        settledAt: null,
        key: newRound ? idempotencyKeyFor(r.id, domain, roundNo) : d.key,
      };
      // The version it failed at belongs to that failure; a new failure records its own.
      delete again.observedVersion;
      domains[domain] = again;
    }
  }
  const change = newRound ? changeFor(baseOf(r), execution.retry) : execution.change;
  const next: Execution = { ...execution, domains, change, round: roundNo, finishedAt: null, retryUntil: null };
  const items = itemsFor(next, 'pending');
  if (items.length === 0) return finish(r, next, domains, history, now);
  const request: ExecutionRequest = { ...baseOf(r), history, state: 'executing', execution: next };
  return accept(request, [{ type: 'execute', requestId: r.id, items }, notify(r.id, 'retry_started')]);
}

function startExecution(base: RequestBase, now: string): TransitionOutcome {
  const domains: Record<string, DomainExecution> = {};
  for (const domain of base.scope.domains) {
    domains[domain] = {
      status: 'pending',
      key: idempotencyKeyFor(base.id, domain),
      error: null,
      attempts: 1,
      settledAt: null,
    };
  }
  const execution: Execution = { startedAt: now, finishedAt: null, change: changeFor(base), domains };
  const next: ExecutionRequest = {
    ...base,
    history: [...base.history, entry(now, 'execution_started', null)],
    state: 'executing',
    execution,
  };
  return accept(next, [
    { type: 'execute', requestId: base.id, items: itemsFor(execution, 'pending') },
    notify(base.id, 'execution_started'),
  ]);
}

function changeFor(base: RequestBase, retry: RetryRound | null = null): GatewayChange {
  const flow: FlowState = base.kind === 'release' ? 'open' : 'blocked';
  const deciders = retry
    ? [retry.by, ...retry.approvals.map((a) => a.by)]
    : base.kind === 'release'
      ? base.approvals.map((a) => a.by)
      : base.confirmation
        ? [base.confirmation.by]
        : [];
  // Who asked and who approved, as the gateway's own audit shows it.
  const names = [...new Set([base.requester, ...deciders].map((p) => p.name || p.id))];
  return {
    ...(base.direction !== 'outbound' ? { inbound: flow } : {}),
    ...(base.direction !== 'inbound' ? { outbound: flow } : {}),
    reason: base.reason,
    actor: names.join(', ').slice(0, GATEWAY_ACTOR_MAX),
  };
}

function itemsFor(execution: Execution, status: DomainStatus): ExecuteItem[] {
  return Object.entries(execution.domains)
    .filter(([, d]) => d.status === status)
    .map(([domain, d]) => ({ domain, key: d.key, change: execution.change }));
}

// Copies exactly the fields every state shares, so state-specific fields never leak across states.
function baseOf(r: ReleaseRequest): RequestBase {
  return {
    id: r.id,
    tenantId: r.tenantId,
    kind: r.kind,
    scope: r.scope,
    direction: r.direction,
    reason: r.reason,
    justification: r.justification,
    requester: r.requester,
    requiredApprovals: r.requiredApprovals,
    approvals: r.approvals,
    confirmation: r.confirmation,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    policyAtRequest: r.policyAtRequest,
    history: r.history,
    ...(r.retryWindowMs !== undefined ? { retryWindowMs: r.retryWindowMs } : {}),
  };
}

function retryWindowOf(r: RequestBase): number {
  return r.retryWindowMs ?? Math.max(1, toMs(r.expiresAt) - toMs(r.createdAt));
}

function checkJustification(
  text: string | null | undefined,
): { ok: true; text: string | null } | { ok: false; refusal: Refusal } {
  const trimmed = text?.trim() ?? '';
  if (trimmed.length === 0) return { ok: true, text: null };
  if (trimmed.length < JUSTIFICATION_MIN) return refuse({ code: 'justification_required', min: JUSTIFICATION_MIN });
  if (trimmed.length > JUSTIFICATION_MAX) {
    return refuse({ code: 'too_long', field: 'justification', max: JUSTIFICATION_MAX });
  }
  return { ok: true, text: trimmed };
}

function hasRole(actor: Actor, role: Role): boolean {
  return actor.roles.includes(role);
}

function hasApproved(r: ReleaseRequest, actor: Actor): boolean {
  return r.approvals.some((a) => a.by.id === actor.id);
}

function personOf(actor: Person): Person {
  return { id: actor.id, name: actor.name };
}

function entry(
  at: string,
  what: HistoryWhat,
  by: Person | null,
  domain: string | null = null,
  note: string | null = null,
): HistoryEntry {
  return { at, what, by: by === null ? null : personOf(by), domain, note };
}

function notify(requestId: string, topic: NotifyTopic): Effect {
  return { type: 'notify', requestId, topic };
}

function accept(request: ReleaseRequest, effects: Effect[]): TransitionOutcome {
  return { ok: true, request, effects };
}

function refuse(refusal: Refusal): { ok: false; refusal: Refusal } {
  return { ok: false, refusal };
}

function isPast(deadline: string, now: string): boolean {
  return toMs(now) >= toMs(deadline);
}

function toMs(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO date-time: ${iso}`);
  return ms;
}
