import type { HistoryPoint } from './model.ts';

// "When will Kreis Olpe be done?" from the compliance history. The rate is the net fall of the
// unpatched count per hour over the recent window, so devices joining or leaving the inventory
// (rebuilt clients appear unpatched, Feb 2024) slow the estimate down instead of fooling it.

export type CompletionState = 'complete' | 'progressing' | 'stalled' | 'no_data';

export interface CompletionEstimate {
  // Unpatched devices fewer per hour (one decimal); negative when more become unpatched than get
  // patched; null when the window holds fewer than two points.
  ratePerHour: number | null;
  remaining: number | null; // unpatched at the latest point; null without points
  // Only when progressing: when the devices still on their way (remaining minus failed) are done at
  // the current pace. Never before nowIso. With failed devices this is not 100 %: they need hands.
  etaAt: string | null;
  state: CompletionState;
  failed: number; // failed devices now: they do not finish by themselves
  // Only when stalled: the first point of the trailing stretch without real progress (not after nowIso).
  stalledSince: string | null;
}

// Recent enough to show today's pace, long enough to span a reboot window.
export const RATE_WINDOW_HOURS = 6;
// Below one device per window the rollout is not moving.
const MIN_RATE_PER_HOUR = 1 / RATE_WINDOW_HOURS;
// A pace that needs more than a week for what is left is not a date worth printing: "stockt".
export const STALL_AFTER_HOURS = 7 * 24;
const HOUR_MS = 3_600_000;

// nowIso must be on the same clock as the points (the inventory's observedAt; with the simulator
// that is simulated time, not the wall clock). A history whose latest point is older than the
// window before now says nothing about the current pace: no_data.
// failed: devices of this kind in state failed now (the compliance report's count); they stay
// unpatched until somebody repairs them, so they are never part of a date.
export function estimateCompletion(
  points: readonly HistoryPoint[],
  kind: 'client' | 'server' | 'all',
  nowIso: string,
  failedNow = 0,
): CompletionEstimate {
  const series = toSeries(points, kind);
  const last = series.at(-1);
  const none = { etaAt: null, stalledSince: null };
  if (!last) return { ratePerHour: null, remaining: null, state: 'no_data', failed: failedNow, ...none };

  const remaining = last.remaining;
  const failed = Math.min(Math.max(0, failedNow), remaining);
  const windowStart = last.t - RATE_WINDOW_HOURS * HOUR_MS;
  const recent = series.filter((p) => p.t >= windowStart);
  const rate = recent.length >= 2 ? reductionPerHour(recent) : null;
  const ratePerHour = rate === null ? null : round1(rate);

  if (remaining === 0) return { ratePerHour, remaining, state: 'complete', failed: 0, ...none };
  const parsedNow = Date.parse(nowIso);
  const now = Number.isNaN(parsedNow) ? last.t : Math.max(parsedNow, last.t);
  const fresh = last.t >= now - RATE_WINDOW_HOURS * HOUR_MS;
  if (rate === null || !fresh) return { ratePerHour, remaining, state: 'no_data', failed, ...none };
  const onTheirWay = remaining - failed;
  const threshold = stallRate(remaining);
  if (rate < threshold || onTheirWay <= 0) {
    const since = stalledSince(series, threshold);
    return { ratePerHour, remaining, state: 'stalled', failed, etaAt: null, stalledSince: since };
  }
  // From now, not from the last point: a history that ends before the data's time must not move the
  // date into the past.
  const etaAt = new Date(now + (onTheirWay / rate) * HOUR_MS).toISOString();
  return { ratePerHour, remaining, state: 'progressing', failed, etaAt, stalledSince: null };
}

function stallRate(remaining: number): number {
  return Math.max(MIN_RATE_PER_HOUR, remaining / STALL_AFTER_HOURS);
}

// Walks back from the latest point while the progress since then stays below the stall pace (and one
// device of noise): the start of that stretch is when the rollout stopped moving.
function stalledSince(series: readonly SeriesPoint[], ratePerHour: number): string {
  const last = series.at(-1)!;
  let since = last.t;
  for (let i = series.length - 2; i >= 0; i--) {
    const p = series[i]!;
    const allowed = ratePerHour * ((last.t - p.t) / HOUR_MS) + 1;
    if (p.remaining - last.remaining > allowed) break;
    since = p.t;
  }
  return new Date(since).toISOString();
}

interface SeriesPoint {
  t: number;
  remaining: number;
}

function toSeries(points: readonly HistoryPoint[], kind: 'client' | 'server' | 'all'): SeriesPoint[] {
  const byTime = new Map<number, number>();
  for (const p of points) {
    const t = Date.parse(p.at);
    if (Number.isNaN(t)) continue;
    const c = kind === 'server' ? 0 : Math.max(0, p.clients.total - p.clients.installed);
    const s = kind === 'client' ? 0 : Math.max(0, p.servers.total - p.servers.installed);
    byTime.set(t, c + s); // a repeated timestamp: the later point in the list wins
  }
  return [...byTime.entries()].map(([t, remaining]) => ({ t, remaining })).sort((a, b) => a.t - b.t);
}

// Least-squares slope of remaining over time, negated: uses every point in the window, so one odd
// sample moves the estimate less than a first-to-last difference would.
function reductionPerHour(points: readonly SeriesPoint[]): number {
  const n = points.length;
  const t0 = points[0]!.t;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += (p.t - t0) / HOUR_MS;
    sy += p.remaining;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    const dx = (p.t - t0) / HOUR_MS - mx;
    sxy += dx * (p.remaining - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? 0 : -sxy / sxx;
}

function round1(x: number): number {
  const r = Math.round(x * 10) / 10;
  return Object.is(r, -0) ? 0 : r;
}
