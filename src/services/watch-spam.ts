import { alertGroupOf } from '../domain/alert-audience.ts';
import { describeError } from '../domain/describe-error.ts';
import {
  DETECTOR_SHARDS,
  type DetectorHead,
  decodeDetector,
  encodeShards,
  headOf,
  shardOf,
} from '../domain/detector-shards.ts';
import { LagebotError } from '../domain/errors.ts';
import type { Logger } from '../domain/logger.ts';
import type { DomainState, SpamSeries } from '../domain/model.ts';
import type { GatewayPort } from '../domain/ports.ts';
import type { RegionIndex } from '../domain/region-index.ts';
import {
  createDetectorState,
  type DetectorState,
  type DomainSpamInput,
  defaultSpikeConfig,
  detectSpikes,
  type SpikeConfig,
  type SpikeEvent,
  upgradeDetectorState,
} from '../domain/spike-detector.ts';
import type { SpamDetectorShard, Store } from '../domain/store-port.ts';
import type { AlertDelivery } from './deliver-alerts.ts';

// The spam watcher (docs/decisions/spam-alerts.md): every interval it asks the gateway for the last minutes of spam metrics
// of all domains (the client pages them, 1000 domains a request — never one request per domain),
// runs the pure detector (src/domain/spike-detector.ts) and hands its events to the alert delivery.
// Domains are grouped and routed by the region list (src/domain/alert-audience.ts): a domain the list
// does not know is counted and skipped, and without any region list yet the poll waits for the
// inventory (the minutes it missed are caught up, so an alert is late, never lost).
//
// Only one replica watches: the one holding the store's lease `spam-watcher`. A replica that takes
// over loads the detector state the previous holder persisted (store.readSpamDetectorState, written
// with its eTag so two writers notice each other), resumes pending deliveries and catches up
// on the minutes it missed.
//
// Persistence (docs/decisions/spam-alerts.md): every poll writes the head (alerts, cooldowns, how far
// it polled) and the shards of domain tracks whose turn it is (src/domain/detector-shards.ts), one a
// minute, so each track is at most DETECTOR_SHARDS minutes (plus an interval) older than the head.
// Rewriting the whole state (~12 MB of JSON at 10,000 domains) every five minutes cost more CPU than
// all the polls in between. A successor re-asks the gateway from the oldest shard's minute (in batches
// of domains when that is more than maxPollMinutes ago); each track replays only the buckets it lacks.
//
// Time: `now` is the clock the metrics are asked for (in tests the simulator's). On first start the
// detector is warmed up with `backfillMinutes` of history in batches of domains (the detector's header:
// at least three days so that both day types are seen), without alerting.
//
// Events are written to the store before the detector state: after a crash in between, the next poll
// replays the same events (deterministic alert ids), which the store absorbs; the other order could
// lose an alert.

export const SPAM_WATCHER_LEASE = 'spam-watcher';

/** How long the lease lasts without a poll (in the watcher's clock): three intervals, at least 30 s. */
export function spamWatcherLeaseTtlMs(intervalMs: number): number {
  return Math.max(3 * intervalMs, 30_000);
}

export interface SpamWatcherDeps {
  store: Store;
  gateway: GatewayPort;
  regions: () => Promise<RegionIndex>;
  delivery: AlertDelivery;
  now: () => Date;
  intervalMs: number;
  // This replica's name in the lease, e.g. `${hostname()}:${process.pid}`.
  holder: string;
  logger: Logger;
  metrics?: { leaseHolder: { set(labels: { lease: string }, value: number): void } };
  config?: SpikeConfig;
  backfillMinutes?: number;
  // A gap longer than this (a takeover from shards up to DETECTOR_SHARDS minutes old, the bot down) is
  // caught up in batches of domains, not in one poll: one poll holds every domain's minutes in memory at
  // once, ~120 bytes a bucket parsed — 20 minutes of 10,000 domains are ~24 MB, three hours were ~200 MB.
  maxPollMinutes?: number;
  backfillDomainsPerBatch?: number;
  leaseTtlMs?: number;
  // How long the gateway's domain list (the domains to warm up, their inbound state) is reused.
  domainsTtlMs?: number;
}

export interface PollResult {
  role: 'leader' | 'standby';
  from: string | null;
  to: string | null;
  domains: number;
  events: SpikeEvent[];
  backfilled: boolean;
  persisted: boolean;
}

export interface SpamWatcher {
  start(): void;
  stop(): Promise<void>;
  pollOnce(): Promise<PollResult>;
  isLeader(): boolean;
}

interface WatcherState {
  polledTo: string;
  detector: DetectorState;
}
// As stored: the head document — small, so the store's canonical serialisation (sorted keys,
// src/adapters/store/audit-chain.ts) costs little — and the shards as the JSON text detector-shards
// made, which the store keeps as it is.
interface PersistedHead {
  v: 2;
  polledTo: string;
  detector: DetectorHead;
}
// Before the shards: the whole detector as one JSON string in the head. Still read, so an
// upgrade keeps the baselines and open alerts; the first write after it writes every shard.
interface PersistedStateV1 {
  v: 1;
  polledTo: string;
  detectorJson: string;
}

const MINUTE = 60_000;
// The gateway answers at most 24 hours per /metrics/spam request (api/gateway.openapi.yaml).
const MAX_RANGE_MINUTES = 24 * 60;

export function createSpamWatcher(deps: SpamWatcherDeps): SpamWatcher {
  const config = deps.config ?? defaultSpikeConfig;
  const backfillMinutes = deps.backfillMinutes ?? 3 * 24 * 60;
  const maxPollMinutes = Math.min(deps.maxPollMinutes ?? 20, MAX_RANGE_MINUTES);
  const batchSize = Math.max(1, deps.backfillDomainsPerBatch ?? 200);
  const leaseTtlMs = deps.leaseTtlMs ?? spamWatcherLeaseTtlMs(deps.intervalMs);
  const domainsTtlMs = deps.domainsTtlMs ?? 10 * MINUTE;
  const { store, gateway, logger } = deps;

  let leader = false;
  let state: WatcherState | null = null;
  let etag: string | null = null;
  // Per shard the poll minute this watcher last wrote it at; empty after a load or a warm-up, so the
  // next write writes every shard (a state no store holds as a whole yet).
  let shardWrittenAt: number[] = [];
  const shardOfDomain = memoize(shardOf);
  let domains: { at: number; map: Map<string, DomainState> } | null = null;
  let lastIndex: RegionIndex | null = null;
  let running: Promise<PollResult> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;

  const setLeader = (value: boolean) => {
    if (value !== leader) logger.info(value ? 'spam watcher: this replica watches' : 'spam watcher: standing by');
    leader = value;
    deps.metrics?.leaseHolder.set({ lease: SPAM_WATCHER_LEASE }, value ? 1 : 0);
  };

  async function domainMap(force: boolean): Promise<Map<string, DomainState>> {
    const nowMs = deps.now().getTime();
    if (!force && domains && nowMs - domains.at < domainsTtlMs) return domains.map;
    try {
      const list = await gateway.listDomains();
      domains = { at: nowMs, map: new Map(list.map((d) => [d.domain, d])) };
    } catch (error) {
      // Without a first list the watcher has no domains to warm up; with one, the old list serves.
      if (!domains) throw error;
      logger.warn('gateway domain list unavailable; using the previous one', { err: describeError(error) });
    }
    return domains!.map;
  }

  async function regionIndex(): Promise<RegionIndex> {
    try {
      lastIndex = await deps.regions();
    } catch (error) {
      if (!lastIndex) throw error;
      logger.warn('region list unavailable; routing alerts by the previous one', { err: describeError(error) });
    }
    return lastIndex;
  }

  // A domain's alert group per region index: the index is rebuilt only when the region list changes,
  // and looking the owner up normalises the name every time (10,000 domains a poll). The gateway lists
  // the domains in the same order every poll, so the group found at a position last time is checked
  // against the name there first: comparing two names is cheaper than hashing a freshly parsed one.
  let groups: { index: RegionIndex; of: Map<string, string | null>; names: string[]; at: (string | null)[] } | null =
    null;
  function groupOf(index: RegionIndex, domain: string, position: number): string | null {
    if (groups?.index !== index) groups = { index, of: new Map(), names: [], at: [] };
    if (groups.names[position] === domain) return groups.at[position]!;
    let group = groups.of.get(domain);
    if (group === undefined) {
      group = alertGroupOf(index, domain);
      groups.of.set(domain, group);
    }
    groups.names[position] = domain;
    groups.at[position] = group;
    return group;
  }

  function inputsOf(series: SpamSeries[], index: RegionIndex): { inputs: DomainSpamInput[]; unknown: number } {
    const inputs: DomainSpamInput[] = [];
    let unknown = 0;
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      const group = groupOf(index, s.domain, i);
      if (group === null) {
        unknown++;
        continue;
      }
      inputs.push({ domain: s.domain, group, points: s.points });
    }
    return { inputs, unknown };
  }

  async function holdLease(): Promise<boolean> {
    return store.acquireLease(SPAM_WATCHER_LEASE, deps.holder, leaseTtlMs, deps.now().toISOString());
  }

  async function loadState(): Promise<void> {
    // Shards before the head: a previous holder still writing can then only make the head newer than
    // the shards read, which is the order every write leaves them in (the reverse would skip minutes).
    const shards = await store.readSpamDetectorShards();
    const item = await store.readSpamDetectorState();
    etag = item?.etag ?? null;
    state = item ? readPersisted(item.data, shards) : null;
    if (item && !state) logger.warn('stored spam detector state is unreadable; starting fresh');
    shardWrittenAt = [];
  }

  // The head, and the shards due at poll minute `atMin`: shard k's turn comes at every minute ≡ k
  // (mod DETECTOR_SHARDS), so one a minute at a one-minute interval and a few at a longer one, never
  // all at once. `all`: every shard (after a warm-up or a load, and on a clean hand-over).
  async function persist(atMin: number, all: boolean): Promise<boolean> {
    if (!state) return false;
    const due: number[] = [];
    for (let k = 0; k < DETECTOR_SHARDS; k++) {
      const turn = atMin - ((((atMin - k) % DETECTOR_SHARDS) + DETECTOR_SHARDS) % DETECTOR_SHARDS);
      if (all || turn > (shardWrittenAt[k] ?? Number.NEGATIVE_INFINITY)) due.push(k);
    }
    const head: PersistedHead = { v: 2, polledTo: state.polledTo, detector: headOf(state.detector) };
    const shards = encodeShards(state.detector, due, state.polledTo, shardOfDomain);
    const result = await store.writeSpamDetectorState(head, etag, shards);
    if (!result.ok) {
      // Someone else wrote the state: we are not the only watcher any more. Let the lease decide.
      logger.warn('spam detector state was written by another replica; standing by');
      state = null;
      etag = null;
      setLeader(false);
      return false;
    }
    etag = result.etag;
    for (const k of due) shardWrittenAt[k] = atMin;
    return true;
  }

  // History in batches of domains, each through the range in ≤ 24 h requests, in backfill mode.
  async function catchUp(
    detector: DetectorState,
    fromMin: number,
    toMin: number,
    map: Map<string, DomainState>,
    index: RegionIndex,
  ): Promise<void> {
    const names = [...map.keys()].sort();
    for (let i = 0; i < names.length; i += batchSize) {
      const batch = names.slice(i, i + batchSize);
      for (let a = fromMin; a < toMin; a += MAX_RANGE_MINUTES) {
        const b = Math.min(toMin, a + MAX_RANGE_MINUTES);
        const series = await gateway.getSpamMetrics({ from: isoOf(a), to: isoOf(b), domains: batch });
        detectSpikes(detector, { now: isoOf(b), domains: inputsOf(series, index).inputs, backfill: true }, config);
      }
      // A long warm-up must not outlive the lease.
      if (!(await holdLease())) throw new LagebotError('STORE_CONFLICT', 'lost the spam-watcher lease during catch-up');
    }
  }

  // Any failure after the lease drops the working copy: detectSpikes has advanced it in place, and
  // events it produced may not have reached the store. The next poll reloads the persisted state and
  // replays from there; the store absorbs what it has already seen.
  async function poll(): Promise<PollResult> {
    try {
      return await pollAsLeader();
    } catch (error) {
      state = null;
      throw error;
    }
  }

  async function pollAsLeader(): Promise<PollResult> {
    const standby: PollResult = {
      role: 'standby',
      from: null,
      to: null,
      domains: 0,
      events: [],
      backfilled: false,
      persisted: false,
    };
    if (!(await holdLease())) {
      state = null;
      setLeader(false);
      return standby;
    }
    if (!leader || !state) {
      await loadState();
      setLeader(true);
      await deps.delivery.resumePending();
    }

    const toMin = Math.floor(deps.now().getTime() / MINUTE);
    // The domain list only names the domains to warm up or catch up; an ordinary poll gets every
    // domain from the metrics (fetching 10,000 domains' states every ten minutes for nothing cost a
    // poll's budget each time).
    const index = await regionIndex();
    let backfilled = false;
    if (!state) {
      const detector = createDetectorState();
      const recentFrom = toMin - Math.min(maxPollMinutes, 10);
      const map = await domainMap(false);
      logger.info('spam watcher: warming up the detector with history', {
        minutes: backfillMinutes,
        domains: map.size,
      });
      await catchUp(detector, toMin - backfillMinutes, recentFrom, map, index);
      state = { polledTo: isoOf(recentFrom), detector };
      shardWrittenAt = [];
      backfilled = true;
    } else {
      const polledToMin = Math.floor(Date.parse(state.polledTo) / MINUTE);
      if (toMin - polledToMin > maxPollMinutes) {
        const recentFrom = toMin - Math.min(maxPollMinutes, 10);
        logger.info('spam watcher: catching up on missed minutes', { minutes: recentFrom - polledToMin });
        await catchUp(state.detector, polledToMin, recentFrom, await domainMap(false), index);
        state.polledTo = isoOf(recentFrom);
        backfilled = true;
      }
    }

    const fromMin = Math.max(Math.floor(Date.parse(state.polledTo) / MINUTE), toMin - maxPollMinutes);
    if (fromMin >= toMin) return { ...standby, role: 'leader', backfilled };
    const series = await gateway.getSpamMetrics({ from: isoOf(fromMin), to: isoOf(toMin) });
    const { inputs, unknown } = inputsOf(series, index);
    if (unknown > 0) logger.warn('spam metrics for domains the region list does not know', { count: unknown });
    const { events } = detectSpikes(state.detector, { now: isoOf(toMin), domains: inputs }, config);
    // The next poll starts after the newest bucket every domain has: the gateway clips each page to
    // its own clock (complete minutes only), so a page fetched a second later may hold one bucket more
    // than the others. What one domain has already, the detector skips.
    let complete = Number.POSITIVE_INFINITY;
    let lastAt = '';
    for (const s of series) {
      const last = s.points.at(-1);
      // Nearly every domain's newest bucket is the same minute: parse a time only when it differs.
      if (last && last.at !== lastAt) {
        lastAt = last.at;
        complete = Math.min(complete, Math.floor(Date.parse(last.at) / MINUTE) + 1);
      }
    }
    if (Number.isFinite(complete)) {
      state.polledTo = isoOf(Math.max(Math.floor(Date.parse(state.polledTo) / MINUTE), Math.min(complete, toMin)));
    }

    if (events.length > 0) await handleEvents(events, index);
    const persisted = await persist(toMin, backfilled);
    return {
      role: 'leader',
      from: isoOf(fromMin),
      to: isoOf(toMin),
      domains: inputs.length,
      events,
      backfilled,
      persisted,
    };
  }

  async function handleEvents(events: SpikeEvent[], index: RegionIndex): Promise<void> {
    // The card shows the domains' inbound state as it is now, not as it was ten minutes ago.
    const map = await domainMap(true);
    for (const event of events) {
      const stored = await deps.delivery.recordEvent(event, { index, domains: map });
      if (event.type !== 'closed') await deps.delivery.fanOut(stored);
      if (event.type !== 'opened') await deps.delivery.refreshCopies(stored.id);
    }
  }

  function pollOnce(): Promise<PollResult> {
    if (!running) {
      running = poll().finally(() => {
        running = null;
      });
    }
    return running;
  }

  const schedule = (delayMs: number) => {
    timer = setTimeout(async () => {
      timer = null;
      try {
        await pollOnce();
      } catch (error) {
        logger.warn('spam watcher poll failed', { err: describeError(error) });
      }
      if (!stopped) schedule(deps.intervalMs);
    }, delayMs);
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        await running;
      } catch {
        // logged by the loop
      }
      if (leader) {
        try {
          await persist(Math.floor(deps.now().getTime() / MINUTE), true);
          await store.releaseLease(SPAM_WATCHER_LEASE, deps.holder);
        } catch (error) {
          logger.warn('spam watcher could not hand over cleanly', { err: describeError(error) });
        }
        setLeader(false);
      }
    },
    pollOnce,
    isLeader: () => leader,
  };
}

function readPersisted(data: unknown, shards: SpamDetectorShard[]): WatcherState | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Partial<PersistedHead> | Partial<PersistedStateV1>;
  if (typeof d.polledTo !== 'string' || Number.isNaN(Date.parse(d.polledTo))) return null;
  if (d.v === 2) return decodeDetector(d.detector, d.polledTo, shards);
  if (d.v !== 1 || typeof d.detectorJson !== 'string') return null;
  try {
    const detector = upgradeDetectorState(JSON.parse(d.detectorJson));
    return detector ? { polledTo: d.polledTo, detector } : null;
  } catch {
    return null;
  }
}

function isoOf(minute: number): string {
  return new Date(minute * MINUTE).toISOString();
}

function memoize<T>(f: (key: string) => T): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    let value = known.get(key);
    if (value === undefined) {
      value = f(key);
      known.set(key, value);
    }
    return value;
  };
}
