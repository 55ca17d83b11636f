import type { z } from 'zod';
import type {
  ComplianceHistoryWire,
  ComplianceReportWire,
  DeviceWire,
  devicePage,
  PatchStateRowWire,
  PatchWire,
  patchStatePage,
  RegionNodeWire,
  regionCompliance,
  stateCounts,
} from '../contracts/inventory.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type Fleet, KIND_CLIENT, OS_NAMES, ROLE_EXCHANGE, ROLES } from './fleet.ts';
import { type Geography, isWithin } from './geography.ts';
import { PATCHES } from './patches.ts';
import {
  breakpoints,
  buildOf,
  FAILED,
  INSTALLED,
  lastSeenMinute,
  MINUTE_MS,
  NOT_APPLICABLE,
  observedState,
  type PatchStateName,
  type Schedule,
  STATE_NAMES,
} from './schedule.ts';
import { badRequest, notFound } from './sim-error.ts';

// The Inventory API's model: answers for any sim minute, computed from the fleet and its
// schedule. One pass over the devices per minute gives every device's observed state and the
// counts of every region at once; both are cached per minute, so a status round (compliance of
// every region, then the unpatched devices) at one sim minute costs a single pass.

export type DevicePageWire = z.infer<typeof devicePage>;
export type PatchStatePageWire = z.infer<typeof patchStatePage>;
type StateCountsWire = z.infer<typeof stateCounts>;
type RegionComplianceWire = z.infer<typeof regionCompliance>;

export const STALE_AFTER_HOURS = 24;
// The brief: a history has at most 2000 points.
export const MAX_HISTORY_POINTS = 2000;
export const MAX_PAGE = 1000;

export interface DeviceQuery {
  region?: string;
  kind?: 'client' | 'server';
  limit?: number;
  cursor?: string;
}
export interface PatchStateQuery {
  patch: string;
  region?: string;
  states?: PatchStateName[];
  kind?: 'client' | 'server';
  sort?: 'priority' | 'hostname' | 'lastSeenAt';
  limit?: number;
  cursor?: string;
}
export interface HistoryQuery {
  region: string;
  patch: string;
  from: string;
  to: string;
  stepMinutes?: number;
}

export interface InventoryModel {
  regions(): RegionNodeWire[];
  patches(): PatchWire[];
  devices(q: DeviceQuery, nowMs: number): DevicePageWire;
  patchStates(q: PatchStateQuery, nowMs: number): PatchStatePageWire;
  compliance(regionId: string, patchId: string | undefined, nowMs: number): ComplianceReportWire;
  history(q: HistoryQuery, nowMs: number): ComplianceHistoryWire;
}

interface Snapshot {
  minute: number;
  state: Uint8Array; // observed state of the device's applicable patch (NOT_APPLICABLE if none)
  seen: Int32Array; // last-seen minute
  counts: Int32Array | null;
}

const NP = PATCHES.length;
const BUCKETS = 3; // clients, servers, exchangeServers
const FIELDS = 8; // total, installed, pending, pending_reboot, failed, unknown, notApplicable, stale
const FIELD_OF_STATE = [1, 2, 3, 4, 6, 5]; // state code -> field index
const CLIENT_BUCKETS = [0];
const SERVER_BUCKETS = [1];
const EXCHANGE_BUCKETS = [1, 2];
const SNAPSHOT_CACHE = 8;
// Packed sort key: [client?, not failed?, age in minutes (2^25 ≈ 63 years), hostname rank (2^22 devices)] < 2^53.
const AGE_SPAN = 2 ** 25;
const RANK_SPAN = 2 ** 22;
const LIST_CACHE = 16;

export function createInventoryModel(geo: Geography, fleet: Fleet, schedule: Schedule): InventoryModel {
  const snapshots = new Map<number, Snapshot>();
  const lists = new Map<string, Uint32Array>();
  // Per node the nodes whose counts include it: itself and every node above it.
  const ancestors = geo.nodes.map((_, i) => {
    const up: number[] = [];
    for (let n = i; n >= 0; n = geo.parent[n]!) up.push(n);
    return up;
  });
  const children = geo.nodes.map((): number[] => []);
  geo.parent.forEach((p, j) => {
    if (p >= 0) children[p]!.push(j);
  });

  const snapshot = (minute: number): Snapshot => {
    const hit = snapshots.get(minute);
    if (hit) return hit;
    const state = new Uint8Array(fleet.size);
    const seen = new Int32Array(fleet.size);
    for (let i = 0; i < fleet.size; i++) {
      const ls = lastSeenMinute(schedule, fleet, i, minute);
      seen[i] = ls;
      state[i] = observedState(schedule, i, minute, ls);
    }
    const snap: Snapshot = { minute, state, seen, counts: null };
    remember(snapshots, minute, snap, SNAPSHOT_CACHE);
    return snap;
  };

  const countsOf = (snap: Snapshot): Int32Array => {
    if (snap.counts) return snap.counts;
    const rowSize = NP * BUCKETS * FIELDS;
    const counts = new Int32Array(geo.nodes.length * rowSize);
    const staleAfter = STALE_AFTER_HOURS * 60;
    // Count into each device's own node, then add every node's row to its Kreis and Verband.
    for (let i = 0; i < fleet.size; i++) {
      const exchange = fleet.role[i] === ROLE_EXCHANGE;
      const buckets = fleet.kind[i] === KIND_CLIENT ? CLIENT_BUCKETS : exchange ? EXCHANGE_BUCKETS : SERVER_BUCKETS;
      const applicable = schedule.patch[i]!;
      const stale = snap.minute - snap.seen[i]! > staleAfter;
      const stateField = FIELD_OF_STATE[snap.state[i]!]!;
      const row = fleet.node[i]! * NP;
      for (let p = 0; p < NP; p++) {
        for (const b of buckets) {
          const at = ((row + p) * BUCKETS + b) * FIELDS;
          if (p === applicable) {
            counts[at]!++;
            counts[at + stateField]!++;
            if (stale) counts[at + 7]!++;
          } else {
            counts[at + 6]!++;
          }
        }
      }
    }
    geo.nodes.forEach((_, leaf) => {
      for (const a of ancestors[leaf]!) {
        if (a === leaf) continue;
        for (let k = 0; k < rowSize; k++) counts[a * rowSize + k]! += counts[leaf * rowSize + k]!;
      }
    });
    snap.counts = counts;
    return counts;
  };

  const regionIndex = (id: string): number => {
    const r = geo.index.get(id);
    if (r === undefined) throw notFound('region_not_found', `unknown region '${id}'`, { region: id });
    return r;
  };
  const patchIndex = (id: string): number => {
    const p = PATCHES.findIndex((x) => x.id === id);
    if (p < 0) throw notFound('patch_not_found', `unknown patch '${id}'`, { patch: id });
    return p;
  };
  const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS);

  const stateCountsAt = (counts: Int32Array, node: number, p: number, bucket: number): StateCountsWire => {
    const at = ((node * NP + p) * BUCKETS + bucket) * FIELDS;
    return {
      total: counts[at]!,
      installed: counts[at + 1]!,
      pending: counts[at + 2]!,
      pending_reboot: counts[at + 3]!,
      failed: counts[at + 4]!,
      unknown: counts[at + 5]!,
      notApplicable: counts[at + 6]!,
      stale: counts[at + 7]!,
    };
  };
  const regionComplianceOf = (counts: Int32Array, node: number, patchIdx: number[]): RegionComplianceWire => {
    const n = geo.nodes[node]!;
    return {
      regionId: n.id,
      name: n.name,
      kind: n.kind,
      patches: patchIdx.map((p) => ({
        patchId: PATCHES[p]!.id,
        clients: stateCountsAt(counts, node, p, 0),
        servers: stateCountsAt(counts, node, p, 1),
        exchangeServers: stateCountsAt(counts, node, p, 2),
      })),
    };
  };

  // Device indices matching a query, in the query's order, at a snapshot minute (cached).
  const listFor = (key: string, snap: Snapshot, match: (i: number) => boolean, sort: string): Uint32Array => {
    const cacheKey = `${snap.minute}|${key}`;
    const hit = lists.get(cacheKey);
    if (hit) return hit;
    const picked: number[] = [];
    for (let pos = 0; pos < fleet.size; pos++) {
      const i = fleet.byHostname[pos]!;
      if (match(i)) picked.push(i);
    }
    let list = Uint32Array.from(picked);
    if (sort !== 'hostname') {
      // Sort by one packed numeric key (typed-array sort, no comparator): 100,000 rows in a few
      // ms. Priority = servers first, then failed, then the longest unseen; ties by hostname.
      const keys = new Float64Array(list.length);
      list.forEach((i, k) => {
        const age = Math.min(AGE_SPAN - 1, Math.max(0, snap.minute - snap.seen[i]!));
        let head = AGE_SPAN - 1 - age;
        if (sort === 'priority') {
          const failed = snap.state[i] === FAILED ? 0 : 1;
          const client = fleet.kind[i] === KIND_CLIENT ? 1 : 0;
          head += (client * 2 + failed) * AGE_SPAN;
        }
        keys[k] = head * RANK_SPAN + fleet.rank[i]!;
      });
      keys.sort();
      list = Uint32Array.from(keys, (key) => fleet.byHostname[key % RANK_SPAN]!);
    }
    remember(lists, cacheKey, list, LIST_CACHE);
    return list;
  };

  const page = <T>(
    key: string,
    q: { limit?: number; cursor?: string },
    nowMs: number,
    match: (i: number, snap: Snapshot) => boolean,
    sort: string,
    row: (i: number, snap: Snapshot) => T,
  ) => {
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw badRequest('invalid_request', `limit must be an integer in 1..${MAX_PAGE}`);
    }
    const c = q.cursor ? decodeCursor(q.cursor, key) : null;
    const snap = snapshot(c?.m ?? minuteOf(nowMs));
    const list = listFor(key, snap, (i) => match(i, snap), sort);
    const offset = c?.o ?? 0;
    const items: T[] = [];
    for (let k = offset; k < Math.min(list.length, offset + limit); k++) items.push(row(list[k]!, snap));
    const next = offset + limit < list.length ? encodeCursor({ q: key, o: offset + limit, m: snap.minute }) : null;
    return { items, nextCursor: next, total: list.length };
  };

  const regionFilter = (region: string | undefined): ((i: number) => boolean) => {
    if (region === undefined) return () => true;
    const r = regionIndex(region);
    return (i) => isWithin(geo, fleet.node[i]!, r);
  };
  const kindFilter = (kind: 'client' | 'server' | undefined): ((i: number) => boolean) =>
    kind === undefined ? () => true : (i) => (fleet.kind[i] === KIND_CLIENT) === (kind === 'client');
  const placeOf = (i: number) => {
    const leaf = fleet.node[i]!;
    return { municipality: geo.nodes[leaf]!.id, kreis: geo.nodes[geo.kreisOf[leaf]!]!.id };
  };
  const iso = (minute: number) => new Date(minute * MINUTE_MS).toISOString();
  const deviceId = (i: number) => `dev-${String(i).padStart(6, '0')}`;

  return {
    regions: () => geo.nodes.map((n) => ({ ...n, aliases: [...n.aliases], domains: [...n.domains] })),
    patches: () => PATCHES.map((p) => structuredClone(p)),

    devices(q, nowMs) {
      const inRegion = regionFilter(q.region);
      const ofKind = kindFilter(q.kind);
      const key = JSON.stringify(['devices', q.region ?? null, q.kind ?? null]);
      return page<DeviceWire>(
        key,
        q,
        nowMs,
        (i) => inRegion(i) && ofKind(i),
        'hostname',
        (i, snap) => ({
          id: deviceId(i),
          hostname: fleet.hostname[i]!,
          kind: fleet.kind[i] === KIND_CLIENT ? 'client' : 'server',
          role: ROLES[fleet.role[i]!]!,
          ...placeOf(i),
          os: OS_NAMES[fleet.os[i]!]!,
          build: buildOf(fleet, schedule, i, snap.state[i]!, snap.seen[i]!),
          lastSeenAt: iso(snap.seen[i]!),
        }),
      );
    },

    patchStates(q, nowMs) {
      const p = patchIndex(q.patch);
      const inRegion = regionFilter(q.region);
      const ofKind = kindFilter(q.kind);
      const states = q.states && q.states.length > 0 ? new Set(q.states.map((s) => STATE_NAMES.indexOf(s))) : null;
      const sort = q.sort ?? 'priority';
      const stateFor = (i: number, snap: Snapshot) => (schedule.patch[i] === p ? snap.state[i]! : NOT_APPLICABLE);
      const key = JSON.stringify([
        'patch-states',
        q.patch,
        q.region ?? null,
        states ? [...states].sort() : null,
        q.kind ?? null,
        sort,
      ]);
      return page<PatchStateRowWire>(
        key,
        q,
        nowMs,
        // Without a state filter only devices the patch applies to are listed.
        (i, snap) => inRegion(i) && ofKind(i) && (states ? states.has(stateFor(i, snap)) : schedule.patch[i] === p),
        sort,
        (i, snap) => ({
          deviceId: deviceId(i),
          hostname: fleet.hostname[i]!,
          kind: fleet.kind[i] === KIND_CLIENT ? 'client' : 'server',
          role: ROLES[fleet.role[i]!]!,
          ...placeOf(i),
          build: buildOf(fleet, schedule, i, snap.state[i]!, snap.seen[i]!),
          lastSeenAt: iso(snap.seen[i]!),
          patchId: PATCHES[p]!.id,
          state: STATE_NAMES[stateFor(i, snap)]!,
          observedAt: iso(snap.seen[i]!),
        }),
      );
    },

    compliance(regionId, patchId, nowMs) {
      const r = regionIndex(regionId);
      const patchIdx = patchId === undefined ? PATCHES.map((_, i) => i) : [patchIndex(patchId)];
      const snap = snapshot(minuteOf(nowMs));
      const counts = countsOf(snap);
      return {
        observedAt: iso(snap.minute),
        staleAfterHours: STALE_AFTER_HOURS,
        region: regionComplianceOf(counts, r, patchIdx),
        children: children[r]!.map((c) => regionComplianceOf(counts, c, patchIdx)),
      };
    },

    history(q, nowMs) {
      const r = regionIndex(q.region);
      const p = patchIndex(q.patch);
      const step = q.stepMinutes ?? 60;
      const from = parseMinute(q.from, 'from');
      const to = parseMinute(q.to, 'to');
      if (!Number.isInteger(step) || step < 1)
        throw badRequest('invalid_request', 'stepMinutes must be a positive integer');
      if (to < from) throw badRequest('invalid_request', 'to must not be before from');
      const requested = Math.floor((to - from) / step) + 1;
      if (requested > MAX_HISTORY_POINTS) {
        throw badRequest(
          'range_too_large',
          `at most ${MAX_HISTORY_POINTS} points; raise stepMinutes or narrow the range`,
          {
            points: requested,
          },
        );
      }
      // History ends now: the inventory cannot have observed the future.
      const last = Math.min(to, minuteOf(nowMs));
      const n = last < from ? 0 : Math.floor((last - from) / step) + 1;
      const diff = { client: new Int32Array(n + 1), server: new Int32Array(n + 1) };
      const totals = { client: 0, server: 0 };
      const installedAt = (i: number, t: number) =>
        observedState(schedule, i, t, lastSeenMinute(schedule, fleet, i, t)) === INSTALLED;
      if (n > 0) {
        const end = from + (n - 1) * step;
        for (let i = 0; i < fleet.size; i++) {
          if (schedule.patch[i] !== p || !isWithin(geo, fleet.node[i]!, r)) continue;
          const k = fleet.kind[i] === KIND_CLIENT ? 'client' : 'server';
          totals[k]++;
          let cur = installedAt(i, from);
          if (cur) diff[k][0]!++;
          // The observed state only changes at the device's breakpoints: add each change to the
          // first point at or after it.
          for (const b of breakpoints(schedule, i)) {
            if (b <= from || b > end) continue;
            const now = installedAt(i, b);
            if (now === cur) continue;
            diff[k][Math.ceil((b - from) / step)]! += now ? 1 : -1;
            cur = now;
          }
        }
      }
      const points: ComplianceHistoryWire['points'] = [];
      let client = 0;
      let server = 0;
      for (let k = 0; k < n; k++) {
        client += diff.client[k]!;
        server += diff.server[k]!;
        points.push({
          at: iso(from + k * step),
          clients: { total: totals.client, installed: client },
          servers: { total: totals.server, installed: server },
        });
      }
      return { regionId: geo.nodes[r]!.id, patchId: PATCHES[p]!.id, stepMinutes: step, points };
    },
  };
}

function parseMinute(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest('invalid_request', `${name} is not a date-time`);
  return Math.floor(ms / MINUTE_MS);
}

function remember<K, V>(cache: Map<K, V>, key: K, value: V, max: number): void {
  if (cache.size >= max) cache.delete(cache.keys().next().value as K);
  cache.set(key, value);
}
