import type { Caller } from '../domain/caller.ts';
import { describeError } from '../domain/describe-error.ts';
import { isLagebotError } from '../domain/errors.ts';
import { groupDomains } from '../domain/group-domains.ts';
import type { Logger } from '../domain/logger.ts';
import { mergeRegionCompliance } from '../domain/merge-compliance.ts';
import type { RegionCompliance } from '../domain/model.ts';
import type { GatewayPort, InventoryPort } from '../domain/ports.ts';
import {
  choicesOf,
  domainMatcher,
  type RegionChoice,
  type RegionIndex,
  resolveScope,
  resolveScopeId,
  splitScopeAndRest,
} from '../domain/region-index.ts';
import { effectOf, type ReleaseEffect } from '../domain/release-effect.ts';
import {
  defaultReleasePolicy,
  evaluateReleasePolicy,
  isWorse,
  type PolicyEvaluation,
  type ReleasePolicy,
} from '../domain/release-policy.ts';
import {
  type Actor,
  availableActions,
  createRequest,
  type DomainOutcome,
  decisionRefusal,
  dueAt,
  type Effect,
  HOLDING_STATES,
  JUSTIFICATION_MIN,
  type Refusal,
  type ReleaseDirection,
  type ReleaseEvent,
  type ReleaseRequest,
  type RequestKind,
  type RequestScope,
  retryDeadline,
  transition,
} from '../domain/release-request.ts';
import { checkOverlap, sharedDomains } from '../domain/request-overlap.ts';
import { type RolesConfig, rolesFor } from '../domain/roles.ts';
import { type Scope, scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import type { AuditInput, OutboxInput, Store, StoredRequest } from '../domain/store-port.ts';
import { mostImportantUnpatched, unpatchedQuery } from './report-status.ts';

// Use cases of the release/block workflow: request, decide (approve/confirm/reject/cancel/confirm
// block/retry), and the views' facts. Execution lives in execute-release.ts. Every state change goes
// through the pure transition() and is written with optimistic concurrency, audit entries and
// outbox rows in one store transaction (docs/decisions/release-workflow.md, exactly-once.md).

/** What the policy check found, kept on the request and shown on its cards. */
export interface PolicySummary {
  evaluation: PolicyEvaluation;
  /** The compliance counts the evaluation was made from, to tell later whether the scope got worse. */
  region: RegionCompliance;
  unpatchedClients: number;
  unpatchedServers: number;
  /** The ten unpatched devices that matter most (servers, failed, longest unseen first). */
  devices: Array<{ hostname: string; kind: 'client' | 'server'; town: string; state: string }>;
  observedAt: string;
}

export type RequestOutcome =
  | { kind: 'created'; request: ReleaseRequest; version: number }
  | { kind: 'forbidden'; role: 'operator' | 'approver' }
  | { kind: 'scope_missing' }
  | { kind: 'scope_ambiguous'; input: string; candidates: RegionChoice[] }
  | { kind: 'scope_unknown'; input: string; suggestions: RegionChoice[] }
  | { kind: 'needs_reason'; scopeId: string; scopeName: string; direction: ReleaseDirection; requestKind: RequestKind }
  | { kind: 'refused'; refusal: Refusal }
  // The same request by the same person is still open: that one is the answer.
  | { kind: 'existing'; request: ReleaseRequest; version: number }
  // Another open request changes some of these domains in the same direction: one open change per domain.
  | { kind: 'conflict'; existing: ReleaseRequest; version: number; domains: string[] }
  | { kind: 'unavailable'; what: 'inventory' | 'gateway' | 'store' };

export type ActionVerb = 'approve' | 'reject' | 'cancel' | 'confirm_block' | 'retry_failed';

export type ActOutcome =
  | { kind: 'ok'; request: ReleaseRequest; version: number; effects: Effect[] }
  | { kind: 'refused'; refusal: Refusal; request: ReleaseRequest; version: number }
  | { kind: 'stale'; request: ReleaseRequest; version: number }
  | { kind: 'not_found' }
  | { kind: 'wrong_tenant' }
  | { kind: 'unavailable'; what: 'inventory' | 'gateway' | 'store' };

export interface ConfirmFacts {
  request: ReleaseRequest;
  version: number;
  fresh: PolicySummary;
  worse: boolean;
  /** What approving would change, from the gateway now. */
  effect: ReleaseEffect;
}

export interface ReleaseServiceDeps {
  store: Store;
  inventory: InventoryPort;
  gateway: GatewayPort;
  regions: () => Promise<RegionIndex>;
  roles: RolesConfig;
  now: () => Date;
  ttlMs: number;
  /** How long a partially failed request may be retried (REQUEST_RETRY_WINDOW); default ttlMs. */
  retryWindowMs?: number;
  /** This replica, as the holder of the lease that makes "one open change per domain" hold across replicas. */
  holder?: string;
  newId: () => string;
  logger: Logger;
  policy?: ReleasePolicy;
  /** Splits "eingehend Alle Clients gepatcht" into direction and reason (the chat parser's job). */
  parseDirectionAndReason: (rest: readonly string[]) => { direction: ReleaseDirection; reason: string | null };
  /** Called after every accepted transition: cards are updated, execution is started. */
  onTransition?: (request: ReleaseRequest, version: number, effects: Effect[]) => Promise<void> | void;
}

export interface StoredRequestData {
  request: ReleaseRequest;
}

export function releaseOf(stored: StoredRequest): ReleaseRequest {
  return (stored.data as StoredRequestData).request;
}

/** A request as stored now, with the version a card rendered from it carries. */
export async function readRequest(
  store: Pick<Store, 'getRequest'>,
  requestId: string,
): Promise<{ request: ReleaseRequest; version: number } | null> {
  const stored = await store.getRequest(requestId);
  return stored ? { request: releaseOf(stored), version: stored.version } : null;
}

export function actorOf(caller: Caller, roles: RolesConfig): Actor | null {
  if (!caller.aadObjectId || !caller.tenantId) return null;
  return {
    id: caller.aadObjectId,
    name: caller.name || caller.aadObjectId,
    tenantId: caller.tenantId,
    roles: rolesFor(roles, caller.aadObjectId),
  };
}

/** Outbox rows are per attempt (the store keeps the first outcome of a key); the gateway key is stable. */
export function outboxKey(idempotencyKey: string, attempt: number): string {
  return `${idempotencyKey}#${attempt}`;
}

export function outboxItemsFor(request: ReleaseRequest, effects: Effect[]): OutboxInput[] {
  const items: OutboxInput[] = [];
  for (const effect of effects) {
    if (effect.type !== 'execute') continue;
    for (const item of effect.items) {
      const attempt = request.state === 'executing' ? (request.execution.domains[item.domain]?.attempts ?? 1) : 1;
      items.push({
        key: outboxKey(item.key, attempt),
        domain: item.domain,
        change: { ...item.change, domain: item.domain, idempotencyKey: item.key },
      });
    }
  }
  return items;
}

function auditFor(
  request: ReleaseRequest,
  action: string,
  actor: string,
  at: string,
  details: unknown = {},
): AuditInput {
  return { at, actor, action, tenantId: request.tenantId, scopeId: request.scope.id, requestId: request.id, details };
}

// The audit entry of one event: who, the state it left, and what the event carries.
function eventAudit(
  next: ReleaseRequest,
  event: ReleaseEvent,
  actorId: string,
  actorName: string,
  at: string,
  details: unknown,
): AuditInput {
  return auditFor(next, `${next.kind}.${event.type}`, actorId, at, {
    by: actorName,
    state: next.state,
    ...(event.type === 'approve'
      ? {
          override: event.override,
          policyMeets: event.freshPolicy.meets,
          justification: event.justification?.trim() || null,
        }
      : {}),
    ...(event.type === 'supersede' ? { block: event.block.requestId, blockedBy: event.block.by.name } : {}),
    ...(event.type === 'domain_succeeded' && event.unchanged ? { unchanged: true } : {}),
    ...(event.type === 'retry_failed' && event.changedSince?.length ? { skipped: event.changedSince } : {}),
    ...(event.type === 'domain_succeeded' || event.type === 'domain_failed' ? { domain: event.domain } : {}),
    ...(event.type === 'domain_failed' ? { error: event.error } : {}),
    ...(details as Record<string, unknown>),
  });
}

// A batch of outcomes is audited as if each had been its own event: one `domain_succeeded` or
// `domain_failed` entry per domain the batch settled (read-audit-log and audit verify read them so).
// `details` is the Map of each domain's details that recordOutcomes passes through applySystemEvent.
function settledAudit(
  before: ReleaseRequest,
  next: ReleaseRequest,
  outcomes: readonly DomainOutcome[],
  actorId: string,
  actorName: string,
  at: string,
  details: unknown,
): AuditInput[] {
  const prior = 'execution' in before ? before.execution?.domains : undefined;
  const after = 'execution' in next ? next.execution?.domains : undefined;
  const perDomain = details instanceof Map ? (details as Map<string, Record<string, unknown>>) : new Map();
  const entries: AuditInput[] = [];
  const seen = new Set<string>();
  for (const o of outcomes) {
    if (seen.has(o.domain)) continue;
    seen.add(o.domain);
    const settled = after?.[o.domain];
    if (prior?.[o.domain]?.status !== 'pending' || !settled || settled.status === 'pending') continue;
    const succeeded = settled.status === 'succeeded';
    entries.push(
      auditFor(next, `${next.kind}.${succeeded ? 'domain_succeeded' : 'domain_failed'}`, actorId, at, {
        by: actorName,
        state: next.state,
        ...(succeeded && settled.unchanged ? { unchanged: true } : {}),
        domain: o.domain,
        ...(succeeded ? {} : { error: settled.error }),
        ...perDomain.get(o.domain),
      }),
    );
  }
  return entries;
}

// Creating requests is serialised per tenant (in this process by a queue, across replicas by a store
// lease), so that two requests for the same domain cannot both pass the overlap check.
const CREATE_LEASE_MS = 30_000;
const CREATE_LEASE_TRIES = 50;

export function createReleaseService(deps: ReleaseServiceDeps) {
  const policy = deps.policy ?? defaultReleasePolicy;
  const nowIso = () => deps.now().toISOString();
  const holder = deps.holder ?? 'lagebot';
  const createQueues = new Map<string, Promise<unknown>>();

  async function exclusively<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const before = createQueues.get(tenantId) ?? Promise.resolve();
    const mine = before.then(async () => {
      const lease = `request-create:${tenantId}`;
      let held = false;
      for (let i = 0; i < CREATE_LEASE_TRIES && !held; i++) {
        held = await deps.store.acquireLease(lease, holder, CREATE_LEASE_MS, nowIso());
        // Another replica is creating a request: its check and write take milliseconds.
        if (!held) await new Promise((resolve) => setTimeout(resolve, 20 + i * 10));
      }
      if (!held) throw new Error(`lease ${lease} is held by another replica`);
      try {
        return await work();
      } finally {
        await deps.store.releaseLease(lease, holder);
      }
    });
    const settled = mine.catch(() => {});
    createQueues.set(tenantId, settled);
    void settled.then(() => {
      if (createQueues.get(tenantId) === settled) createQueues.delete(tenantId);
    });
    return mine;
  }

  /** Every request of the tenant that may still hold domains (pending, executing, ...). */
  async function holdingRequests(tenantId: string): Promise<Array<{ request: ReleaseRequest; version: number }>> {
    const stored = await deps.store.listRequests({ tenantId, states: [...HOLDING_STATES], limit: 1000 });
    return stored.map((s) => ({ request: releaseOf(s), version: s.version }));
  }

  /** What the request would change, from the gateway's live state. */
  async function effect(request: ReleaseRequest, domains: readonly string[] = request.scope.domains) {
    const live = await deps.gateway.listDomains();
    return effectOf({ kind: request.kind, direction: request.direction, domains }, live);
  }

  /** An audit entry for a refused action: nothing changed, but somebody tried. */
  async function auditRefusal(
    request: ReleaseRequest | null,
    base: { action: string; actor: string; tenantId: string | null; scopeId: string | null },
    details: Record<string, unknown>,
  ): Promise<void> {
    try {
      await deps.store.appendAudit([
        request
          ? auditFor(request, base.action, base.actor, nowIso(), details)
          : {
              at: nowIso(),
              actor: base.actor,
              action: base.action,
              tenantId: base.tenantId,
              scopeId: base.scopeId,
              details,
            },
      ]);
    } catch (error) {
      deps.logger.warn('could not audit a refusal', { action: base.action, err: describeError(error) });
    }
  }

  // The domains a scope covers are the gateway's, as the region list assigns them to regions.
  async function scopeFor(ref: Scope): Promise<RequestScope> {
    const [index, gatewayDomains] = await Promise.all([deps.regions(), deps.gateway.listDomains()]);
    const inScope = domainMatcher(index, ref);
    const domains = gatewayDomains.filter((d) => inScope(d.domain)).map((d) => d.domain);
    return { id: scopeIdOf(ref), name: scopeNameOf(ref), domains, groups: groupDomains(index, domains) };
  }

  async function refFromId(scopeId: string): Promise<Scope | null> {
    return resolveScopeId(await deps.regions(), scopeId);
  }

  /** The policy against live inventory, never the status cache: a release decision needs fresh facts. */
  async function checkPolicy(ref: Scope): Promise<PolicySummary> {
    let region: RegionCompliance;
    let observedAt: string;
    if (ref.kind === 'all') {
      // "All" has no node of its own: it is the sum of the tree's roots.
      const roots = (await deps.regions()).roots;
      const parts = await Promise.all(roots.map((n) => deps.inventory.getCompliance(n.id)));
      region = mergeRegionCompliance(
        parts.map((p) => p.region),
        { regionId: scopeIdOf(ref), name: scopeNameOf(ref), kind: 'all' },
      );
      observedAt = parts[0]!.observedAt;
    } else {
      const report = await deps.inventory.getCompliance(ref.node.id);
      region = report.region;
      observedAt = report.observedAt;
    }
    const evaluation = evaluateReleasePolicy(region, policy);
    const devices = evaluation.meets ? [] : await unpatchedDevices(ref);
    const missing = (kind: 'client' | 'server') =>
      evaluation.shortfalls.filter((s) => s.kind === kind).reduce((n, s) => n + (s.total - s.installed), 0);
    return {
      evaluation,
      region,
      unpatchedClients: missing('client'),
      unpatchedServers: missing('server'),
      devices,
      observedAt,
    };
  }

  async function unpatchedDevices(ref: Scope): Promise<PolicySummary['devices']> {
    const [index, patches] = await Promise.all([deps.regions(), deps.inventory.listPatches()]);
    const regionId = ref.kind === 'all' ? undefined : ref.node.id;
    const pages = await Promise.all(patches.map((p) => deps.inventory.listPatchStates(unpatchedQuery(p.id, regionId))));
    return mostImportantUnpatched(pages, index).rows.map((r) => ({
      hostname: r.hostname,
      kind: r.kind,
      town: r.townName,
      state: r.state,
    }));
  }

  function unavailableFrom(error: unknown): { kind: 'unavailable'; what: 'inventory' | 'gateway' | 'store' } | null {
    if (!isLagebotError(error)) return null;
    if (error.code === 'STORE_UNAVAILABLE') return { kind: 'unavailable', what: 'store' };
    if (!error.code.startsWith('UPSTREAM')) return null;
    const service = String((error.details as { service?: unknown }).service ?? '');
    return { kind: 'unavailable', what: service.includes('gateway') ? 'gateway' : 'inventory' };
  }

  async function create(
    caller: Caller,
    input: {
      kind: RequestKind;
      scopeId: string;
      direction: ReleaseDirection;
      reason: string;
      justification?: string | null;
      /** Only these of the scope's domains (an alert's block names exactly the alert's domains). */
      domains?: readonly string[];
    },
  ): Promise<RequestOutcome> {
    const actor = actorOf(caller, deps.roles);
    if (!actor?.roles.includes('operator')) return { kind: 'forbidden', role: 'operator' };
    try {
      const ref = await refFromId(input.scopeId);
      if (!ref) return { kind: 'scope_unknown', input: input.scopeId, suggestions: [] };
      const full = await scopeFor(ref);
      const only = input.domains ? new Set(input.domains.map((d) => d.toLowerCase())) : null;
      const scope = only ? { ...full, domains: full.domains.filter((d) => only.has(d)) } : full;
      // Bad input is refused before any inventory read (the same checks run again on the real request).
      const dry = createRequest(
        { id: 'dry-run', actor, ...input, scope, policy: { meets: true, summary: null }, ttlMs: deps.ttlMs },
        nowIso(),
      );
      if (!dry.ok) return { kind: 'refused', refusal: dry.refusal };
      // Blocking is the safe direction and is not checked against the patch policy. The check reads the
      // inventory, so it runs before the tenant's requests queue up for the overlap check.
      const summary = input.kind === 'release' ? await checkPolicy(ref) : null;
      return await exclusively(actor.tenantId, () => createChecked(actor, scope, summary, input));
    } catch (error) {
      const unavailable = unavailableFrom(error);
      if (unavailable) return unavailable;
      throw error;
    }
  }

  async function createChecked(
    actor: Actor,
    scope: RequestScope,
    summary: PolicySummary | null,
    input: {
      kind: RequestKind;
      direction: ReleaseDirection;
      reason: string;
      justification?: string | null;
    },
  ): Promise<RequestOutcome> {
    const open = await holdingRequests(actor.tenantId);
    const verdict = checkOverlap(
      {
        kind: input.kind,
        scopeId: scope.id,
        direction: input.direction,
        domains: scope.domains,
        requesterId: actor.id,
      },
      open.map((o) => o.request),
    );
    if (verdict.kind !== 'free') {
      const existing = open.find((o) => o.request.id === verdict.existing.id)!;
      await auditRefusal(
        null,
        { action: `${input.kind}.refused`, actor: actor.id, tenantId: actor.tenantId, scopeId: scope.id },
        {
          by: actor.name,
          code: verdict.kind === 'duplicate' ? 'duplicate' : 'overlap',
          existing: existing.request.id,
          direction: input.direction,
          ...(verdict.kind === 'conflict' ? { domains: verdict.domains.length } : {}),
        },
      );
      return verdict.kind === 'duplicate'
        ? { kind: 'existing', request: existing.request, version: existing.version }
        : { kind: 'conflict', existing: existing.request, version: existing.version, domains: verdict.domains };
    }
    const id = deps.newId();
    const created = createRequest(
      {
        id,
        actor,
        kind: input.kind,
        scope,
        direction: input.direction,
        reason: input.reason,
        justification: input.justification ?? null,
        policy: summary ? { meets: summary.evaluation.meets, summary } : null,
        ttlMs: deps.ttlMs,
        retryWindowMs: deps.retryWindowMs ?? deps.ttlMs,
      },
      nowIso(),
    );
    if (!created.ok) return { kind: 'refused', refusal: created.refusal };
    const request = created.request;
    const stored = await deps.store.createRequest(
      {
        id: request.id,
        tenantId: request.tenantId,
        kind: request.kind,
        state: request.state,
        requesterId: request.requester.id,
        scopeId: request.scope.id,
        createdAt: request.createdAt,
        expiresAt: request.expiresAt,
        data: { request } satisfies StoredRequestData,
      },
      [
        auditFor(request, `${request.kind}.requested`, actor.id, request.createdAt, {
          by: actor.name,
          direction: request.direction,
          reason: request.reason,
          domains: request.scope.domains.length,
          policy: summary
            ? {
                meets: summary.evaluation.meets,
                unpatchedClients: summary.unpatchedClients,
                unpatchedServers: summary.unpatchedServers,
              }
            : null,
        }),
      ],
    );
    return { kind: 'created', request, version: stored.version };
  }

  return {
    checkPolicy,
    create,
    effect,
    regionIndexOf: () => deps.regions(),

    /** `freigabe Kreis Olpe eingehend Alle Clients gepatcht` → a request, or what is missing. */
    async requestFromWords(caller: Caller, kind: RequestKind, words: string[]): Promise<RequestOutcome> {
      const actor = actorOf(caller, deps.roles);
      if (!actor?.roles.includes('operator')) return { kind: 'forbidden', role: 'operator' };
      let index: RegionIndex;
      try {
        index = await deps.regions();
      } catch (error) {
        const unavailable = unavailableFrom(error);
        if (unavailable) return unavailable;
        throw error;
      }
      const { scopeText, rest } = splitScopeAndRest(index, words);
      // An empty scope would mean "everything": for a release or block that must be said explicitly.
      if (!scopeText.trim()) return { kind: 'scope_missing' };
      const resolved = resolveScope(index, scopeText);
      if (resolved.kind === 'ambiguous')
        return { kind: 'scope_ambiguous', input: scopeText, candidates: choicesOf(index, resolved.candidates) };
      if (resolved.kind === 'unknown')
        return { kind: 'scope_unknown', input: scopeText, suggestions: choicesOf(index, resolved.suggestions) };
      const { direction, reason } = deps.parseDirectionAndReason(rest);
      const scopeId = scopeIdOf(resolved);
      if (!reason) {
        return { kind: 'needs_reason', scopeId, scopeName: scopeNameOf(resolved), direction, requestKind: kind };
      }
      return create(caller, { kind, scopeId, direction, reason });
    },

    get: (requestId: string) => readRequest(deps.store, requestId),
    requestOf: releaseOf,

    /** Facts for the approver's confirmation view (the unconfirmed "Approve" click changes nothing). */
    async confirmFacts(caller: Caller, requestId: string): Promise<ConfirmFacts | ActOutcome> {
      const stored = await deps.store.getRequest(requestId);
      if (!stored) return { kind: 'not_found' };
      const request = releaseOf(stored);
      if (caller.tenantId !== request.tenantId) return { kind: 'wrong_tenant' };
      const actor = actorOf(caller, deps.roles);
      if (!actor) return { kind: 'wrong_tenant' };
      // Cheap refusals first: who may not decide is told before any back-end call.
      const early = decisionRefusal(request, actor, nowIso());
      if (early) {
        await auditRefusal(
          request,
          { action: `${request.kind}.refused`, actor: actor.id, tenantId: null, scopeId: null },
          { by: actor.name, verb: 'approve', code: early.code },
        );
        return { kind: 'refused', refusal: early, request, version: stored.version };
      }
      try {
        const ref = await refFromId(request.scope.id);
        const fresh = ref ? await checkPolicy(ref) : null;
        if (!fresh) return { kind: 'not_found' };
        const worse = gotWorse(request, fresh);
        // A dry run of the confirmed approval: a refusal that no input on the confirmation view can
        // fix (own request, wrong role, already decided, expired) is said now, not after "Bestätigen".
        const dry = transition(
          request,
          {
            type: 'approve',
            actor,
            freshPolicy: { meets: fresh.evaluation.meets, summary: fresh },
            freshPolicyWorse: worse,
            override: worse,
            justification: request.justification ?? 'x'.repeat(JUSTIFICATION_MIN),
          },
          nowIso(),
        );
        if (!dry.ok) return { kind: 'refused', refusal: dry.refusal, request, version: stored.version };
        const domains = request.state === 'retry_pending' ? failedDomains(request) : request.scope.domains;
        return { request, version: stored.version, fresh, worse, effect: await effect(request, domains) };
      } catch (error) {
        const unavailable = unavailableFrom(error);
        if (unavailable) return unavailable;
        throw error;
      }
    },

    /**
     * Applies a user's decision. `version` is the one the clicked card was rendered from: a newer
     * stored version means somebody else acted first, and the user gets the current card instead.
     */
    async act(
      caller: Caller,
      requestId: string,
      version: number,
      verb: ActionVerb,
      input: { override?: boolean; justification?: string | null; reason?: string | null } = {},
    ): Promise<ActOutcome> {
      try {
        const stored = await deps.store.getRequest(requestId);
        if (!stored) return { kind: 'not_found' };
        const request = releaseOf(stored);
        if (caller.tenantId !== request.tenantId) return { kind: 'wrong_tenant' };
        const actor = actorOf(caller, deps.roles);
        if (!actor) return { kind: 'wrong_tenant' };
        if (stored.version !== version) {
          await auditRefusal(
            request,
            { action: `${request.kind}.refused`, actor: actor.id, tenantId: null, scopeId: null },
            { by: actor.name, verb, code: 'stale', state: request.state },
          );
          return { kind: 'stale', request, version: stored.version };
        }
        // Cheap refusals: a click that cannot succeed is refused before any back-end call.
        const early =
          verb === 'approve'
            ? decisionRefusal(request, actor, nowIso())
            : verb === 'retry_failed'
              ? retryRefusal(request, actor)
              : null;
        if (early) return await refused(stored, request, actor, verb, early);
        let event: ReleaseEvent;
        switch (verb) {
          case 'approve': {
            // A block confirmed since the request was made has the last word: the release is over.
            const block = await overtakingBlock(request);
            if (block) return await supersedeBy(stored, block);
            const ref = await refFromId(request.scope.id);
            if (!ref) return { kind: 'not_found' };
            const fresh = await checkPolicy(ref);
            const worse = gotWorse(request, fresh);
            event = {
              type: 'approve',
              actor,
              freshPolicy: { meets: fresh.evaluation.meets, summary: fresh },
              freshPolicyWorse: worse,
              override: input.override === true,
              justification: input.justification ?? null,
              ...(request.state === 'retry_pending' ? { changedSince: await changedSince(request) } : {}),
            };
            break;
          }
          case 'reject':
            event = { type: 'reject', actor, reason: input.reason ?? null };
            break;
          case 'cancel':
            event = { type: 'cancel', actor };
            break;
          case 'confirm_block':
            event = { type: 'confirm_block', actor };
            break;
          case 'retry_failed': {
            let fresh: PolicySummary | null = null;
            if (request.kind === 'release') {
              const ref = await refFromId(request.scope.id);
              if (!ref) return { kind: 'not_found' };
              fresh = await checkPolicy(ref);
            }
            const skip = await changedSince(request);
            event = {
              type: 'retry_failed',
              actor,
              freshPolicy: fresh ? { meets: fresh.evaluation.meets, summary: fresh } : null,
              freshPolicyWorse: fresh ? gotWorse(request, fresh) : false,
              changedSince: skip,
            };
            break;
          }
        }
        const outcome = await apply(stored, event, actor.id, actor.name);
        if (outcome.kind === 'refused') await auditRefused(outcome.request, actor, verb, outcome.refusal);
        if (outcome.kind === 'ok' && verb === 'confirm_block') await supersedeCovered(outcome.request);
        return outcome;
      } catch (error) {
        const unavailable = unavailableFrom(error);
        if (unavailable) return unavailable;
        throw error;
      }
    },

    /**
     * Records gateway outcomes of one request in one write (docs/decisions/state-wide-scale.md): one
     * audit entry per domain it settles, as `domain_succeeded`/`domain_failed` with that domain's
     * `details`. Outcomes of domains already settled are passed over (their first outcome stands).
     */
    recordOutcomes(
      requestId: string,
      outcomes: ReadonlyArray<DomainOutcome & { details?: Record<string, unknown> }>,
    ): Promise<ActOutcome> {
      const details = new Map<string, Record<string, unknown>>();
      for (const o of outcomes) if (!details.has(o.domain)) details.set(o.domain, o.details ?? {});
      return this.applySystemEvent(
        requestId,
        { type: 'domains_settled', outcomes: outcomes.map(({ details: _, ...o }) => o) },
        details,
      );
    },

    /** System events (gateway outcomes, expiry): re-read and re-apply on a version conflict. */
    async applySystemEvent(requestId: string, event: ReleaseEvent, details: unknown = {}): Promise<ActOutcome> {
      for (let attempt = 0; attempt < 25; attempt++) {
        const stored = await deps.store.getRequest(requestId);
        if (!stored) return { kind: 'not_found' };
        const outcome = await apply(stored, event, 'lagebot', 'Lagebot', details);
        if (outcome.kind !== 'stale') return outcome;
      }
      throw new Error(`request ${requestId}: could not apply ${event.type} after 25 concurrent updates`);
    },

    async listOpen(tenantId: string | null) {
      const stored = await deps.store.listRequests({
        ...(tenantId ? { tenantId } : {}),
        states: ['pending', 'awaiting_confirmation', 'executing', 'partially_failed', 'retry_pending'],
        limit: 20,
      });
      return stored.map((s) => ({ request: releaseOf(s), version: s.version }));
    },

    /** Expires open requests whose time is up; returns how many. */
    async expireDue(): Promise<number> {
      const now = nowIso();
      // Partially failed requests are due at the end of their retry window (the store's expiry column).
      const due = await deps.store.listRequests({
        states: ['pending', 'awaiting_confirmation', 'partially_failed', 'retry_pending'],
        expiresBefore: now,
        limit: 100,
      });
      let n = 0;
      for (const s of due) {
        const outcome = await this.applySystemEvent(s.id, { type: 'expire' });
        if (outcome.kind === 'ok') n++;
      }
      return n;
    },

    actions(request: ReleaseRequest, caller: Caller) {
      const actor = actorOf(caller, deps.roles);
      return actor ? availableActions(request, actor, nowIso()) : [];
    },
  };

  function failedDomains(request: ReleaseRequest): string[] {
    const execution = 'execution' in request ? request.execution : null;
    if (!execution) return [];
    return Object.entries(execution.domains)
      .filter(([, d]) => d.status === 'failed')
      .map(([domain]) => domain);
  }

  // Who may ask for a retry, and when, without a back-end call.
  function retryRefusal(request: ReleaseRequest, actor: Actor): Refusal | null {
    if (request.state !== 'partially_failed') return { code: 'nothing_to_retry', state: request.state };
    if (!actor.roles.includes('operator')) return { code: 'not_operator' };
    const until = retryDeadline(request);
    if (until !== null && Date.parse(until) <= deps.now().getTime()) return { code: 'retry_window_over', until };
    return null;
  }

  async function refused(
    stored: StoredRequest,
    request: ReleaseRequest,
    actor: Actor,
    verb: ActionVerb,
    refusal: Refusal,
  ): Promise<ActOutcome> {
    await auditRefused(request, actor, verb, refusal);
    return { kind: 'refused', refusal, request, version: stored.version };
  }

  async function auditRefused(request: ReleaseRequest, actor: Actor, verb: ActionVerb, refusal: Refusal) {
    await auditRefusal(
      request,
      { action: `${request.kind}.refused`, actor: actor.id, tenantId: null, scopeId: null },
      { by: actor.name, verb, code: refusal.code, state: request.state },
    );
  }

  /**
   * The failed domains of a request that changed since they failed: another request that took them
   * over, a block, or a change on the gateway by someone else (the domain's version moved).
   */
  async function changedSince(request: ReleaseRequest): Promise<string[]> {
    const execution = 'execution' in request ? request.execution : null;
    if (!execution) return [];
    const failed = Object.entries(execution.domains).filter(([, d]) => d.status === 'failed');
    if (failed.length === 0) return [];
    const others = await deps.store.listRequests({
      tenantId: request.tenantId,
      states: ['executing', 'executed', 'partially_failed', 'retry_pending', 'expired'],
      limit: 1000,
    });
    const live = new Map((await deps.gateway.listDomains()).map((d) => [d.domain, d]));
    const changed: string[] = [];
    for (const [domain, d] of failed) {
      const since = d.settledAt ?? execution.startedAt;
      const byRequest = others.some((s) => {
        const other = releaseOf(s);
        if (other.id === request.id || !('execution' in other) || !other.execution) return false;
        if (other.execution.startedAt < since) return false;
        const theirs = other.execution.domains[domain];
        if (!theirs || theirs.status === 'failed' || theirs.status === 'skipped') return false;
        return sharedDomains(shapeOf(request), { direction: other.direction, domains: [domain] }).length > 0;
      });
      const state = live.get(domain);
      const byGateway =
        state !== undefined &&
        (typeof d.observedVersion === 'number'
          ? state.version !== d.observedVersion
          : state.changedAt !== null && state.changedAt > since);
      if (byRequest || byGateway) changed.push(domain);
    }
    return changed;
  }

  /**
   * A block confirmed after the request was made (or, waiting for a retry approval, after the retry was
   * asked for) that covers some of its domains, or null. Earlier blocks a retry skips domain by domain.
   */
  async function overtakingBlock(request: ReleaseRequest): Promise<ReleaseRequest | null> {
    if (request.kind !== 'release') return null;
    const since =
      request.state === 'retry_pending' ? (request.execution.pendingRetry?.at ?? request.createdAt) : request.createdAt;
    const blocks = await deps.store.listRequests({
      tenantId: request.tenantId,
      states: ['executing', 'executed', 'partially_failed'],
      limit: 1000,
    });
    for (const s of blocks) {
      const block = releaseOf(s);
      if (block.kind !== 'block' || !block.confirmation) continue;
      // Strictly later: on a frozen clock (a test, the demo at SIM_SPEED=0) a block confirmed before the
      // request was made carries the same instant, and it must not end a request it already preceded. A
      // block confirmed while the request existed has superseded it directly (supersedeCovered).
      if (block.confirmation.at <= since) continue;
      if (sharedDomains(shapeOf(request), shapeOf(block)).length > 0) return block;
    }
    return null;
  }

  async function supersedeBy(stored: StoredRequest, block: ReleaseRequest): Promise<ActOutcome> {
    const by = block.confirmation ?? { by: block.requester, at: block.createdAt };
    const outcome = await applyWithRetries(stored.id, { type: 'supersede', block: { requestId: block.id, by: by.by } });
    if (outcome.kind !== 'ok') return outcome;
    return {
      kind: 'refused',
      refusal: { code: 'already_decided', state: 'superseded' },
      request: outcome.request,
      version: outcome.version,
    };
  }

  /** After a block is confirmed: every pending release it covers is superseded, each card updated. */
  async function supersedeCovered(block: ReleaseRequest): Promise<void> {
    if (block.kind !== 'block' || !block.confirmation) return;
    const open = await deps.store.listRequests({
      tenantId: block.tenantId,
      states: ['pending', 'retry_pending'],
      limit: 1000,
    });
    for (const s of open) {
      const release = releaseOf(s);
      if (release.kind !== 'release') continue;
      if (sharedDomains(shapeOf(release), shapeOf(block)).length === 0) continue;
      await applyWithRetries(s.id, {
        type: 'supersede',
        block: { requestId: block.id, by: block.confirmation.by },
      });
    }
  }

  async function applyWithRetries(requestId: string, event: ReleaseEvent): Promise<ActOutcome> {
    for (let attempt = 0; attempt < 25; attempt++) {
      const stored = await deps.store.getRequest(requestId);
      if (!stored) return { kind: 'not_found' };
      const outcome = await apply(stored, event, 'lagebot', 'Lagebot');
      if (outcome.kind !== 'stale') return outcome;
    }
    throw new Error(`request ${requestId}: could not apply ${event.type} after 25 concurrent updates`);
  }

  function shapeOf(request: ReleaseRequest) {
    return { direction: request.direction, domains: request.scope.domains };
  }

  function gotWorse(request: ReleaseRequest, fresh: PolicySummary): boolean {
    const before = request.policyAtRequest?.summary as PolicySummary | undefined;
    if (!before) return false;
    return isWorse(before.region, fresh.region, policy) || (before.evaluation.meets && !fresh.evaluation.meets);
  }

  async function apply(
    stored: StoredRequest,
    event: ReleaseEvent,
    actorId: string,
    actorName: string,
    details: unknown = {},
  ): Promise<ActOutcome> {
    const request = releaseOf(stored);
    const at = nowIso();
    const result = transition(request, event, at);
    if (!result.ok) return { kind: 'refused', refusal: result.refusal, request, version: stored.version };
    const next = result.request;
    const outbox = outboxItemsFor(next, result.effects);
    const audit: AuditInput[] =
      event.type === 'domains_settled'
        ? settledAudit(request, next, event.outcomes, actorId, actorName, at, details)
        : [eventAudit(next, event, actorId, actorName, at, details)];
    for (const item of outbox) {
      audit.push(auditFor(next, 'gateway.intent', actorId, at, { domain: item.domain, key: item.key }));
    }
    const written = await deps.store.transitionRequest(
      stored.id,
      stored.version,
      {
        state: next.state,
        data: { request: next } satisfies StoredRequestData,
        updatedAt: at,
        expiresAt: dueAt(next),
      },
      audit,
      outbox,
    );
    if (!written.ok) {
      if (written.reason === 'not_found') return { kind: 'not_found' };
      const current = written.current ?? (await deps.store.getRequest(stored.id));
      if (!current) return { kind: 'not_found' };
      return { kind: 'stale', request: releaseOf(current), version: current.version };
    }
    try {
      await deps.onTransition?.(next, written.request.version, result.effects);
    } catch (error) {
      deps.logger.warn('after-transition hook failed', { requestId: next.id, err: describeError(error) });
    }
    return { kind: 'ok', request: next, version: written.request.version, effects: result.effects };
  }
}

export type ReleaseService = ReturnType<typeof createReleaseService>;
