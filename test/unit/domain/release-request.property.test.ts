import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type Action,
  type Actor,
  availableActions,
  createRequest,
  type Effect,
  type GatewayChange,
  idempotencyKeyFor,
  isTerminal,
  type ReleaseEvent,
  type ReleaseRequest,
  type Role,
  resumeEffects,
  transition,
} from '../../../src/domain/release-request.ts';

// Model-based test: random command sequences run against transition() and against a small
// independent model of the rules in docs/decisions/release-workflow.md. Every step compares the outcome (ok or the refusal
// code) and the resulting state with the model, and checks the safety invariants directly on the
// real requests, so a bug shared by model and implementation still trips an invariant.

const T0 = Date.parse('2024-02-12T08:00:00.000Z');
const TTL_MINUTES = 60;
const TENANT = 'tenant-swf';
const OTHER_TENANT = 'tenant-other';
const USERS = 6; // u0..u4 in the tenant, u5 in another tenant
const DOMAINS = ['a.de', 'b.de', 'c.de', 'd.de'];
const JUSTIFICATION = 'Notbetrieb Bürgerbüro, Restrisiko akzeptiert';

type JustificationChoice = 'none' | 'short' | 'valid';
type Command =
  | {
      t: 'create';
      user: number;
      roles: Role[];
      kind: 'release' | 'block';
      domains: string[];
      reason: 'ok' | 'blank' | 'long';
      justification: JustificationChoice;
      policy: 'meets' | 'below' | 'missing';
    }
  | {
      t: 'approve';
      req: number;
      user: number;
      roles: Role[];
      freshMeets: boolean;
      worse: boolean;
      override: boolean;
      justification: JustificationChoice;
    }
  | ActorCommand<'reject'>
  | ActorCommand<'cancel'>
  | ActorCommand<'confirm'>
  | ActorCommand<'retry'>
  | { t: 'expire'; req: number }
  | { t: 'restart'; req: number }
  // slot picks one of the request's own domains; the last slot is a domain outside the scope.
  | { t: 'succeed'; req: number; slot: number }
  | { t: 'fail'; req: number; slot: number };
type ActorCommand<T extends string> = { t: T; req: number; user: number; roles: Role[] };
type Step = { dt: number; cmd: Command };
// A command for an existing request, with the outcome's domain resolved against the request's scope.
type Resolved =
  | Exclude<Command, { t: 'create' | 'restart' | 'succeed' | 'fail' }>
  | { t: 'succeed'; req: number; domain: string }
  | { t: 'fail'; req: number; domain: string };

const roles = fc.constantFrom<Role[]>([], ['viewer'], ['operator'], ['approver'], ['operator', 'approver']);
// Deciders are mostly approvers, so that approvals actually happen.
const deciderRoles = fc.constantFrom<Role[]>(
  ['viewer'],
  ['operator'],
  ['approver'],
  ['approver'],
  ['approver'],
  ['operator', 'approver'],
);
// Mostly well-formed requests, so that sequences reach approvals and execution.
const creatorRoles = fc.constantFrom<Role[]>(['operator'], ['operator'], ['operator', 'approver'], ['viewer']);
const creator = fc.constantFrom(0, 1, 2, 3, 4, 0, 1, 2, 3, 4, USERS - 1);
const rarely = <T>(usual: T, ...odd: T[]) =>
  fc.oneof({ arbitrary: fc.constant(usual), weight: 6 }, fc.constantFrom(...odd));
const mostly = (b: boolean) => fc.constantFrom(b, b, b, !b);
const user = fc.nat({ max: USERS - 1 });
const req = fc.nat({ max: 3 });
const justification = fc.constantFrom<JustificationChoice>('none', 'short', 'valid', 'valid');
const actorCmd = <T extends 'reject' | 'cancel' | 'confirm' | 'retry'>(t: T) =>
  fc.record({ t: fc.constant(t), req, user, roles });
const outcome = <T extends 'succeed' | 'fail'>(t: T) => fc.record({ t: fc.constant(t), req, slot: fc.nat({ max: 8 }) });

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant('create' as const),
      user: creator,
      roles: creatorRoles,
      kind: fc.constantFrom('release' as const, 'release' as const, 'block' as const),
      domains: fc.array(fc.constantFrom(...DOMAINS, 'A.de', ' '), { minLength: 1, maxLength: 4 }),
      justification: rarely<JustificationChoice>('none', 'valid', 'valid', 'short'),
      reason: rarely<'ok' | 'blank' | 'long'>('ok', 'blank', 'long'),
      policy: fc.constantFrom<'meets' | 'below' | 'missing'>('meets', 'meets', 'below', 'below', 'missing'),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('approve' as const),
      req,
      user,
      roles: deciderRoles,
      freshMeets: mostly(true),
      worse: mostly(false),
      override: fc.boolean(),
      justification,
    }),
    weight: 6,
  },
  { arbitrary: actorCmd('reject'), weight: 1 },
  { arbitrary: actorCmd('cancel'), weight: 1 },
  { arbitrary: actorCmd('confirm'), weight: 2 },
  { arbitrary: actorCmd('retry'), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('expire' as const), req }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('restart' as const), req }), weight: 1 },
  { arbitrary: outcome('succeed'), weight: 4 },
  { arbitrary: outcome('fail'), weight: 3 },
);
// Random clock: mostly a few minutes forward, sometimes a jump past the TTL or a little backwards
// (another replica's clock).
const dt = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 8 }, fc.integer({ min: -3, max: 40 }));
const step: fc.Arbitrary<Step> = fc.record({ dt, cmd: command });

function actorOf(u: number, r: Role[]): Actor {
  return { id: `u${u}`, name: `User ${u}`, tenantId: u === USERS - 1 ? OTHER_TENANT : TENANT, roles: r };
}
function justificationText(j: JustificationChoice): string | undefined {
  return j === 'valid' ? JUSTIFICATION : j === 'short' ? 'kurz' : undefined;
}

// ---- the model ---------------------------------------------------------------------------------

type MState = ReleaseRequest['state'];
interface Model {
  id: string;
  tenant: string;
  kind: 'release' | 'block';
  requester: string;
  state: MState;
  required: 1 | 2;
  approvers: string[];
  anyOverride: boolean;
  justified: boolean;
  metAtRequest: boolean | null;
  expiresAtMs: number;
  domains: string[];
  status: Record<string, 'pending' | 'succeeded' | 'failed'>;
  attempts: Record<string, number>;
}
type Outcome = { code: 'ok'; next: Model } | { code: string };

const OPEN: MState[] = ['pending', 'awaiting_confirmation'];

function modelCreate(c: Extract<Command, { t: 'create' }>, id: string, nowMs: number): Outcome {
  if (!c.roles.includes('operator')) return { code: 'not_operator' };
  if (c.reason === 'blank') return { code: 'reason_required' };
  if (c.reason === 'long') return { code: 'too_long' };
  const domains = [...new Set(c.domains.map((d) => d.trim().toLowerCase()).filter((d) => d !== ''))];
  if (domains.length === 0) return { code: 'no_domains' };
  if (c.justification === 'short') return { code: 'justification_required' };
  if (c.kind === 'release' && c.policy === 'missing') return { code: 'policy_required' };
  const met = c.kind === 'release' ? c.policy === 'meets' : null;
  return {
    code: 'ok',
    next: {
      id,
      tenant: actorOf(c.user, c.roles).tenantId,
      kind: c.kind,
      requester: `u${c.user}`,
      state: c.kind === 'release' ? 'pending' : 'awaiting_confirmation',
      required: met === false ? 2 : 1,
      approvers: [],
      anyOverride: false,
      justified: c.justification === 'valid',
      metAtRequest: met,
      expiresAtMs: nowMs + TTL_MINUTES * 60_000,
      domains,
      status: {},
      attempts: {},
    },
  };
}

function startExecution(m: Model): Model {
  return {
    ...m,
    state: 'executing',
    status: Object.fromEntries(m.domains.map((d) => [d, 'pending'])),
    attempts: Object.fromEntries(m.domains.map((d) => [d, 1])),
  };
}

function modelStep(m: Model, c: Resolved, nowMs: number): Outcome {
  const expired = nowMs >= m.expiresAtMs;
  const actor = 'user' in c ? actorOf(c.user, c.roles) : null;
  if (actor && actor.tenantId !== m.tenant) return { code: 'wrong_tenant' };
  switch (c.t) {
    case 'approve':
    case 'reject': {
      if (m.kind !== 'release') return { code: 'wrong_kind' };
      if (m.state !== 'pending') return { code: 'already_decided' };
      if (expired) return { code: 'expired' };
      if (!c.roles.includes('approver')) return { code: 'not_approver' };
      if (actor!.id === m.requester) return { code: 'self_approval' };
      if (m.approvers.includes(actor!.id)) return { code: 'already_approved_by_you' };
      if (c.t === 'reject') return { code: 'ok', next: { ...m, state: 'rejected' } };
      const worse = c.worse || (m.metAtRequest === true && !c.freshMeets);
      if (worse && !c.override) return { code: 'policy_worsened' };
      if (c.justification === 'short') return { code: 'justification_required' };
      const required = worse || m.anyOverride ? 2 : m.required;
      const justified = m.justified || c.justification === 'valid';
      if (required === 2 && !justified) return { code: 'justification_required' };
      const next: Model = {
        ...m,
        required,
        justified,
        anyOverride: m.anyOverride || worse,
        approvers: [...m.approvers, actor!.id],
      };
      return { code: 'ok', next: next.approvers.length >= required ? startExecution(next) : next };
    }
    case 'cancel':
      if (!OPEN.includes(m.state)) return { code: 'already_decided' };
      if (expired) return { code: 'expired' };
      if (actor!.id !== m.requester) return { code: 'not_requester' };
      return { code: 'ok', next: { ...m, state: 'cancelled' } };
    case 'confirm':
      if (m.kind !== 'block') return { code: 'wrong_kind' };
      if (m.state !== 'awaiting_confirmation') return { code: 'already_decided' };
      if (expired) return { code: 'expired' };
      if (!c.roles.includes('operator')) return { code: 'not_operator' };
      return { code: 'ok', next: startExecution(m) };
    case 'expire':
      if (!OPEN.includes(m.state)) return { code: 'already_decided' };
      if (!expired) return { code: 'not_expired' };
      return { code: 'ok', next: { ...m, state: 'expired' } };
    case 'succeed':
    case 'fail': {
      if (m.state !== 'executing') return { code: 'not_executing' };
      if (!m.domains.includes(c.domain)) return { code: 'unknown_domain' };
      if (m.status[c.domain] !== 'pending') return { code: 'domain_already_settled' };
      const status = { ...m.status, [c.domain]: c.t === 'succeed' ? ('succeeded' as const) : ('failed' as const) };
      const all = Object.values(status);
      const state: MState = all.includes('pending')
        ? 'executing'
        : all.includes('failed')
          ? 'partially_failed'
          : 'executed';
      return { code: 'ok', next: { ...m, status, state } };
    }
    case 'retry': {
      if (m.state !== 'partially_failed') return { code: 'nothing_to_retry' };
      if (!c.roles.includes('operator')) return { code: 'not_operator' };
      const status = { ...m.status };
      const attempts = { ...m.attempts };
      for (const d of m.domains) {
        if (status[d] === 'failed') {
          status[d] = 'pending';
          attempts[d] = attempts[d]! + 1;
        }
      }
      return { code: 'ok', next: { ...m, state: 'executing', status, attempts } };
    }
  }
}

function eventFor(c: Resolved): ReleaseEvent {
  switch (c.t) {
    case 'approve':
      return {
        type: 'approve',
        actor: actorOf(c.user, c.roles),
        freshPolicy: { meets: c.freshMeets, summary: { fresh: true } },
        freshPolicyWorse: c.worse,
        override: c.override,
        justification: justificationText(c.justification),
      };
    case 'reject':
      return { type: 'reject', actor: actorOf(c.user, c.roles) };
    case 'cancel':
      return { type: 'cancel', actor: actorOf(c.user, c.roles) };
    case 'confirm':
      return { type: 'confirm_block', actor: actorOf(c.user, c.roles) };
    case 'retry':
      return { type: 'retry_failed', actor: actorOf(c.user, c.roles) };
    case 'expire':
      return { type: 'expire' };
    case 'succeed':
      return { type: 'domain_succeeded', domain: c.domain };
    case 'fail':
      return { type: 'domain_failed', domain: c.domain, error: 'gateway timeout' };
  }
}

// ---- invariants on the real requests -----------------------------------------------------------

interface World {
  requests: ReleaseRequest[];
  models: Model[];
  // Roles each accepted decider had when deciding, per request id.
  deciders: Map<string, Map<string, Role[]>>;
  // First key and change body handed out per request/domain.
  keys: Map<string, string>;
  changes: Map<string, GatewayChange>;
  successes: Map<string, number>;
}

const coverage = {
  startedRelease: 0,
  startedTwoApprovals: 0,
  startedOverride: 0,
  startedBlock: 0,
  executed: 0,
  retried: 0,
  partiallyFailed: 0,
  expired: 0,
  restartedWithWork: 0,
};

function checkMayExecute(r: ReleaseRequest, w: World): void {
  const deciders = w.deciders.get(r.id) ?? new Map<string, Role[]>();
  if (r.kind === 'block') {
    assert.ok(r.confirmation !== null, 'a block executes only after a confirmation');
    assert.ok(deciders.get(r.confirmation.by.id)?.includes('operator'), 'the block confirmer is an operator');
    return;
  }
  const ids = r.approvals.map((a) => a.by.id);
  assert.equal(new Set(ids).size, ids.length, 'no approval counted twice');
  assert.ok(!ids.includes(r.requester.id), 'never a self-approval');
  for (const id of ids) assert.ok(deciders.get(id)?.includes('approver'), `approver ${id} had the approver role`);
  const needsTwo = r.policyAtRequest?.meets === false || r.approvals.some((a) => a.override);
  assert.ok(ids.length >= (needsTwo ? 2 : 1), 'enough distinct non-requester approvals');
  assert.equal(r.requiredApprovals, needsTwo ? 2 : 1);
  if (needsTwo) assert.ok(r.justification !== null && r.justification.length >= 10, 'a written justification');
}

function checkExecuteEffects(r: ReleaseRequest, effects: Effect[], w: World): void {
  for (const e of effects) {
    assert.equal(e.requestId, r.id);
    if (e.type !== 'execute') continue;
    assert.equal(r.state, 'executing', 'execute effects only come with the executing state');
    checkMayExecute(r, w);
    assert.ok(e.items.length > 0);
    for (const item of e.items) {
      assert.ok(r.scope.domains.includes(item.domain), 'items stay inside the scope');
      assert.ok(r.execution!.domains[item.domain]!.status === 'pending', 'only pending domains are handed out');
      const k: string = `${r.id}|${item.domain}`;
      assert.equal(item.key, idempotencyKeyFor(r.id, item.domain));
      assert.equal(item.key, w.keys.get(k) ?? item.key, 'the key of a domain never changes');
      w.keys.set(k, item.key);
      assert.deepEqual(item.change, w.changes.get(r.id) ?? item.change, 'a reused key always carries the same body');
      w.changes.set(r.id, item.change);
    }
  }
}

function checkAgainstModel(r: ReleaseRequest, m: Model): void {
  assert.equal(r.state, m.state);
  assert.equal(r.requiredApprovals, m.required);
  assert.deepEqual(
    r.approvals.map((a) => a.by.id),
    m.approvers,
  );
  if (r.execution) {
    for (const d of m.domains) {
      assert.equal(r.execution.domains[d]!.status, m.status[d], `status of ${d}`);
      assert.equal(r.execution.domains[d]!.attempts, m.attempts[d], `attempts of ${d}`);
      assert.equal(r.execution.domains[d]!.key, idempotencyKeyFor(r.id, d));
    }
    assert.deepEqual(Object.keys(r.execution.domains).sort(), [...m.domains].sort());
  }
  const pending = m.state === 'executing' ? m.domains.filter((d) => m.status[d] === 'pending') : [];
  const resumed = resumeEffects(r);
  assert.deepEqual(
    resumed.flatMap((e) => (e.type === 'execute' ? e.items.map((i) => i.domain) : [])),
    pending,
    'a restart re-issues exactly the unfinished domains',
  );
}

const PROBES: Action[] = ['approve', 'reject', 'cancel', 'confirm_block', 'retry_failed'];
// A button is shown exactly when pressing it (with well-formed input and unchanged facts) is accepted.
function checkAvailableActions(r: ReleaseRequest, actor: Actor, now: string): void {
  const shown = availableActions(r, actor, now);
  for (const action of PROBES) {
    const event: ReleaseEvent =
      action === 'approve'
        ? {
            type: 'approve',
            actor,
            freshPolicy: r.policyAtRequest ?? { meets: true, summary: null },
            freshPolicyWorse: false,
            override: false,
            justification: JUSTIFICATION,
          }
        : { type: action, actor };
    assert.equal(shown.includes(action), transition(r, event, now).ok, `${action} shown <=> accepted`);
  }
}

function run(steps: Step[]): void {
  const w: World = {
    requests: [],
    models: [],
    deciders: new Map(),
    keys: new Map(),
    changes: new Map(),
    successes: new Map(),
  };
  let nowMs = T0;
  for (const { dt, cmd } of steps) {
    nowMs += dt * 60_000;
    const now = new Date(nowMs).toISOString();
    if (cmd.t === 'create') {
      const id = `req-${w.requests.length + 1}`;
      const actor = actorOf(cmd.user, cmd.roles);
      const result = createRequest(
        {
          id,
          actor,
          kind: cmd.kind,
          scope: { id: 'scope', name: 'Scope', domains: cmd.domains },
          direction: 'inbound',
          reason: cmd.reason === 'ok' ? 'Patch vollständig' : cmd.reason === 'blank' ? ' ' : 'x'.repeat(501),
          justification: justificationText(cmd.justification),
          policy: cmd.policy === 'missing' ? null : { meets: cmd.policy === 'meets', summary: null },
          ttlMs: TTL_MINUTES * 60_000,
        },
        now,
      );
      const expected = modelCreate(cmd, id, nowMs);
      assert.equal(result.ok ? 'ok' : result.refusal.code, expected.code, 'create outcome');
      if (result.ok && expected.code === 'ok' && 'next' in expected) {
        w.requests.push(result.request);
        w.models.push(expected.next);
        checkAgainstModel(result.request, expected.next);
      }
      continue;
    }
    if (w.requests.length === 0) continue;
    const i = cmd.req % w.requests.length;
    const before = w.requests[i]!;
    const model = w.models[i]!;
    if (cmd.t === 'restart') {
      // A recovering process re-applies the pending effects; they must be the original intents.
      const effects = resumeEffects(before);
      if (effects.length > 0) coverage.restartedWithWork++;
      checkExecuteEffects(before, effects, w);
      continue;
    }
    const resolved: Resolved =
      cmd.t === 'succeed' || cmd.t === 'fail'
        ? { t: cmd.t, req: cmd.req, domain: cmd.slot === 8 ? 'x.de' : model.domains[cmd.slot % model.domains.length]! }
        : cmd;
    if ('user' in cmd) checkAvailableActions(before, actorOf(cmd.user, cmd.roles), now);
    const snapshot = structuredClone(before);
    const result = transition(before, eventFor(resolved), now);
    const expected = modelStep(model, resolved, nowMs);
    assert.deepEqual(before, snapshot, 'transition never mutates its input');
    assert.equal(result.ok ? 'ok' : result.refusal.code, expected.code, `${cmd.t} on ${before.state}`);
    if (!result.ok || !('next' in expected)) continue;

    const after = result.request;
    assert.ok(!isTerminal(before.state), 'terminal states are absorbing');
    for (const k of ['id', 'tenantId', 'kind', 'requester', 'scope', 'createdAt', 'expiresAt'] as const) {
      assert.deepEqual(after[k], before[k], `${k} never changes`);
    }
    assert.deepEqual(after.history.slice(0, before.history.length), before.history, 'history is append-only');
    assert.ok(after.history.length > before.history.length);
    assert.equal(result.effects.filter((e) => e.type === 'notify').length, 1, 'one notify per transition');
    if (cmd.t === 'approve' || cmd.t === 'confirm') {
      const deciders = w.deciders.get(after.id) ?? new Map<string, Role[]>();
      deciders.set(`u${cmd.user}`, cmd.roles);
      w.deciders.set(after.id, deciders);
    }
    if (after.state === 'executing' || after.state === 'executed' || after.state === 'partially_failed') {
      checkMayExecute(after, w);
    }
    checkExecuteEffects(after, result.effects, w);
    if (resolved.t === 'succeed') {
      const k = `${after.id}|${resolved.domain}`;
      w.successes.set(k, (w.successes.get(k) ?? 0) + 1);
      assert.equal(w.successes.get(k), 1, 'a domain succeeds at most once');
    }
    if (before.execution && after.execution) {
      for (const [d, ex] of Object.entries(before.execution.domains)) {
        if (ex.status === 'succeeded') assert.equal(after.execution.domains[d]!.status, 'succeeded');
        assert.equal(after.execution.domains[d]!.key, ex.key);
      }
    }
    checkAgainstModel(after, expected.next);
    w.requests[i] = after;
    w.models[i] = expected.next;

    if (cmd.t === 'retry') coverage.retried++;
    if (after.state === 'partially_failed') coverage.partiallyFailed++;
    if (after.state === 'expired') coverage.expired++;
    if (after.state === 'executed') coverage.executed++;
    if (after.state === 'executing' && OPEN.includes(before.state)) {
      if (after.kind === 'block') coverage.startedBlock++;
      else {
        coverage.startedRelease++;
        if (after.approvals.length === 2) coverage.startedTwoApprovals++;
        if (after.approvals.some((a) => a.override)) coverage.startedOverride++;
      }
    }
  }
}

test('model-based: random command sequences keep the release rules', (t) => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
      run(steps);
    }),
    { numRuns: 600 },
  );
  // Guard against a vacuous property: the generators must actually reach the interesting paths.
  t.diagnostic(`paths reached: ${JSON.stringify(coverage)}`);
  for (const [path, count] of Object.entries(coverage)) assert.ok(count > 0, `no run reached ${path}`);
});
