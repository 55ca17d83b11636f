import { type ErrorCode, LagebotError } from '../../src/domain/errors.ts';
import type { Direction, DomainState, FlowState, HeldQueue, RegionNode, SpamSeries } from '../../src/domain/model.ts';
import type { DomainChange, DomainChangeResult, DomainSelector, GatewayPort } from '../../src/domain/ports.ts';

// A GatewayPort over domains held in memory, for any estate: per domain its flows, version, held
// queues and a spam rate per minute (with injectable waves). Idempotency keys, If-Match versions and
// the answers follow the gateway API (api/gateway.openapi.yaml) — the port contract suite checks that —
// and failures are the HTTP client's coded LagebotErrors. Faults are scripted per operation, including
// the lost answer: a change applied, then reported as a timeout.

export type GatewayOp = 'listDomains' | 'getDomain' | 'changeDomain' | 'listQueues' | 'getSpamMetrics' | 'ping';

export interface GatewayFault {
  code: Extract<ErrorCode, 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT' | 'UPSTREAM_REJECTED' | 'UPSTREAM_CONFLICT'>;
  /** How many calls fail; default every one until cleared. */
  count?: number;
  /** changeDomain only: apply the change, then fail (the answer is lost). */
  afterApplying?: boolean;
  /** Only calls about this domain. */
  domain?: string;
}

export interface GatewayChangeRecord {
  at: string;
  domain: string;
  idempotencyKey: string;
  inbound: FlowState;
  outbound: FlowState;
}

interface DomainRecord {
  state: DomainState;
  held: Record<Direction, { held: number; oldestAt: string | null }>;
}

const MINUTE = 60_000;
// The gateway answers at most 24 hours of spam metrics per request (api/gateway.openapi.yaml).
const MAX_SPAM_MINUTES = 24 * 60;

export class InMemoryGateway implements GatewayPort {
  readonly calls: GatewayOp[] = [];
  /** Every change that took effect, in order: what "exactly once" is checked against. */
  readonly changes: GatewayChangeRecord[] = [];
  private readonly domains = new Map<string, DomainRecord>();
  private readonly keys = new Map<string, { fingerprint: string; result: DomainChangeResult }>();
  // In the order they were scripted; a call meets the first one that matches it and is not used up.
  private readonly faults: Array<GatewayFault & { op: GatewayOp; left: number }> = [];
  private readonly waves: Array<{ domains: Set<string>; from: number; to: number; factor: number }> = [];
  private readonly spamPerMinute: number;

  constructor(
    regions: readonly RegionNode[],
    private readonly now: () => Date,
    options: { initial?: { inbound: FlowState; outbound: FlowState }; held?: number; spamPerMinute?: number } = {},
  ) {
    const byId = new Map(regions.map((n) => [n.id, n]));
    const initial = options.initial ?? { inbound: 'held', outbound: 'held' };
    this.spamPerMinute = options.spamPerMinute ?? 12;
    for (const node of regions) {
      const root = rootOf(byId, node);
      const isLeaf = !regions.some((n) => n.parentId === node.id);
      for (const domain of node.domains) {
        const held = options.held ?? 0;
        this.domains.set(domain.toLowerCase(), {
          state: {
            domain,
            // The wire contract's region fields, filled from the tree: the town, the region above it, the top.
            municipality: isLeaf ? node.id : null,
            kreis: isLeaf && node.parentId !== null ? node.parentId : node.id,
            verband: root.id,
            inbound: initial.inbound,
            outbound: initial.outbound,
            blockMode: 'hold',
            reason: null,
            changedBy: null,
            changedAt: null,
            version: 1,
          },
          held: {
            inbound: { held, oldestAt: held > 0 ? this.now().toISOString() : null },
            outbound: { held, oldestAt: held > 0 ? this.now().toISOString() : null },
          },
        });
      }
    }
  }

  /** Calls of op (about fault.domain, if given) fail with fault until it is used up (or cleared). */
  fail(op: GatewayOp, fault: GatewayFault): void {
    this.faults.push({ ...fault, op, left: fault.count ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Spam of these domains times factor, from now for `minutes`. */
  injectSpam(domains: readonly string[], factor: number, minutes: number): void {
    const from = Math.floor(this.now().getTime() / MINUTE);
    this.waves.push({ domains: new Set(domains.map((d) => d.toLowerCase())), from, to: from + minutes, factor });
  }

  changesFor(requestId: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.changes) {
      if (c.idempotencyKey.startsWith(`${requestId}:`)) counts.set(c.domain, (counts.get(c.domain) ?? 0) + 1);
    }
    return counts;
  }

  async listDomains(selector: Omit<DomainSelector, 'domains'> = {}): Promise<DomainState[]> {
    this.enter('listDomains');
    return this.select(selector).map((s) => ({ ...s }));
  }

  async getDomain(domain: string): Promise<DomainState> {
    this.enter('getDomain', domain);
    return { ...this.record(domain).state };
  }

  async changeDomain(change: DomainChange): Promise<DomainChangeResult> {
    const fault = this.enter('changeDomain', change.domain, true);
    const record = this.record(change.domain);
    // What the API refuses before it looks at the domain (api/gateway.openapi.yaml, DomainChangeRequest).
    const valid =
      (change.inbound !== undefined || change.outbound !== undefined) &&
      change.reason.length >= 3 &&
      change.reason.length <= 500 &&
      change.actor.length >= 1 &&
      change.actor.length <= 200;
    if (!valid) {
      throw new LagebotError('UPSTREAM_REJECTED', 'gateway API: the change is not valid', {
        service: 'gateway',
        status: 400,
      });
    }
    const fingerprint = JSON.stringify([
      record.state.domain,
      change.inbound ?? null,
      change.outbound ?? null,
      change.reason,
      change.actor,
    ]);
    const stored = this.keys.get(change.idempotencyKey);
    let result: DomainChangeResult;
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new LagebotError('UPSTREAM_REJECTED', 'gateway API: this Idempotency-Key was used for another change', {
          service: 'gateway',
          status: 422,
        });
      }
      result = { ...stored.result, replayed: true };
    } else {
      result = this.apply(record, change, fingerprint);
    }
    if (fault) throw this.errorOf(fault, 'changeDomain');
    return structuredClone(result);
  }

  async listQueues(selector: Omit<DomainSelector, 'domains'> & { domain?: string } = {}): Promise<HeldQueue[]> {
    this.enter('listQueues');
    const wanted = selector.domain === undefined ? null : this.record(selector.domain).state.domain;
    const states = this.select(selector);
    return states
      .filter((s) => wanted === null || s.domain === wanted)
      .flatMap((s) => {
        const r = this.record(s.domain);
        return (['inbound', 'outbound'] as const).map((direction) => ({
          domain: s.domain,
          direction,
          ...r.held[direction],
        }));
      });
  }

  async getSpamMetrics(q: { from: string; to: string; domains?: string[] }): Promise<SpamSeries[]> {
    this.enter('getSpamMetrics');
    const from = Math.floor(Date.parse(q.from) / MINUTE);
    const to = Math.floor(Date.parse(q.to) / MINUTE);
    if (!(to > from) || to - from > MAX_SPAM_MINUTES) {
      throw new LagebotError('UPSTREAM_REJECTED', 'gateway API: bad spam metrics range', { service: 'gateway' });
    }
    // Complete minutes only: the current one is still filling.
    const end = Math.max(from, Math.min(to, Math.floor(this.now().getTime() / MINUTE)));
    const names =
      q.domains === undefined
        ? [...this.domains.values()].map((r) => r.state.domain)
        : [...new Set(q.domains.map((d) => this.record(d).state.domain))];
    return names.map((domain) => ({
      domain,
      points: Array.from({ length: end - from }, (_, k) => {
        const minute = from + k;
        const spam = Math.round(
          this.spamPerMinute * this.factorAt(domain, minute) * (1 + 0.2 * wobble(domain, minute)),
        );
        const rejected = Math.round(spam * 0.6);
        return {
          at: new Date(minute * MINUTE).toISOString(),
          received: spam + 3 * this.spamPerMinute,
          spam,
          rejected,
          quarantined: Math.round((spam - rejected) * 0.8),
        };
      }),
    }));
  }

  async ping(): Promise<void> {
    this.enter('ping');
  }

  private apply(record: DomainRecord, change: DomainChange, fingerprint: string): DomainChangeResult {
    const s = record.state;
    if (change.ifMatchVersion !== undefined && change.ifMatchVersion !== s.version) {
      throw new LagebotError('UPSTREAM_CONFLICT', `gateway API: ${s.domain} is at version ${s.version}`, {
        service: 'gateway',
        status: 409,
      });
    }
    const next = { inbound: change.inbound ?? s.inbound, outbound: change.outbound ?? s.outbound };
    const changed = next.inbound !== s.inbound || next.outbound !== s.outbound;
    if (changed) {
      const at = this.now().toISOString();
      for (const direction of ['inbound', 'outbound'] as const) {
        // Opening a direction delivers what was held.
        if (next[direction] === 'open') record.held[direction] = { held: 0, oldestAt: null };
      }
      Object.assign(s, next, { version: s.version + 1, reason: change.reason, changedBy: change.actor, changedAt: at });
      this.changes.push({ at, domain: s.domain, idempotencyKey: change.idempotencyKey, ...next });
    }
    const result: DomainChangeResult = { domain: { ...s }, changed, replayed: false };
    this.keys.set(change.idempotencyKey, { fingerprint, result });
    return result;
  }

  private select(selector: Omit<DomainSelector, 'domains'>): DomainState[] {
    return [...this.domains.values()]
      .map((r) => r.state)
      .filter(
        (s) =>
          (selector.municipality === undefined || s.municipality === selector.municipality) &&
          (selector.kreis === undefined || s.kreis === selector.kreis) &&
          (selector.verband === undefined || s.verband === selector.verband),
      );
  }

  // Records the call; throws its fault, or — for a fault after applying — hands it to the caller.
  private enter(op: GatewayOp, domain?: string, deferrable = false): GatewayFault | null {
    this.calls.push(op);
    const about = domain?.toLowerCase();
    const fault = this.faults.find(
      (f) => f.op === op && f.left > 0 && (f.domain === undefined || f.domain.toLowerCase() === about),
    );
    if (!fault) return null;
    fault.left--;
    if (deferrable && fault.afterApplying) return fault;
    throw this.errorOf(fault, op);
  }

  private errorOf(fault: GatewayFault, op: GatewayOp): LagebotError {
    return new LagebotError(fault.code, `gateway API: injected ${fault.code} on ${op}`, { service: 'gateway' });
  }

  private record(domain: string): DomainRecord {
    const r = this.domains.get(domain.toLowerCase());
    if (!r) throw new LagebotError('NOT_FOUND', `gateway API: unknown domain '${domain}'`, { service: 'gateway' });
    return r;
  }

  private factorAt(domain: string, minute: number): number {
    let factor = 1;
    for (const w of this.waves)
      if (w.domains.has(domain.toLowerCase()) && minute >= w.from && minute < w.to) factor *= w.factor;
    return factor;
  }
}

function rootOf(byId: ReadonlyMap<string, RegionNode>, node: RegionNode): RegionNode {
  let current = node;
  const seen = new Set<string>();
  while (current.parentId !== null && !seen.has(current.id)) {
    seen.add(current.id);
    const parent = byId.get(current.parentId);
    if (!parent) break;
    current = parent;
  }
  return current;
}

// A fixed, repeatable ±1 per domain and minute, so a quiet series is not a flat line.
function wobble(domain: string, minute: number): number {
  let h = minute;
  for (let i = 0; i < domain.length; i++) h = (h * 31 + domain.charCodeAt(i)) | 0;
  return ((h >>> 0) % 201) / 100 - 1;
}
