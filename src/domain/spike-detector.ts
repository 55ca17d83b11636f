// Spam-spike detection over the gateway's per-domain, per-minute metrics. Pure: the caller passes
// `now`, the buckets it fetched and the state it persisted after the previous poll.
//
// Design (why, in short):
// - Signal: spam per minute. That is what the alert is about; `received` is dominated by ordinary
//   mail and its office-hours rhythm, so a spam wave is a smaller relative change in it.
// - Two robust baselines, and a bucket is anomalous only if it is anomalous against BOTH:
//   1. trailing: median and MAD of the last `trailingMinutes` admitted buckets (kept sorted, so no
//      poll sorts a window). Works from the first hour on; blind to rhythm.
//   2. seasonal: per local hour of day and day type (weekday / weekend, 48 slots) the hourly medians
//      of the last `seasonalDays` days of that type; the level is their median, the spread their MAD.
//      It knows that 07:00 on a weekday is busier than 06:00, so the morning ramp, even a hard step at
//      opening time, is not a spike. In the last `seasonalNeighbourMinutes` of an hour the next hour's
//      slot counts too, because the ramp does not start at the same minute every day (a ramp-down
//      that comes late needs no such help: the trailing window has seen the high level).
//      Weekday/weekend rather than hour-of-week: warm after one day of each type instead of a week,
//      and Monday's office rhythm is Thursday's. The seasonal table learns from every bucket, spikes
//      included: excluding "anomalous" hours would mean a rhythm that once looked like a spike is
//      never learned and alarms every morning; the median over days ignores a single spike day (and
//      single holidays: Good Friday and Easter Monday are two of five).
//   Requiring both costs sensitivity to waves that build up slower than the trailing window (they
//   become "recent normal") and within half an hour before a busier hour; the February-2024 waves and
//   the simulator's injections are steps, and a false alarm every morning teaches people to mute.
// - Anomalous buckets and buckets of an active spike are not admitted to the trailing window, so a
//   spike does not become its own baseline. After `relearnAfterMinutes` of an active spike they are
//   admitted again: a level that lasts hours is the new normal and the alert should end.
// - Alerts are decided once per poll, on the domains' episodes at its end. So domains that spike in
//   the same poll form one group alert at once, and an episode that starts and ends between two polls
//   (poll every minute and that cannot happen) raises none.
// - State per domain is bounded: the trailing window, 48 × seasonalDays hourly medians, the current
//   hour's buckets and the last `seriesMinutes` values for the chart. Nothing grows with the polls.
// - Cold start: without seasonal history a hard rhythm step (the simulator's 07:00 edge) does look
//   like a spike. The watcher should warm up once with history (`backfill: true`), ideally the last
//   7 days, at least 3 so that both day types are seen.

import type { SpamPoint } from './model.ts';

export interface SpikeConfig {
  trailingMinutes: number;
  // Fewer admitted buckets than this: no baseline yet, no alerts for the domain.
  minBaselineMinutes: number;
  // Local time for the seasonal slots; office hours follow the wall clock, including DST.
  timeZone: string;
  seasonalNeighbourMinutes: number;
  // An hour needs this many buckets to enter its seasonal slot (a partial hour would skew it).
  seasonalMinMinutes: number;
  // Hourly medians kept per slot; their median ignores up to (n−1)/2 odd days.
  seasonalDays: number;
  // z = (x − median) / max(1.4826·MAD, √median, scaleFloor). Spam counts are roughly Poisson, whose
  // standard deviation is √mean; a MAD below that is an artefact of a short or quantised window.
  scaleFloor: number;
  zOpen: number;
  openAfterBuckets: number;
  zClose: number;
  closeAfterBuckets: number;
  // Volume guards for opening: small towns' domains must not alert on 2 → 8 mails.
  minSpamPerMinute: number;
  minFactor: number;
  cooldownMinutes: number;
  relearnAfterMinutes: number;
  // One group alert instead of many domain alerts when this many domains of the group spike at once,
  // or this share of them (and at least two). A domain's group is the region the caller assigns it to
  // (the smallest region above a single town: a Kreis in Südwestfalen; see alertGroupOf).
  groupMinDomains: number;
  groupMinShare: number;
  // 'updated' only when the factor moved by this relative amount since the last event, and not more
  // often than every updateMinIntervalMinutes (domain membership changes are always reported).
  updateMinFactorChange: number;
  updateMinIntervalMinutes: number;
  // currentRate/baselineRate/factor of an alert are means over its last rateMinutes buckets.
  rateMinutes: number;
  seriesMinutes: number;
  // Domains absent from the input this long are forgotten (a domain that was removed from the gateway).
  forgetAfterMinutes: number;
}

export const defaultSpikeConfig: SpikeConfig = {
  trailingMinutes: 60,
  minBaselineMinutes: 30,
  timeZone: 'Europe/Berlin',
  seasonalNeighbourMinutes: 30,
  seasonalMinMinutes: 30,
  seasonalDays: 5,
  scaleFloor: 1,
  zOpen: 3.5,
  openAfterBuckets: 2,
  zClose: 2,
  closeAfterBuckets: 3,
  minSpamPerMinute: 20,
  minFactor: 3,
  cooldownMinutes: 30,
  relearnAfterMinutes: 240,
  groupMinDomains: 3,
  groupMinShare: 0.5,
  updateMinFactorChange: 0.5,
  updateMinIntervalMinutes: 5,
  rateMinutes: 5,
  seriesMinutes: 120,
  forgetAfterMinutes: 8 * 24 * 60,
};

export type SpikeScopeKind = 'domain' | 'group';
export interface SpikeScope {
  kind: SpikeScopeKind;
  id: string;
}
export interface SpikeSeriesPoint {
  at: string;
  value: number;
  baseline: number;
}
export interface SpikeAlert {
  id: string;
  scope: SpikeScope;
  // The group the alert's domains belong to (for a group alert its scope id).
  group: string;
  domains: string[];
  startedAt: string;
  endedAt: string | null;
  currentRate: number;
  baselineRate: number;
  factor: number;
  peakFactor: number;
  // Set on the 'closed' event of a domain alert that became part of a group alert (the id of that one).
  foldedInto: string | null;
  series: SpikeSeriesPoint[];
}
export type SpikeEventType = 'opened' | 'updated' | 'closed';
export interface SpikeEvent {
  type: SpikeEventType;
  alert: SpikeAlert;
}

export interface DomainSpamInput {
  domain: string;
  group: string;
  points: SpamPoint[];
}
export interface DetectInput {
  now: string;
  domains: DomainSpamInput[];
  // Warm-up with history (first start: the last days): baselines learn, episodes are tracked,
  // but no alert opens, changes or closes and no events are returned. Spikes still running at the end
  // are alerted by the next regular poll.
  backfill?: boolean;
}

type Phase = 'quiet' | 'pending' | 'active';
// Everything is minutes since the epoch (integers) to keep the JSON small and the arithmetic exact.
interface DomainTrack {
  group: string;
  last: number | null;
  // Admitted values: in order of admission until trailingMinutes are there, then a ring whose oldest
  // value — the next to be replaced — is at winNext. Rings rather than push-and-shift lists: shifting
  // moved the whole window and, as V8 trims a shifted array's front, regrew it every few dozen minutes,
  // per domain — garbage and copies the collector paid for at 10,000 domains.
  win: number[];
  winNext: number;
  sorted: number[]; // the same values, ascending
  season: number[][]; // per slot (dayType·24 + local hour) the last seasonalDays hourly medians
  hour: number | null; // epoch hour the accumulator belongs to
  hourVals: number[]; // every bucket of that hour
  // The last seriesMinutes values ending at `last`, as a ring: minute m at m mod seriesMinutes; −1 = no
  // bucket.
  recV: number[];
  recB: number[]; // the baseline used for that bucket, likewise
  phase: Phase;
  run: number;
  calm: number;
  calmSince: number | null;
  since: number | null; // first anomalous bucket of the current episode
  activeSince: number | null;
  endedAt: number | null; // first calm bucket of the last finished episode
}
interface AlertTrack {
  id: string;
  kind: SpikeScopeKind;
  scopeId: string;
  group: string;
  domains: string[];
  startedAt: number;
  peakFactor: number;
  reportedFactor: number;
  reportedAt: number;
  evaluatedUntil: number;
}
export interface DetectorState {
  version: 3;
  domains: Record<string, DomainTrack>;
  alerts: Record<string, AlertTrack>;
  cooldowns: Record<string, number>; // scope key → minute until which it may not open again
  sweptAt?: number;
}

export function createDetectorState(): DetectorState {
  return { version: 3, domains: {}, alerts: {}, cooldowns: {} };
}

// Older states are upgraded in place, so a watcher taking over keeps its baselines and its open alerts
// (their ids stay as they were issued):
// - version 2 (until December 2026) kept the trailing window and the chart's series as lists, oldest
//   first; version 3 keeps them as rings (DomainTrack).
// - version 1 (until December 2026) also named the group after Südwestfalen's level ("kreis") and kept
//   the Verband beside it.
// Anything else is not a detector state: null.
export function upgradeDetectorState(raw: unknown): DetectorState | null {
  if (!raw || typeof raw !== 'object') return null;
  const s = raw as { version?: unknown; domains?: unknown; alerts?: unknown; cooldowns?: unknown };
  if (typeof s.domains !== 'object' || s.domains === null) return null;
  if (typeof s.alerts !== 'object' || s.alerts === null) return null;
  if (typeof s.cooldowns !== 'object' || s.cooldowns === null) return null;
  if (s.version === 3) return raw as DetectorState;
  if (s.version === 2) return withRings(raw as DetectorState);
  if (s.version !== 1) return null;
  const renamed = (o: Record<string, unknown>) => {
    const { kreis, verband: _verband, ...rest } = o;
    return { ...rest, group: kreis };
  };
  const domains: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(s.domains as Record<string, Record<string, unknown>>))
    domains[name] = renamed(t);
  const alerts: Record<string, unknown> = {};
  for (const [id, a] of Object.entries(s.alerts as Record<string, Record<string, unknown>>)) {
    alerts[id] = { ...renamed(a), kind: a.kind === 'kreis' ? 'group' : a.kind };
  }
  const cooldowns: Record<string, number> = {};
  for (const [key, until] of Object.entries(s.cooldowns as Record<string, number>)) {
    cooldowns[key.startsWith('kreis:') ? `group:${key.slice('kreis:'.length)}` : key] = until;
  }
  return withRings({ ...(raw as object), version: 2, domains, alerts, cooldowns } as unknown as DetectorState);
}

// Version 2's lists as version 3's rings. A list of the window is a ring that has not wrapped yet.
function withRings(state: DetectorState): DetectorState {
  for (const name in state.domains) {
    const t = state.domains[name]!;
    t.winNext = 0;
    if (t.last === null) {
      t.recV = emptySeries(defaultSpikeConfig.seriesMinutes);
      t.recB = emptySeries(defaultSpikeConfig.seriesMinutes);
      continue;
    }
    const size = Math.max(defaultSpikeConfig.seriesMinutes, t.recV.length);
    const values = emptySeries(size);
    const baselines = emptySeries(size);
    t.recV.forEach((v, k) => {
      const slot = (t.last! - (t.recV.length - 1 - k)) % size;
      values[slot] = v;
      baselines[slot] = t.recB[k]!;
    });
    t.recV = values;
    t.recB = baselines;
  }
  state.version = 3;
  return state;
}

export interface DetectResult {
  state: DetectorState;
  events: SpikeEvent[];
}

// The state is updated in place and returned: it is the caller's working copy, persisted after each
// poll. Copying every domain's windows per poll would cost more than the detection (10,000 domains).
export function detectSpikes(
  state: DetectorState,
  input: DetectInput,
  config: SpikeConfig = defaultSpikeConfig,
): DetectResult {
  const nowMs = Date.parse(input.now);
  if (Number.isNaN(nowMs)) throw new RangeError(`now is not an ISO date-time: ${input.now}`);
  const nowMin = Math.floor(nowMs / 60_000);
  const slots = createSlotLookup(config.timeZone);
  const minutes = createMinuteParser();
  const active = activeTracksOf(state);

  for (const d of input.domains) {
    let track = state.domains[d.domain];
    if (!track) {
      track = newTrack(d.group, config);
      state.domains[d.domain] = track;
    }
    track.group = d.group;
    // The usual case — the gateway's points in time order — is processed as it is read; anything else
    // goes through newBuckets' sorting. Allocating a list per domain and poll was a good part of the
    // detector's time at 10,000 domains.
    if (inOrder(d.points, minutes)) {
      for (const p of d.points) {
        const minute = minutes(p.at);
        if (Number.isNaN(minute) || minute + 1 > nowMin) continue;
        if (track.last !== null && minute <= track.last) continue;
        active.n += processBucket(track, minute, p.spam, config, slots);
      }
    } else {
      for (const [minute, value] of newBuckets(d.points, track.last, nowMin, minutes)) {
        active.n += processBucket(track, minute, value, config, slots);
      }
    }
  }

  if (input.backfill) return { state, events: [] };
  // Nothing spiking and no alert open: no alert can open, change or close, and the pass over every
  // domain that groups them (a sixteenth of a quiet poll at 10,000 domains) is skipped.
  let events: SpikeEvent[] = [];
  if (active.n > 0 || Object.keys(state.alerts).length > 0) events = manageAlerts(state, nowMin, config);
  else expireCooldowns(state, nowMin);
  active.n -= forgetStale(state, nowMin, config);
  return { state, events };
}

// How many tracks of a state are active, counted once per state object and then kept up to date by the
// transitions (processBucket's result, forgetStale's). Not part of the state: a state read from the
// store, or upgraded, is a new object and is counted afresh.
const activeTracks = new WeakMap<DetectorState, { n: number }>();
function activeTracksOf(state: DetectorState): { n: number } {
  let active = activeTracks.get(state);
  if (!active) {
    active = { n: 0 };
    for (const name in state.domains) if (state.domains[name]!.phase === 'active') active.n += 1;
    activeTracks.set(state, active);
  }
  return active;
}

// ---------------------------------------------------------------------------------------------
// Per-domain detection

function newTrack(group: string, c: SpikeConfig): DomainTrack {
  return {
    group,
    last: null,
    win: [],
    winNext: 0,
    sorted: [],
    season: Array.from({ length: 48 }, () => []),
    hour: null,
    hourVals: [],
    recV: emptySeries(c.seriesMinutes),
    recB: emptySeries(c.seriesMinutes),
    phase: 'quiet',
    run: 0,
    calm: 0,
    calmSince: null,
    since: null,
    activeSince: null,
    endedAt: null,
  };
}

// Strictly ascending minutes, none unparseable.
function inOrder(points: readonly SpamPoint[], minuteOf: (iso: string) => number): boolean {
  let previous = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    const minute = minuteOf(p.at);
    if (!(minute > previous)) return false;
    previous = minute;
  }
  return true;
}

// Buckets not seen before (idempotent under overlapping poll windows) and complete (a bucket is still
// filling until its minute has passed; counting it early would undercount it for good).
function newBuckets(
  points: readonly SpamPoint[],
  last: number | null,
  nowMin: number,
  minuteOf: (iso: string) => number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let ordered = true;
  for (const p of points) {
    const minute = minuteOf(p.at);
    if (Number.isNaN(minute) || minute + 1 > nowMin) continue;
    if (last !== null && minute <= last) continue;
    if (out.length > 0 && minute <= out[out.length - 1]![0]) ordered = false;
    out.push([minute, p.spam]);
  }
  if (ordered) return out;
  // The gateway answers in time order; anything else is sorted and de-duplicated (first one wins).
  out.sort((a, b) => a[0] - b[0]);
  return out.filter((b, i) => i === 0 || b[0] !== out[i - 1]![0]);
}

// Every domain of one poll carries the same timestamps: parse each distinct string once. Consecutive
// calls mostly ask for the string asked for last (a poll's one new minute, domain after domain), and
// comparing two short strings is cheaper than hashing a freshly parsed one for the map.
function createMinuteParser(): (iso: string) => number {
  const memo = new Map<string, number>();
  let lastIso = '';
  let lastMinute = Number.NaN;
  return (iso) => {
    if (iso === lastIso) return lastMinute;
    let minute = memo.get(iso);
    if (minute === undefined) {
      minute = Math.floor(Date.parse(iso) / 60_000);
      memo.set(iso, minute);
    }
    lastIso = iso;
    lastMinute = minute;
    return minute;
  };
}

interface Baseline {
  value: number;
  z: number;
}

// Returns how the number of active tracks changed: +1 (this one became active), −1 (it calmed down) or 0.
function processBucket(t: DomainTrack, minute: number, x: number, c: SpikeConfig, slots: SlotLookup): number {
  const wasActive = t.phase === 'active';
  rollHour(t, Math.floor(minute / 60), c, slots);
  // Below the volume guard a quiet or pending domain cannot turn anomalous whatever its z, so z (two or
  // three MADs) is computed only where it can matter: most domains of a large estate are small towns.
  const base = baselineFor(t, minute, x, c, slots, t.phase === 'active' || x >= c.minSpamPerMinute);
  const factor = base ? factorOf(x, base.value) : 0;
  const anomalous = base !== null && base.z >= c.zOpen && x >= c.minSpamPerMinute && factor >= c.minFactor;

  switch (t.phase) {
    case 'quiet':
      if (anomalous) {
        t.since = minute;
        t.run = 1;
        if (t.run >= c.openAfterBuckets) activate(t, minute);
        else t.phase = 'pending';
      }
      break;
    case 'pending':
      if (anomalous) {
        t.run += 1;
        if (t.run >= c.openAfterBuckets) activate(t, minute);
      } else {
        t.phase = 'quiet';
        t.run = 0;
        t.since = null;
      }
      break;
    case 'active':
      if (base !== null && base.z < c.zClose) {
        if (t.calm === 0) t.calmSince = minute;
        t.calm += 1;
        if (t.calm >= c.closeAfterBuckets) {
          t.phase = 'quiet';
          t.endedAt = t.calmSince;
          t.run = 0;
          t.calm = 0;
          t.calmSince = null;
          t.since = null;
          t.activeSince = null;
        }
      } else {
        t.calm = 0;
        t.calmSince = null;
      }
      break;
  }

  const relearning = t.phase === 'active' && t.activeSince !== null && minute - t.activeSince >= c.relearnAfterMinutes;
  if ((!anomalous && t.phase !== 'active') || relearning) admit(t, x, c);
  t.hourVals.push(x);
  record(t, minute, x, base ? base.value : x, c);
  return (t.phase === 'active' ? 1 : 0) - (wasActive ? 1 : 0);
}

function activate(t: DomainTrack, minute: number): void {
  t.phase = 'active';
  t.activeSince = minute;
  t.calm = 0;
  t.calmSince = null;
}

// Below one spam a minute the ratio is noise; the volume guard decides there.
function factorOf(x: number, baseline: number): number {
  return x / Math.max(baseline, 1);
}

function scaleOf(median: number, mad: number, c: SpikeConfig): number {
  return Math.max(1.4826 * mad, Math.sqrt(median), c.scaleFloor);
}

// withZ false: z is NaN and only the value is computed. The result is one reused object, valid until the
// next call: a fresh one per domain and minute was garbage the collector had to copy at 10,000 domains.
const baseline: Baseline = { value: 0, z: 0 };
function baselineFor(
  t: DomainTrack,
  minute: number,
  x: number,
  c: SpikeConfig,
  slots: SlotLookup,
  withZ: boolean,
): Baseline | null {
  if (t.sorted.length < c.minBaselineMinutes) return null;
  const med = medianOfSorted(t.sorted, t.sorted.length);
  const result = baseline;
  result.value = med;
  result.z = withZ ? (x - med) / scaleOf(med, madOfSorted(t.sorted, med, t.sorted.length), c) : Number.NaN;
  const here = slots(minute);
  const ahead = slots(minute + c.seasonalNeighbourMinutes);
  applySeasonal(result, t.season[here]!, x, c, withZ);
  if (ahead !== here) applySeasonal(result, t.season[ahead]!, x, c, withZ);
  return result;
}

// Reused scratch arrays are filled up to a count and never truncated: `length = 0` gives a V8 array a new,
// empty backing store, so the next fill would allocate one again (per domain and minute here).
const scratch: number[] = [];
function applySeasonal(result: Baseline, days: readonly number[], x: number, c: SpikeConfig, withZ: boolean): void {
  const n = days.length;
  if (n === 0) return;
  // At most seasonalDays values: an insertion sort into a reused array beats slice().sort() here.
  for (let k = 0; k < n; k++) {
    const v = days[k]!;
    let i = k;
    while (i > 0 && scratch[i - 1]! > v) {
      scratch[i] = scratch[i - 1]!;
      i--;
    }
    scratch[i] = v;
  }
  const level = medianOfSorted(scratch, n);
  result.value = Math.max(result.value, level);
  if (!withZ) return;
  // Day-to-day spread needs a few days; before that √level (Poisson) and the floor carry the scale.
  const spread = n >= 3 ? madOfSorted(scratch, level, n) : 0;
  result.z = Math.min(result.z, (x - level) / scaleOf(level, spread, c));
}

function admit(t: DomainTrack, x: number, c: SpikeConfig): void {
  const size = c.trailingMinutes;
  if (t.win.length > size || (t.winNext !== 0 && t.win.length < size)) resizeWindow(t, size);
  if (t.win.length < size) {
    t.win.push(x);
  } else {
    removeSorted(t.sorted, t.win[t.winNext]!);
    t.win[t.winNext] = x;
    t.winNext = (t.winNext + 1) % size;
  }
  insertSorted(t.sorted, x);
}

// trailingMinutes changed: the newest values in order of admission, as many as now fit.
function resizeWindow(t: DomainTrack, size: number): void {
  const ordered = [...t.win.slice(t.winNext), ...t.win.slice(0, t.winNext)].slice(-size);
  t.win = ordered;
  t.winNext = 0;
  t.sorted = ordered.slice().sort((a, b) => a - b);
}

// When a bucket of a later hour arrives, the finished hour's admitted values update its seasonal slot.
function rollHour(t: DomainTrack, hour: number, c: SpikeConfig, slots: SlotLookup): void {
  if (t.hour === hour) return;
  if (t.hour !== null && t.hourVals.length >= c.seasonalMinMinutes) {
    const med = medianOf(t.hourVals);
    const days = t.season[slots(t.hour * 60)]!;
    days.push(round2(med));
    while (days.length > c.seasonalDays) days.shift();
  }
  t.hour = hour;
  t.hourVals.length = 0;
}

function record(t: DomainTrack, minute: number, x: number, baseline: number, c: SpikeConfig): void {
  const size = c.seriesMinutes;
  if (t.recV.length !== size) resizeSeries(t, size);
  // Minutes without a bucket between the last one and this one.
  const gap = t.last === null ? 0 : Math.min(minute - t.last - 1, size);
  for (let m = minute - gap; m < minute; m++) {
    t.recV[m % size] = -1;
    t.recB[m % size] = -1;
  }
  t.recV[minute % size] = x;
  t.recB[minute % size] = round2(baseline);
  t.last = minute;
}

function emptySeries(size: number): number[] {
  const series: number[] = [];
  for (let i = 0; i < size; i++) series.push(-1);
  return series;
}

// seriesMinutes changed: the newest minutes that fit, each at its slot in the new ring.
function resizeSeries(t: DomainTrack, size: number): void {
  const had = t.recV.length;
  const values = emptySeries(size);
  const baselines = emptySeries(size);
  if (t.last !== null && had > 0) {
    for (let m = t.last - Math.min(had, size) + 1; m <= t.last; m++) {
      values[m % size] = t.recV[m % had]!;
      baselines[m % size] = t.recB[m % had]!;
    }
  }
  t.recV = values;
  t.recB = baselines;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

// ---------------------------------------------------------------------------------------------
// Alerts: from domain episodes to domain and group alerts, with cooldown and folding

interface Frame {
  value: number;
  baseline: number;
}

function manageAlerts(s: DetectorState, nowMin: number, c: SpikeConfig): SpikeEvent[] {
  const events: SpikeEvent[] = [];
  const byGroup = new Map<string, { total: number; active: string[] }>();
  for (const name in s.domains) {
    const t = s.domains[name]!;
    let k = byGroup.get(t.group);
    if (!k) {
      k = { total: 0, active: [] };
      byGroup.set(t.group, k);
    }
    k.total += 1;
    if (t.phase === 'active') k.active.push(name);
  }
  const openGroups = new Map<string, AlertTrack>();
  for (const a of Object.values(s.alerts)) if (a.kind === 'group') openGroups.set(a.scopeId, a);
  const cooling = (key: string) => (s.cooldowns[key] ?? Number.NEGATIVE_INFINITY) > nowMin;
  // Domains whose group qualifies for a group alert but is cooling down: no domain alerts either,
  // otherwise the cooldown would turn one group alert into a flood of domain alerts.
  const suppressed = new Set<string>();

  // 1. Running group alerts: take in newly spiking domains of the group, close when all are calm.
  for (const [group, alert] of openGroups) {
    const k = byGroup.get(group) ?? { total: 0, active: [] };
    const a = { ...alert, domains: alert.domains.slice() };
    let grown = false;
    for (const d of k.active) {
      if (!a.domains.includes(d)) {
        a.domains.push(d);
        grown = true;
      }
      foldDomainAlert(s, d, a, nowMin, c, events);
    }
    if (k.active.length === 0) {
      closeAlert(s, a, nowMin, c, events);
      for (const d of a.domains) s.cooldowns[`domain:${d}`] = nowMin + c.cooldownMinutes;
    } else {
      s.alerts[a.id] = a;
      reportProgress(s, a, nowMin, c, events, grown);
    }
  }

  // 2. New group alerts.
  for (const [group, k] of byGroup) {
    if (openGroups.has(group)) continue;
    const n = k.active.length;
    const qualifies = n >= c.groupMinDomains || (n >= 2 && n / k.total >= c.groupMinShare);
    if (!qualifies) continue;
    if (cooling(`group:${group}`)) {
      for (const d of k.active) suppressed.add(d);
      continue;
    }
    const domains = k.active.slice().sort();
    const startedAt = Math.min(...domains.map((d) => s.domains[d]!.since ?? nowMin));
    const a: AlertTrack = {
      id: alertId('group', group, startedAt),
      kind: 'group',
      scopeId: group,
      group,
      domains,
      startedAt,
      peakFactor: 0,
      reportedFactor: 0,
      reportedAt: nowMin,
      evaluatedUntil: startedAt - 1,
    };
    for (const d of domains) foldDomainAlert(s, d, a, nowMin, c, events);
    openAlert(s, a, c, events);
    openGroups.set(group, a);
  }

  // 3. Domain alerts: close calm ones, report changes, open new ones.
  for (const alert of Object.values(s.alerts)) {
    if (alert.kind !== 'domain') continue;
    const a = { ...alert };
    const t = s.domains[a.scopeId];
    if (t?.phase !== 'active') {
      closeAlert(s, a, nowMin, c, events);
      s.cooldowns[`domain:${a.scopeId}`] = nowMin + c.cooldownMinutes;
    } else {
      s.alerts[a.id] = a;
      reportProgress(s, a, nowMin, c, events, false);
    }
  }
  const openDomains = new Set(
    Object.values(s.alerts)
      .filter((a) => a.kind === 'domain')
      .map((a) => a.scopeId),
  );
  for (const [group, k] of byGroup) {
    if (openGroups.has(group)) continue;
    for (const d of k.active) {
      if (openDomains.has(d) || suppressed.has(d) || cooling(`domain:${d}`)) continue;
      const t = s.domains[d]!;
      const startedAt = t.since ?? nowMin;
      openAlert(
        s,
        {
          id: alertId('domain', d, startedAt),
          kind: 'domain',
          scopeId: d,
          group,
          domains: [d],
          startedAt,
          peakFactor: 0,
          reportedFactor: 0,
          reportedAt: nowMin,
          evaluatedUntil: startedAt - 1,
        },
        c,
        events,
      );
    }
  }

  expireCooldowns(s, nowMin);
  return events;
}

function expireCooldowns(s: DetectorState, nowMin: number): void {
  for (const [key, until] of Object.entries(s.cooldowns)) if (until <= nowMin) delete s.cooldowns[key];
}

function alertId(kind: SpikeScopeKind, scopeId: string, startedAt: number): string {
  return `spike:${kind}:${scopeId}:${isoOf(startedAt)}`;
}

function isoOf(minute: number): string {
  return new Date(minute * 60_000).toISOString();
}

function openAlert(s: DetectorState, a: AlertTrack, c: SpikeConfig, events: SpikeEvent[]): void {
  const frames = framesOf(s, a.domains, c.seriesMinutes);
  updatePeak(a, frames);
  const latest = currentFrame(a.startedAt, frames, c);
  a.reportedFactor = latest ? factorOf(latest.value, latest.baseline) : 0;
  s.alerts[a.id] = a;
  events.push({ type: 'opened', alert: viewOf(a, frames, c, null, null) });
}

function reportProgress(
  s: DetectorState,
  a: AlertTrack,
  nowMin: number,
  c: SpikeConfig,
  events: SpikeEvent[],
  membershipChanged: boolean,
): void {
  const frames = framesOf(s, a.domains, c.seriesMinutes);
  updatePeak(a, frames);
  const latest = currentFrame(a.startedAt, frames, c);
  if (!latest) return;
  const factor = factorOf(latest.value, latest.baseline);
  const ratio = Math.max(factor, 1e-9) / Math.max(a.reportedFactor, 1e-9);
  const moved = Math.max(ratio, 1 / ratio) - 1 >= c.updateMinFactorChange;
  if (membershipChanged || (moved && nowMin - a.reportedAt >= c.updateMinIntervalMinutes)) {
    a.reportedFactor = factor;
    a.reportedAt = nowMin;
    events.push({ type: 'updated', alert: viewOf(a, frames, c, null, null) });
  }
}

function closeAlert(s: DetectorState, a: AlertTrack, nowMin: number, c: SpikeConfig, events: SpikeEvent[]): void {
  const frames = framesOf(s, a.domains, c.seriesMinutes);
  updatePeak(a, frames);
  const ends = a.domains.map((d) => s.domains[d]?.endedAt ?? null).filter((m): m is number => m !== null);
  const endedAt = ends.length > 0 ? Math.max(...ends) : nowMin;
  delete s.alerts[a.id];
  if (a.kind === 'group') s.cooldowns[`group:${a.scopeId}`] = nowMin + c.cooldownMinutes;
  events.push({ type: 'closed', alert: viewOf(a, frames, c, endedAt, null) });
}

// A domain alert that becomes part of a group alert ends as 'closed' with foldedInto, so its card
// can say where the story continues.
function foldDomainAlert(
  s: DetectorState,
  domain: string,
  into: AlertTrack,
  nowMin: number,
  c: SpikeConfig,
  events: SpikeEvent[],
): void {
  const found = Object.values(s.alerts).find((a) => a.kind === 'domain' && a.scopeId === domain);
  if (!found) return;
  const alert = { ...found };
  const frames = framesOf(s, alert.domains, c.seriesMinutes);
  updatePeak(alert, frames);
  delete s.alerts[alert.id];
  events.push({ type: 'closed', alert: viewOf(alert, frames, c, nowMin, into.id) });
}

// Per minute (oldest first) the sum of the alert's domains' values and baselines, over the last
// seriesMinutes ending at the newest bucket any of them has.
function framesOf(s: DetectorState, domains: readonly string[], seriesMinutes: number): Map<number, Frame> {
  const tracks = domains.map((d) => s.domains[d]).filter((t): t is DomainTrack => t !== undefined && t.last !== null);
  const frames = new Map<number, Frame>();
  if (tracks.length === 0) return frames;
  const end = Math.max(...tracks.map((t) => t.last!));
  for (let m = end - seriesMinutes + 1; m <= end; m++) {
    let value = 0;
    let baseline = 0;
    let any = false;
    for (const t of tracks) {
      const size = t.recV.length;
      if (m > t.last! || m <= t.last! - size) continue;
      const i = m % size;
      if (t.recV[i]! < 0) continue;
      value += t.recV[i]!;
      baseline += t.recB[i]!;
      any = true;
    }
    if (any) frames.set(m, { value, baseline: round2(baseline) });
  }
  return frames;
}

// The alert's current rate and baseline: the mean of its last rateMinutes buckets since `since` (its
// start; for a closed alert its end), so one noisy minute neither moves the card nor triggers an update.
function currentFrame(since: number, frames: Map<number, Frame>, c: SpikeConfig): Frame | null {
  const recent: Frame[] = [];
  let latest: Frame | null = null;
  for (const [m, f] of frames) {
    latest = f;
    if (m >= since) recent.push(f);
  }
  const window = recent.slice(-c.rateMinutes);
  if (window.length === 0) return latest;
  const value = window.reduce((sum, f) => sum + f.value, 0) / window.length;
  const baseline = window.reduce((sum, f) => sum + f.baseline, 0) / window.length;
  return { value: round2(value), baseline: round2(baseline) };
}

function updatePeak(a: AlertTrack, frames: Map<number, Frame>): void {
  for (const [m, f] of frames) {
    if (m <= a.evaluatedUntil || m < a.startedAt) continue;
    a.peakFactor = Math.max(a.peakFactor, factorOf(f.value, f.baseline));
    a.evaluatedUntil = m;
  }
}

function viewOf(
  a: AlertTrack,
  frames: Map<number, Frame>,
  c: SpikeConfig,
  endedAt: number | null,
  foldedInto: string | null,
): SpikeAlert {
  const closedAfterCalm = endedAt !== null && foldedInto === null;
  const latest = currentFrame(closedAfterCalm ? endedAt : a.startedAt, frames, c);
  const currentRate = latest?.value ?? 0;
  const baselineRate = latest?.baseline ?? 0;
  return {
    id: a.id,
    scope: { kind: a.kind, id: a.scopeId },
    group: a.group,
    domains: a.domains.slice(),
    startedAt: isoOf(a.startedAt),
    endedAt: endedAt === null ? null : isoOf(endedAt),
    currentRate,
    baselineRate,
    factor: round2(factorOf(currentRate, baselineRate)),
    peakFactor: round2(a.peakFactor),
    foldedInto,
    series: [...frames].map(([m, f]) => ({ at: isoOf(m), value: f.value, baseline: f.baseline })),
  };
}

// Once an hour is plenty for something measured in days.
// Returns how many of the forgotten tracks were active.
function forgetStale(s: DetectorState, nowMin: number, c: SpikeConfig): number {
  if (s.sweptAt !== undefined && nowMin - s.sweptAt < 60) return 0;
  s.sweptAt = nowMin;
  const alerted = new Set(Object.values(s.alerts).flatMap((a) => a.domains));
  let active = 0;
  for (const name in s.domains) {
    const t = s.domains[name]!;
    if (t.last !== null && nowMin - t.last > c.forgetAfterMinutes && !alerted.has(name)) {
      if (t.phase === 'active') active += 1;
      delete s.domains[name];
    }
  }
  return active;
}

// ---------------------------------------------------------------------------------------------
// Helpers: sorted windows, robust statistics, seasonal slots

// n: how many of a's first elements count (the scratch arrays above are longer than what they hold).
function lowerBound(a: readonly number[], x: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// By hand rather than splice, which allocates the array of removed elements on every call (twice per
// domain and minute).
function insertSorted(a: number[], x: number): void {
  const at = lowerBound(a, x);
  a.push(x);
  for (let i = a.length - 1; i > at; i--) a[i] = a[i - 1]!;
  a[at] = x;
}

function removeSorted(a: number[], x: number): void {
  const at = lowerBound(a, x);
  if (a[at] !== x) return;
  for (let i = at; i < a.length - 1; i++) a[i] = a[i + 1]!;
  a.pop();
}

function medianOfSorted(a: readonly number[], n: number): number {
  if (n === 0) return 0;
  const mid = n >>> 1;
  return n % 2 === 1 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
}

// Median of unsorted values without sorting them: quickselect on a reused copy, O(n) on average.
const selectScratch: number[] = [];
function medianOf(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return 0;
  const a = selectScratch;
  for (let i = 0; i < n; i++) a[i] = values[i]!;
  const upper = select(a, n >>> 1, n);
  if (n % 2 === 1) return upper;
  // After select, everything left of n/2 is ≤ a[n/2]; the lower middle is their maximum.
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n >>> 1; i++) lower = Math.max(lower, a[i]!);
  return (lower + upper) / 2;
}

function select(a: number[], k: number, n: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const tmp = a[i]!;
        a[i] = a[j]!;
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

// Median absolute deviation from a sorted array in O(n): the deviations below and above the median
// are two ascending runs (walking outwards from the middle), merged until the middle element(s).
function madOfSorted(a: readonly number[], med: number, n: number): number {
  if (n === 0) return 0;
  let lo = lowerBound(a, med, n) - 1; // walks down: med − a[lo] ascending
  let hi = lo + 1; // walks up: a[hi] − med ascending
  const want = n >>> 1; // index of the (upper) middle deviation
  let prev = 0;
  let cur = 0;
  for (let k = 0; k <= want; k++) {
    const dl = lo >= 0 ? med - a[lo]! : Number.POSITIVE_INFINITY;
    const dh = hi < n ? a[hi]! - med : Number.POSITIVE_INFINITY;
    prev = cur;
    if (dl <= dh) {
      cur = dl;
      lo--;
    } else {
      cur = dh;
      hi++;
    }
  }
  return n % 2 === 1 ? cur : (prev + cur) / 2;
}

type SlotLookup = (minute: number) => number;

const formatters = new Map<string, Intl.DateTimeFormat>();

// Slot = dayType·24 + local hour (dayType 0 weekday, 1 weekend). Results are memoised per quarter hour
// (every real UTC offset is a multiple of 15 minutes) for the duration of one call.
function createSlotLookup(timeZone: string): SlotLookup {
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, fmt);
  }
  const format = fmt;
  const memo = new Map<number, number>();
  // Domain after domain asks for the same two quarters (a bucket's own and the one half an hour ahead):
  // the last two answers first, then the memo.
  let lastQuarter = Number.NaN;
  let lastSlot = 0;
  let otherQuarter = Number.NaN;
  let otherSlot = 0;
  return (minute) => {
    const quarter = Math.floor(minute / 15);
    if (quarter === lastQuarter) return lastSlot;
    if (quarter === otherQuarter) return otherSlot;
    let slot = memo.get(quarter);
    if (slot === undefined) {
      let weekday = '';
      let hour = 0;
      for (const part of format.formatToParts(new Date(quarter * 15 * 60_000))) {
        if (part.type === 'weekday') weekday = part.value;
        else if (part.type === 'hour') hour = Number(part.value) % 24;
      }
      slot = (weekday === 'Sat' || weekday === 'Sun' ? 24 : 0) + hour;
      memo.set(quarter, slot);
    }
    otherQuarter = lastQuarter;
    otherSlot = lastSlot;
    lastQuarter = quarter;
    lastSlot = slot;
    return slot;
  };
}
