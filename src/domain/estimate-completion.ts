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
  etaAt: string | null; // only when progressing
  state: CompletionState;
}

// Recent enough to show today's pace, long enough to span a reboot window.
export const RATE_WINDOW_HOURS = 6;
// Below one device per window the rollout is not moving.
const STALL_RATE_PER_HOUR = 1 / RATE_WINDOW_HOURS;
const HOUR_MS = 3_600_000;

// nowIso must be on the same clock as the points (the inventory's observedAt; with the simulator
// that is simulated time, not the wall clock). A history whose latest point is older than the
// window before now says nothing about the current pace: no_data.
export function estimateCompletion(
  points: readonly HistoryPoint[],
  kind: 'client' | 'server' | 'all',
  nowIso: string,
): CompletionEstimate {
  const series = toSeries(points, kind);
  const last = series.at(-1);
  if (!last) return { ratePerHour: null, remaining: null, etaAt: null, state: 'no_data' };

  const remaining = last.remaining;
  const windowStart = last.t - RATE_WINDOW_HOURS * HOUR_MS;
  const recent = series.filter((p) => p.t >= windowStart);
  const rate = recent.length >= 2 ? reductionPerHour(recent) : null;
  const ratePerHour = rate === null ? null : round1(rate);

  if (remaining === 0) return { ratePerHour, remaining, etaAt: null, state: 'complete' };
  const now = Date.parse(nowIso);
  const fresh = Number.isNaN(now) || last.t >= now - RATE_WINDOW_HOURS * HOUR_MS;
  if (rate === null || !fresh) return { ratePerHour, remaining, etaAt: null, state: 'no_data' };
  if (rate < STALL_RATE_PER_HOUR) return { ratePerHour, remaining, etaAt: null, state: 'stalled' };
  const etaAt = new Date(last.t + (remaining / rate) * HOUR_MS).toISOString();
  return { ratePerHour, remaining, etaAt, state: 'progressing' };
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
