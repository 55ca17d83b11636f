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
  type Effect,
  JUSTIFICATION_MIN,
  type Refusal,
  type ReleaseDirection,
  type ReleaseEvent,
  type ReleaseRequest,
  type RequestKind,
  type RequestScope,
  transition,
} from '../domain/release-request.ts';
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
}

export interface ReleaseServiceDeps {
  store: Store;
  inventory: InventoryPort;
  gateway: GatewayPort;
  regions: () => Promise<RegionIndex>;
  roles: RolesConfig;
  now: () => Date;
  ttlMs: number;
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

export function createReleaseService(deps: ReleaseServiceDeps) {
  const policy = deps.policy ?? defaultReleasePolicy;
  const nowIso = () => deps.now().toISOString();

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
    },
  ): Promise<RequestOutcome> {
    const actor = actorOf(caller, deps.roles);
    if (!actor?.roles.includes('operator')) return { kind: 'forbidden', role: 'operator' };
    try {
      const ref = await refFromId(input.scopeId);
      if (!ref) return { kind: 'scope_unknown', input: input.scopeId, suggestions: [] };
      const scope = await scopeFor(ref);
      // Blocking is the safe direction and is not checked against the patch policy.
      const summary = input.kind === 'release' ? await checkPolicy(ref) : null;
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
    } catch (error) {
      const unavailable = unavailableFrom(error);
      if (unavailable) return unavailable;
      throw error;
    }
  }

  return {
    checkPolicy,
    create,
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

    /** Facts for the approver's confirmation view (the unconfirmed "Approve" click changes nothing). */
    async confirmFacts(caller: Caller, requestId: string): Promise<ConfirmFacts | ActOutcome> {
      const stored = await deps.store.getRequest(requestId);
      if (!stored) return { kind: 'not_found' };
      const request = releaseOf(stored);
      if (caller.tenantId !== request.tenantId) return { kind: 'wrong_tenant' };
      try {
        const ref = await refFromId(request.scope.id);
        const fresh = ref ? await checkPolicy(ref) : null;
        if (!fresh) return { kind: 'not_found' };
        const worse = gotWorse(request, fresh);
        // A dry run of the confirmed approval: a refusal that no input on the confirmation view can
        // fix (own request, wrong role, already decided, expired) is said now, not after "Bestätigen".
        const actor = actorOf(caller, deps.roles);
        if (!actor) return { kind: 'wrong_tenant' };
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
        return { request, version: stored.version, fresh, worse };
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
        if (stored.version !== version) return { kind: 'stale', request, version: stored.version };
        let event: ReleaseEvent;
        switch (verb) {
          case 'approve': {
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
          case 'retry_failed':
            event = { type: 'retry_failed', actor };
            break;
        }
        return await apply(stored, event, actor.id, actor.name);
      } catch (error) {
        const unavailable = unavailableFrom(error);
        if (unavailable) return unavailable;
        throw error;
      }
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
        states: ['pending', 'awaiting_confirmation', 'executing', 'partially_failed'],
        limit: 20,
      });
      return stored.map((s) => ({ request: releaseOf(s), version: s.version }));
    },

    /** Expires open requests whose time is up; returns how many. */
    async expireDue(): Promise<number> {
      const now = nowIso();
      const due = await deps.store.listRequests({
        states: ['pending', 'awaiting_confirmation'],
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
    const audit: AuditInput[] = [
      auditFor(next, `${next.kind}.${event.type}`, actorId, at, {
        by: actorName,
        state: next.state,
        ...(event.type === 'approve' ? { override: event.override, policyMeets: event.freshPolicy.meets } : {}),
        ...(event.type === 'domain_succeeded' || event.type === 'domain_failed' ? { domain: event.domain } : {}),
        ...(event.type === 'domain_failed' ? { error: event.error } : {}),
        ...(details as Record<string, unknown>),
      }),
    ];
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
        expiresAt: next.expiresAt,
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
