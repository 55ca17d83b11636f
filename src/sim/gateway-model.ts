import type { z } from 'zod';
import type {
  bulkChangeRequest,
  bulkChangeResult,
  DomainStateWire,
  domainChangeRequest,
  domainChangeResult,
  gatewayAuditEntry,
  gatewayAuditPage,
  heldQueue,
  queueReleaseResult,
  SpamMetricsWire,
} from '../contracts/gateway.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type Geography, isWithin } from './geography.ts';
import { MINUTE_MS, type ScenarioName } from './schedule.ts';
import { badRequest, notFound, SimError } from './sim-error.ts';
import type { SpamCounts, Traffic } from './traffic.ts';

// The Gateway-control API's model: per domain the flow state of external mail in both
// directions, the held queues, the change audit and the idempotency store.
//
// Idempotency (same contract as Stripe's Idempotency-Key): a key is bound to the request's
// method, path and body. The same key with the same request replays the first successful answer
// and changes nothing; with a different request it is refused (422). Failed attempts (409, 404,
// 400) are not stored, so a corrected retry with the same key can still succeed.

export type DomainChangeBody = z.infer<typeof domainChangeRequest>;
export type DomainChangeResultWire = z.infer<typeof domainChangeResult>;
export type BulkChangeBody = z.infer<typeof bulkChangeRequest>;
export type BulkChangeResultWire = z.infer<typeof bulkChangeResult>;
export type HeldQueueWire = z.infer<typeof heldQueue>;
export type QueueReleaseResultWire = z.infer<typeof queueReleaseResult>;
export type GatewayAuditEntryWire = z.infer<typeof gatewayAuditEntry>;
export type GatewayAuditPageWire = z.infer<typeof gatewayAuditPage>;
type Flow = DomainStateWire['inbound'];
export type DirectionName = 'inbound' | 'outbound';

export const MAX_SPAM_RANGE_MINUTES = 24 * 60;
const MAX_PAGE = 1000;

export interface RegionFilter {
  municipality?: string;
  kreis?: string;
  verband?: string;
}
export interface SpamQuery {
  from: string;
  to: string;
  domains?: string[];
  kreis?: string;
  verband?: string;
  limit?: number;
  cursor?: string;
}

export interface GatewayModel {
  domains(filter: RegionFilter): DomainStateWire[];
  domain(name: string): DomainStateWire;
  changeDomain(
    name: string,
    body: DomainChangeBody,
    opts: { idempotencyKey: string; ifMatch?: number },
    nowMs: number,
  ): DomainChangeResultWire;
  bulkChange(body: BulkChangeBody, idempotencyKey: string, nowMs: number): BulkChangeResultWire;
  queues(filter: RegionFilter & { domain?: string }, nowMs: number): HeldQueueWire[];
  releaseQueue(
    name: string,
    direction: DirectionName,
    body: { actor: string; reason: string },
    idempotencyKey: string,
    nowMs: number,
  ): { result: QueueReleaseResultWire; replayed: boolean };
  spamMetrics(q: SpamQuery, nowMs: number): SpamMetricsWire;
  injectSpam(
    target: { domain?: string; region?: string },
    factor: number,
    minutes: number,
    nowMs: number,
  ): { domains: string[]; from: string; to: string; factor: number };
  audit(q: { since?: string; limit?: number; cursor?: string }): GatewayAuditPageWire;
}

interface QueueRec {
  held: number;
  acc: number; // growth is accounted for all minutes before this one
  oldest: number | null; // minute of the oldest held message
}
interface DomainRec {
  inbound: Flow;
  outbound: Flow;
  reason: string | null;
  changedBy: string | null;
  changedAt: number | null;
  version: number;
  queues: [QueueRec, QueueRec];
}
interface Stored {
  fingerprint: string;
  response: unknown;
}

const DIRECTIONS: readonly DirectionName[] = ['inbound', 'outbound'];

export function createGatewayModel(
  geo: Geography,
  traffic: Traffic,
  scenario: ScenarioName,
  startMs: number,
): GatewayModel {
  const startMinute = Math.floor(startMs / MINUTE_MS);
  const incident = scenario === 'feb-2024';
  const recs: DomainRec[] = geo.domains.map(() => ({
    inbound: incident ? 'held' : 'open',
    outbound: incident ? 'held' : 'open',
    reason: incident ? 'Vorsorgliche Sperre externer Mail: Exchange-Schwachstelle CVE-2024-21410' : null,
    changedBy: incident ? 'sim:scenario' : null,
    changedAt: incident ? startMs : null,
    version: 1,
    queues: [
      { held: 0, acc: startMinute, oldest: null },
      { held: 0, acc: startMinute, oldest: null },
    ],
  }));
  const keys = new Map<string, Stored>();
  const auditLog: GatewayAuditEntryWire[] = [];
  const scratch: SpamCounts = { received: 0, spam: 0, rejected: 0, quarantined: 0 };
  const iso = (ms: number) => new Date(ms).toISOString();

  const domainIdx = (name: string): number => {
    const d = geo.domainIndex.get(name.toLowerCase());
    if (d === undefined) throw notFound('domain_not_found', `unknown domain '${name}'`, { domain: name });
    return d;
  };
  // The filters name levels by their place relative to the Kreise (geography.ts), whatever the
  // estate calls them: a town below a Kreis, the Kreis, the grouping just above.
  const LEVEL_TEST = {
    municipality: (r: number) => geo.kreisOf[r]! >= 0 && geo.kreisOf[r] !== r,
    kreis: (r: number) => geo.kreisOf[r] === r,
    verband: (r: number) => geo.verbandOf[r] === r,
  };
  const regionAt = (id: string, level: keyof typeof LEVEL_TEST): void => {
    const r = geo.index.get(id);
    if (r === undefined || !LEVEL_TEST[level](r)) {
      throw notFound('region_not_found', `no ${level} with id '${id}'`, { region: id });
    }
  };
  const filterDomains = (f: RegionFilter): number[] => {
    if (f.municipality !== undefined) regionAt(f.municipality, 'municipality');
    if (f.kreis !== undefined) regionAt(f.kreis, 'kreis');
    if (f.verband !== undefined) regionAt(f.verband, 'verband');
    const out: number[] = [];
    geo.domains.forEach((d, i) => {
      if (f.municipality !== undefined && d.municipality !== f.municipality) return;
      if (f.kreis !== undefined && d.kreis !== f.kreis) return;
      if (f.verband !== undefined && d.verband !== f.verband) return;
      out.push(i);
    });
    return out;
  };
  const wire = (d: number): DomainStateWire => {
    const info = geo.domains[d]!;
    const r = recs[d]!;
    return {
      domain: info.name,
      municipality: info.municipality,
      kreis: info.kreis,
      verband: info.verband,
      inbound: r.inbound,
      outbound: r.outbound,
      blockMode: 'hold',
      reason: r.reason,
      changedBy: r.changedBy,
      changedAt: r.changedAt === null ? null : iso(r.changedAt),
      version: r.version,
    };
  };

  // Account the queue growth of domain d, direction dir, for every minute before `minute`.
  // Only non-spam mail is queued; spam is filtered before the queue.
  const settle = (d: number, dir: 0 | 1, minute: number) => {
    const r = recs[d]!;
    const q = r.queues[dir];
    if ((dir === 0 ? r.inbound : r.outbound) === 'held') {
      for (let m = q.acc; m < minute; m++) {
        const n = dir === 0 ? traffic.legitInbound(d, m) : traffic.outbound(d, m);
        if (n <= 0) continue;
        if (q.held === 0) q.oldest = m;
        q.held += n;
      }
    }
    if (minute > q.acc) q.acc = minute;
  };

  const appendAudit = (entry: Omit<GatewayAuditEntryWire, 'id'>) => {
    auditLog.push({ id: `ga-${String(auditLog.length + 1).padStart(6, '0')}`, ...entry });
  };

  const deliver = (d: number, dir: 0 | 1, at: number, actor: string, reason: string, key: string | null) => {
    const q = recs[d]!.queues[dir];
    const released = q.held;
    q.held = 0;
    q.oldest = null;
    appendAudit({
      at: iso(at),
      actor,
      action: 'queue.release',
      domain: geo.domains[d]!.name,
      before: null,
      after: null,
      reason,
      idempotencyKey: key,
    });
    return released;
  };

  const fingerprintOf = (method: string, path: string, body: unknown) => `${method} ${path} ${JSON.stringify(body)}`;
  const changeFingerprint = (d: number, body: DomainChangeBody) =>
    fingerprintOf('PATCH', `/domains/${geo.domains[d]!.name}`, {
      inbound: body.inbound ?? null,
      outbound: body.outbound ?? null,
      reason: body.reason,
      actor: body.actor,
    });
  const reused = (key: string) =>
    new SimError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', {
      idempotencyKey: key,
    });

  // Apply one domain change (after the idempotency check). Throws 409 on an If-Match mismatch.
  const apply = (d: number, body: DomainChangeBody, key: string, ifMatch: number | undefined, nowMs: number) => {
    const r = recs[d]!;
    if (ifMatch !== undefined && ifMatch !== r.version) {
      throw new SimError(409, 'version_conflict', `domain changed meanwhile: version is ${r.version}, not ${ifMatch}`, {
        domain: geo.domains[d]!.name,
        currentVersion: r.version,
      });
    }
    const next = { inbound: body.inbound ?? r.inbound, outbound: body.outbound ?? r.outbound };
    const changed = next.inbound !== r.inbound || next.outbound !== r.outbound;
    if (changed) {
      const minute = Math.floor(nowMs / MINUTE_MS);
      settle(d, 0, minute);
      settle(d, 1, minute);
      const before = { inbound: r.inbound, outbound: r.outbound };
      r.inbound = next.inbound;
      r.outbound = next.outbound;
      r.version++;
      r.reason = body.reason;
      r.changedBy = body.actor;
      r.changedAt = nowMs;
      appendAudit({
        at: iso(nowMs),
        actor: body.actor,
        action: 'domain.change',
        domain: geo.domains[d]!.name,
        before,
        after: { ...next },
        reason: body.reason,
        idempotencyKey: key,
      });
      // Opening a direction delivers what was held (or kept back while blocked).
      DIRECTIONS.forEach((dir, k) => {
        if (before[dir] !== 'open' && next[dir] === 'open' && r.queues[k]!.held > 0) {
          const n = r.queues[k]!.held;
          deliver(d, k as 0 | 1, nowMs, body.actor, `delivered ${n} held ${dir} messages on opening`, key);
        }
      });
    }
    const result: DomainChangeResultWire = { domain: wire(d), changed, replayed: false };
    keys.set(key, { fingerprint: changeFingerprint(d, body), response: result });
    return result;
  };

  const spamDomainsOf = (q: SpamQuery): number[] => {
    const selectors = [q.domains, q.kreis, q.verband].filter((v) => v !== undefined).length;
    if (selectors > 1) throw badRequest('invalid_request', 'use at most one of domain, kreis, verband');
    if (q.domains) return [...new Set(q.domains.map(domainIdx))].sort((a, b) => a - b);
    return filterDomains({ kreis: q.kreis, verband: q.verband });
  };

  return {
    domains: (filter) => filterDomains(filter).map(wire),
    domain: (name) => wire(domainIdx(name)),

    changeDomain(name, body, opts, nowMs) {
      const d = domainIdx(name);
      const stored = keys.get(opts.idempotencyKey);
      if (stored) {
        if (stored.fingerprint !== changeFingerprint(d, body)) throw reused(opts.idempotencyKey);
        return { ...(stored.response as DomainChangeResultWire), replayed: true };
      }
      return apply(d, body, opts.idempotencyKey, opts.ifMatch, nowMs);
    },

    bulkChange(body, key, nowMs) {
      const fingerprint = fingerprintOf('POST', '/changes', body);
      const stored = keys.get(key);
      if (stored) {
        if (stored.fingerprint !== fingerprint) throw reused(key);
        return { ...(stored.response as BulkChangeResultWire), replayed: true };
      }
      if (body.inbound === undefined && body.outbound === undefined) {
        throw badRequest('invalid_request', 'inbound or outbound required');
      }
      const sel = body.selector;
      const results: BulkChangeResultWire['results'] = [];
      let targets = filterDomains({ municipality: sel.municipality, kreis: sel.kreis, verband: sel.verband });
      if (sel.domains) {
        const wanted = new Set<number>();
        for (const name of new Set(sel.domains.map((n) => n.toLowerCase()))) {
          const d = geo.domainIndex.get(name);
          if (d === undefined) {
            results.push({
              domain: name,
              status: 'failed',
              version: null,
              error: { code: 'domain_not_found', message: `unknown domain '${name}'` },
            });
          } else {
            wanted.add(d);
          }
        }
        targets = targets.filter((d) => wanted.has(d));
      }
      const change: DomainChangeBody = {
        inbound: body.inbound,
        outbound: body.outbound,
        reason: body.reason,
        actor: body.actor,
      };
      for (const d of targets) {
        const domainKey = `${key}:${geo.domains[d]!.name}`;
        const prior = keys.get(domainKey);
        let r: DomainChangeResultWire;
        if (prior) {
          if (prior.fingerprint !== changeFingerprint(d, change)) {
            results.push({
              domain: geo.domains[d]!.name,
              status: 'failed',
              version: null,
              error: { code: 'idempotency_key_reused', message: `key '${domainKey}' was used for a different request` },
            });
            continue;
          }
          r = prior.response as DomainChangeResultWire;
        } else {
          r = apply(d, change, domainKey, undefined, nowMs);
        }
        results.push({
          domain: r.domain.domain,
          status: r.changed ? 'changed' : 'unchanged',
          version: r.domain.version,
          error: null,
        });
      }
      const result: BulkChangeResultWire = { results, replayed: false };
      keys.set(key, { fingerprint, response: result });
      return result;
    },

    queues(filter, nowMs) {
      const minute = Math.floor(nowMs / MINUTE_MS);
      const { domain, ...regions } = filter;
      let ds = filterDomains(regions);
      if (domain !== undefined) {
        const d = domainIdx(domain);
        ds = ds.filter((x) => x === d);
      }
      return ds.flatMap((d) =>
        DIRECTIONS.map((direction, k) => {
          settle(d, k as 0 | 1, minute);
          const q = recs[d]!.queues[k]!;
          return {
            domain: geo.domains[d]!.name,
            direction,
            held: q.held,
            oldestAt: q.oldest === null ? null : iso(q.oldest * MINUTE_MS),
          };
        }),
      );
    },

    releaseQueue(name, direction, body, key, nowMs) {
      const d = domainIdx(name);
      const fingerprint = fingerprintOf('POST', `/queues/${geo.domains[d]!.name}/${direction}/release`, body);
      const stored = keys.get(key);
      if (stored) {
        if (stored.fingerprint !== fingerprint) throw reused(key);
        return { result: stored.response as QueueReleaseResultWire, replayed: true };
      }
      const k = direction === 'inbound' ? 0 : 1;
      settle(d, k, Math.floor(nowMs / MINUTE_MS));
      const released = deliver(d, k, nowMs, body.actor, body.reason, key);
      const result: QueueReleaseResultWire = { domain: geo.domains[d]!.name, direction, released };
      keys.set(key, { fingerprint, response: result });
      return { result, replayed: false };
    },

    spamMetrics(q, nowMs) {
      const from = parseMinute(q.from, 'from');
      const to = parseMinute(q.to, 'to');
      if (to <= from) throw badRequest('invalid_request', 'to must be after from');
      if (to - from > MAX_SPAM_RANGE_MINUTES) {
        throw badRequest('range_too_large', 'the range may span at most 24 hours', { minutes: to - from });
      }
      const limit = q.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
        throw badRequest('invalid_request', `limit must be an integer in 1..${MAX_PAGE}`);
      }
      const ds = spamDomainsOf(q);
      const queryKey = JSON.stringify(['spam', from, to, q.domains ?? null, q.kreis ?? null, q.verband ?? null]);
      const offset = q.cursor ? decodeCursor(q.cursor, queryKey).o : 0;
      // Buckets exist up to the last complete minute: the future has no metrics.
      const end = Math.max(from, Math.min(to, Math.floor(nowMs / MINUTE_MS)));
      const stamps = Array.from({ length: end - from }, (_, k) => iso((from + k) * MINUTE_MS));
      const series = ds.slice(offset, offset + limit).map((d) => {
        const points: SpamMetricsWire['series'][number]['points'] = [];
        for (let m = from; m < end; m++) {
          const c = traffic.inbound(d, m, scratch);
          points.push({
            at: stamps[m - from]!,
            received: c.received,
            spam: c.spam,
            rejected: c.rejected,
            quarantined: c.quarantined,
          });
        }
        return { domain: geo.domains[d]!.name, points };
      });
      return {
        from: iso(from * MINUTE_MS),
        to: iso(end * MINUTE_MS),
        bucketMinutes: 1,
        series,
        nextCursor: offset + limit < ds.length ? encodeCursor({ q: queryKey, o: offset + limit }) : null,
      };
    },

    injectSpam(target, factor, minutes, nowMs) {
      let ds: number[];
      if (target.domain !== undefined) {
        ds = [domainIdx(target.domain)];
      } else {
        const r = geo.index.get(target.region ?? '');
        if (r === undefined) throw notFound('region_not_found', `unknown region '${target.region}'`);
        ds = [];
        geo.domains.forEach((d, i) => {
          if (isWithin(geo, d.owner, r)) ds.push(i);
        });
      }
      const from = Math.floor(nowMs / MINUTE_MS);
      // The spike only changes minutes from now on; queue growth already accounted stays valid.
      traffic.addSpike({ domains: new Set(ds), from, to: from + minutes, factor });
      return {
        domains: ds.map((d) => geo.domains[d]!.name),
        from: iso(from * MINUTE_MS),
        to: iso((from + minutes) * MINUTE_MS),
        factor,
      };
    },

    audit(q) {
      const since = q.since === undefined ? null : Date.parse(q.since);
      if (since !== null && Number.isNaN(since)) throw badRequest('invalid_request', 'since is not a date-time');
      const limit = q.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
        throw badRequest('invalid_request', `limit must be an integer in 1..${MAX_PAGE}`);
      }
      const queryKey = JSON.stringify(['audit', since]);
      const offset = q.cursor ? decodeCursor(q.cursor, queryKey).o : 0;
      const matching = since === null ? auditLog : auditLog.filter((e) => Date.parse(e.at) >= since);
      const items = matching.slice(offset, offset + limit).map((e) => structuredClone(e));
      return {
        items,
        nextCursor: offset + limit < matching.length ? encodeCursor({ q: queryKey, o: offset + limit }) : null,
      };
    },
  };
}

function parseMinute(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest('invalid_request', `${name} is not a date-time`);
  return Math.floor(ms / MINUTE_MS);
}
