// The spam detector's state split for persistence (docs/decisions/spam-alerts.md, "Persistence"): a small
// head — the alerts, cooldowns and the minute the watcher has polled to — written every poll, and the
// domains' tracks in a fixed number of shards, each rewritten every `DETECTOR_SHARDS` minutes or so.
// Every domain's track changes every minute, so "write what changed" would be everything; instead a
// shard may lag the head by some minutes, and a watcher that takes over re-asks the gateway from the
// oldest shard's minute. The detector skips a bucket a track has seen already (its `last`), so each
// track replays exactly the minutes it lacks and ends where it would have been.
//
// Pure: encodes and decodes text, no store.

import type { DetectorState } from './spike-detector.ts';
import { upgradeDetectorState } from './spike-detector.ts';

// Fixed, not configured: a domain's shard is a function of its name and this number. The head records
// the number its shards were written with (DetectorHead's `shards`), so rows another number left behind —
// stale copies of tracks — are never read as current: a state written with 16 (until December 2026) is
// read as 16 shards, and the first write after it writes all 64. More shards make each poll's write
// smaller (1/64 of the state a minute) and a takeover's replay longer (up to 64 minutes, in batches).
export const DETECTOR_SHARDS = 64;
// What a head without `shards` was written with.
const SHARDS_BEFORE_COUNTED = 16;

export type DetectorHead = Omit<DetectorState, 'domains'> & { shards?: number };
type Tracks = DetectorState['domains'];

// FNV-1a over the UTF-16 code units: stable across processes and replicas, cheap, well spread.
export function shardOf(domain: string, shards = DETECTOR_SHARDS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < domain.length; i++) {
    h ^= domain.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export function headOf(state: DetectorState): DetectorHead {
  const { domains: _domains, ...head } = state;
  return { ...head, shards: DETECTOR_SHARDS };
}

// The given shards' tracks, each with the minute the watcher had polled to when they were taken (every
// track in it has seen every bucket before that minute that the gateway gave it). One pass over the domains.
export function encodeShards(
  state: DetectorState,
  shards: readonly number[],
  polledTo: string,
  shardOfDomain: (domain: string) => number,
): Array<{ shard: number; data: string }> {
  const wanted = new Map<number, Tracks>(shards.map((s) => [s, {}]));
  for (const name in state.domains) {
    const tracks = wanted.get(shardOfDomain(name));
    if (tracks) tracks[name] = state.domains[name]!;
  }
  return [...wanted].map(([shard, domains]) => ({ shard, data: JSON.stringify({ polledTo, domains }) }));
}

export interface DecodedDetector {
  detector: DetectorState;
  // The oldest minute any shard was taken at: where polling resumes.
  polledTo: string;
}

// The head and every shard 0 … n−1 of the n the head was written with, or null when anything is missing
// or not what encodeShards wrote (a state that cannot be trusted is replaced by a fresh warm-up, not
// half-used).
export function decodeDetector(
  head: unknown,
  polledTo: string,
  shards: ReadonlyArray<{ shard: number; data: string }>,
): DecodedDetector | null {
  if (!head || typeof head !== 'object') return null;
  const { shards: written, ...rest } = head as { shards?: unknown };
  const count = written === undefined ? SHARDS_BEFORE_COUNTED : written;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) return null;
  let resumeAt = Date.parse(polledTo);
  if (Number.isNaN(resumeAt)) return null;
  const seen = new Set<number>();
  const domains: Record<string, unknown> = {};
  for (const s of shards) {
    if (s.shard >= count) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s.data);
    } catch {
      return null;
    }
    const p = parsed as { polledTo?: unknown; domains?: unknown } | null;
    if (!p || typeof p.polledTo !== 'string' || typeof p.domains !== 'object' || p.domains === null) return null;
    const at = Date.parse(p.polledTo);
    if (Number.isNaN(at)) return null;
    resumeAt = Math.min(resumeAt, at);
    Object.assign(domains, p.domains);
    seen.add(s.shard);
  }
  if (seen.size !== count) return null;
  const detector = upgradeDetectorState({ ...rest, domains });
  return detector ? { detector, polledTo: new Date(resumeAt).toISOString() } : null;
}
