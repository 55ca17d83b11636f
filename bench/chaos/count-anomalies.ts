// What must be zero after a chaos run (docs/decisions/exactly-once.md: "Nothing may be lost or done twice … each ends in
// exactly one recorded outcome"). Pure: it compares what the clients were told, what the store holds
// and what the gateway did, so it can be checked on its own.

export interface StoredRequestView {
  id: string;
  state: string;
  /** Per-domain execution status ('pending' | 'succeeded' | 'failed'), null before execution. */
  domains: Record<string, string> | null;
  /** Per-domain recorded error, where there is one. */
  errors?: Record<string, string | null>;
  /** Who decided the request (docs/decisions/release-workflow.md); absent: not checked. */
  decision?: DecisionView;
}

export interface DecisionView {
  kind: 'release' | 'block';
  requesterId: string;
  requiredApprovals: number;
  approvers: string[];
  confirmed: boolean;
  /** The latest re-approved retry round: its number, who asked, who approved, how many were needed. */
  retry: { round: number; by: string; required: number; approvers: string[] } | null;
  /** Retries without a new approval started after the request's lifetime (each is a violation). */
  lateRetries: number;
}

export interface GatewayChange {
  domain: string;
  idempotencyKey: string | null;
}

export interface AnomalyInput {
  /** Request ids the bot answered with a request card (the requester saw it created). */
  created: readonly string[];
  /** Request ids whose approval/confirmation the bot acknowledged with "wird ausgeführt" (or later). */
  acknowledged: readonly string[];
  requests: readonly StoredRequestView[];
  /** The gateway's domain.change audit entries (first applications only; replays are not audited). */
  changes: readonly GatewayChange[];
  /** Recorded error codes that only injected faults produce (see Anomalies.refusedAfterApplied). */
  refusalCodes?: readonly string[];
}

export interface Anomalies {
  /** Created, but not in the store. */
  lost: string[];
  /** Acknowledged as executing, but the store still has it undecided. */
  lostDecisions: string[];
  /** More than one gateway change for one request and domain. */
  duplicated: Array<{ requestId: string; domain: string; changes: number }>;
  /** Still executing after the settle time. */
  stuck: string[];
  /** The gateway applied a request's change, but the store records the domain as failed or never executed it. */
  misrecorded: Array<{ requestId: string; domain: string; recorded: string; error: string | null }>;
  /**
   * Applied, then recorded as failed because a retry of the change (same Idempotency-Key) was refused
   * with one of `refusalCodes` (the simulator injects faults before its idempotency replay, as a gateway
   * behind a rotated token would refuse). The executor reads the domain after a refusal and records it
   * done when the change is in effect, so this stays empty unless that read failed too. Not counted as an
   * anomaly; listed so that the number stays visible.
   */
  refusedAfterApplied: Array<{ requestId: string; domain: string; error: string }>;
  /**
   * A gateway change by the bot whose request was not validly decided: a release without enough distinct
   * approvers who are not the requester, a retry round without its own four eyes, a plain retry after the
   * request's lifetime, an unconfirmed block. Must stay 0.
   */
  changedWithoutDecision: Array<{ requestId: string; domain: string; why: string }>;
}

/** The request id in an idempotency key `${requestId}:${domain}:apply` (release-request.ts idempotencyKeyFor). */
export function requestIdOfKey(key: string | null): string | null {
  if (!key) return null;
  const i = key.indexOf(':');
  return i > 0 ? key.slice(0, i) : null;
}

/** The round in an idempotency key: `…:apply` is 1, `…:apply:r2` is 2 (a re-approved retry). */
export function roundOfKey(key: string | null): number {
  const m = key ? /:apply:r(\d+)$/.exec(key) : null;
  return m ? Number(m[1]) : 1;
}

/** Why this change had no valid decision behind it, or null. */
function invalidDecision(request: StoredRequestView | undefined, key: string | null): string | null {
  const d = request?.decision;
  if (!d) return request ? null : 'unknown request';
  if (d.kind === 'block') return d.confirmed ? null : 'unconfirmed block';
  const distinct = new Set(d.approvers);
  if (distinct.size !== d.approvers.length) return 'an approval counted twice';
  if (distinct.has(d.requesterId)) return 'self-approval';
  if (distinct.size < d.requiredApprovals) return 'too few approvals';
  if (d.lateRetries > 0) return 'a retry after the lifetime without a new approval';
  const round = roundOfKey(key);
  if (round > 1) {
    // Only the latest approved round is kept on the request; earlier ones were checked when they ran.
    if (!d.retry || d.retry.round < round) return 'a retry round nobody approved';
    if (d.retry.round === round) {
      const again = new Set(d.retry.approvers);
      if (again.size !== d.retry.approvers.length) return 'a retry approval counted twice';
      if (again.has(d.requesterId) || again.has(d.retry.by)) return 'self-approval of a retry';
      if (again.size < d.retry.required) return 'too few retry approvals';
    }
  }
  return null;
}

/** "UPSTREAM_CONFLICT" or "UPSTREAM_CONFLICT: gateway API answered 409 …" → "UPSTREAM_CONFLICT". */
function codeOf(error: string): string {
  return error.split(':')[0]!.trim();
}

export function countAnomalies(input: AnomalyInput): Anomalies {
  const byId = new Map(input.requests.map((r) => [r.id, r]));
  const lost = [...new Set(input.created)].filter((id) => !byId.has(id));
  const lostDecisions = [...new Set(input.acknowledged)].filter((id) => {
    const state = byId.get(id)?.state;
    return state === 'pending' || state === 'awaiting_confirmation';
  });
  const stuck = input.requests.filter((r) => r.state === 'executing').map((r) => r.id);

  const perDomain = new Map<string, { requestId: string; domain: string; changes: number }>();
  for (const c of input.changes) {
    const requestId = requestIdOfKey(c.idempotencyKey);
    if (!requestId) continue; // a change somebody else made (not the bot)
    const k = `${requestId}\n${c.domain}`;
    const entry = perDomain.get(k) ?? { requestId, domain: c.domain, changes: 0 };
    entry.changes++;
    perDomain.set(k, entry);
  }
  const duplicated = [...perDomain.values()].filter((e) => e.changes > 1);
  const changedWithoutDecision: Anomalies['changedWithoutDecision'] = [];
  for (const c of input.changes) {
    const requestId = requestIdOfKey(c.idempotencyKey);
    if (!requestId) continue;
    const why = invalidDecision(byId.get(requestId), c.idempotencyKey);
    if (why) changedWithoutDecision.push({ requestId, domain: c.domain, why });
  }
  const misrecorded: Anomalies['misrecorded'] = [];
  const refusedAfterApplied: Anomalies['refusedAfterApplied'] = [];
  const refusals = new Set(input.refusalCodes ?? []);
  for (const { requestId, domain } of perDomain.values()) {
    const request = byId.get(requestId);
    const recorded = request?.domains?.[domain] ?? 'missing';
    const error = request?.errors?.[domain] ?? null;
    // Pending is fine while executing (stuck counts that); otherwise the change must be recorded.
    if (recorded === 'succeeded' || (recorded === 'pending' && request?.state === 'executing')) continue;
    if (recorded === 'failed' && error !== null && refusals.has(codeOf(error))) {
      refusedAfterApplied.push({ requestId, domain, error });
    } else {
      misrecorded.push({ requestId, domain, recorded, error });
    }
  }
  return { lost, lostDecisions, duplicated, stuck, misrecorded, refusedAfterApplied, changedWithoutDecision };
}
