import type { Geography } from './geography.ts';
import { hashString, unit3 } from './prng.ts';

// Mail volume per domain per minute as a pure function of (seed, domain, minute) plus the
// injected spikes, so any range can be computed without storing anything. Minutes are absolute
// (since the Unix epoch).
//
// Legitimate mail follows office hours in local time (Europe/Berlin): weekdays 07–18 high,
// shoulders low, nights and weekends very low. Spam arrives around the clock. A spike multiplies
// received and spam of the affected domains by its factor (overlapping spikes multiply).

export interface SpamCounts {
  received: number;
  spam: number;
  rejected: number;
  quarantined: number;
}

export interface Spike {
  domains: Set<number>;
  from: number; // first affected minute
  to: number; // first unaffected minute
  factor: number;
}

export interface Traffic {
  /** Inbound counts of domain d in minute m (writes into `out` to spare allocations in loops). */
  inbound(d: number, m: number, out: SpamCounts): SpamCounts;
  /** Inbound non-spam mail of domain d in minute m (= received - spam; what a held queue takes in). */
  legitInbound(d: number, m: number): number;
  /** Outbound legitimate mail of domain d in minute m. */
  outbound(d: number, m: number): number;
  spikeFactor(d: number, m: number): number;
  addSpike(spike: Spike): void;
  spikes(): readonly Spike[];
}

// Spam base rate as a share of a domain's legitimate weekday peak.
const SPAM_SHARE_OF_PEAK = 0.5;
const OUTBOUND_SHARE = 0.6;

export function createTraffic(geo: Geography, seed: number): Traffic {
  const keys = Int32Array.from(geo.domains, (d) => hashString(d.name, seed) | 0);
  const spikes: Spike[] = [];
  const spikeFactor = (d: number, m: number) => {
    let f = 1;
    for (const s of spikes) if (m >= s.from && m < s.to && s.domains.has(d)) f *= s.factor;
    return f;
  };
  return {
    inbound(d, m, out) {
      const key = keys[d]!;
      const peak = geo.domains[d]!.peakPerMinute;
      const legitExpected = peak * officeRhythm(m) * (0.6 + 0.8 * unit3(key, m, 1));
      const spamExpected = peak * SPAM_SHARE_OF_PEAK * (0.5 + unit3(key, m, 3));
      // Stochastic rounding keeps tiny expectations (a village at night) at 0 or 1, not 0 forever.
      let spam = Math.floor(spamExpected + unit3(key, m, 4));
      let received = spam + Math.floor(legitExpected + unit3(key, m, 2));
      const f = spikes.length === 0 ? 1 : spikeFactor(d, m);
      if (f !== 1) {
        spam = Math.round(spam * f);
        received = Math.round(received * f);
      }
      const rejected = Math.floor(spam * (0.6 + 0.2 * unit3(key, m, 5)));
      out.received = received;
      out.spam = spam;
      out.rejected = rejected;
      out.quarantined = Math.floor((spam - rejected) * (0.5 + 0.3 * unit3(key, m, 6)));
      return out;
    },
    legitInbound(d, m) {
      const key = keys[d]!;
      const peak = geo.domains[d]!.peakPerMinute;
      const legit = Math.floor(peak * officeRhythm(m) * (0.6 + 0.8 * unit3(key, m, 1)) + unit3(key, m, 2));
      if (spikes.length === 0) return legit;
      const f = spikeFactor(d, m);
      if (f === 1) return legit;
      // Same arithmetic as inbound(): received and spam are scaled and rounded separately.
      const spam = Math.floor(peak * SPAM_SHARE_OF_PEAK * (0.5 + unit3(key, m, 3)) + unit3(key, m, 4));
      return Math.round((spam + legit) * f) - Math.round(spam * f);
    },
    outbound(d, m) {
      const key = keys[d]!;
      const expected =
        geo.domains[d]!.peakPerMinute * OUTBOUND_SHARE * officeRhythm(m) * (0.6 + 0.8 * unit3(key, m, 7));
      return Math.floor(expected + unit3(key, m, 8));
    },
    spikeFactor,
    addSpike(spike) {
      spikes.push(spike);
    },
    spikes: () => spikes,
  };
}

const rhythmByHour = new Map<number, number>();
let lastHour = Number.NaN;
let lastRhythm = 0;

/** Share of the weekday peak of legitimate mail in minute m (absolute), by Berlin local time. */
export function officeRhythm(m: number): number {
  const hourKey = Math.floor(m / 60);
  // Loops walk minutes in order: the previous hour's value answers 59 of 60 calls.
  if (hourKey === lastHour) return lastRhythm;
  const cached = rhythmByHour.get(hourKey);
  if (cached !== undefined) {
    lastHour = hourKey;
    lastRhythm = cached;
    return cached;
  }
  const local = m + berlinOffsetMinutes(m);
  const day = Math.floor(local / 1440);
  const weekday = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  const hour = Math.floor((local - day * 1440) / 60);
  const workday = weekday >= 1 && weekday <= 5;
  let r: number;
  if (workday) r = hour >= 7 && hour < 18 ? 1 : hour === 6 || (hour >= 18 && hour < 20) ? 0.35 : 0.05;
  else r = hour >= 9 && hour < 18 ? 0.1 : 0.04;
  if (rhythmByHour.size > 50_000) rhythmByHour.clear();
  rhythmByHour.set(hourKey, r);
  lastHour = hourKey;
  lastRhythm = r;
  return r;
}

/** CET/CEST: summer time from the last Sunday of March to the last Sunday of October, 01:00 UTC (EU directive 2000/84/EC). */
export function berlinOffsetMinutes(m: number): number {
  const year = new Date(m * 60_000).getUTCFullYear();
  const start = lastSundayUtc(year, 2) + 60;
  const end = lastSundayUtc(year, 9) + 60;
  return m >= start && m < end ? 120 : 60;
}

function lastSundayUtc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month + 1, 0));
  return (Date.UTC(year, month, lastDay.getUTCDate() - lastDay.getUTCDay()) / 60_000) | 0;
}
