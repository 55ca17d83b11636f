import type { Fleet } from './fleet.ts';
import { KIND_SERVER, ROLE_EXCHANGE, ROLE_LAPTOP } from './fleet.ts';
import type { Geography } from './geography.ts';
import { BUILDS, PATCH_EXCHANGE, PATCH_NONE, PATCH_OUTLOOK } from './patches.ts';
import { drawInt, mulberry32 } from './prng.ts';

// What happens to every device over time, as a handful of scheduled instants per device (absolute
// minutes since the Unix epoch, NEVER when it does not happen). The state at any sim time is a
// few comparisons, so compliance at any minute costs one pass over typed arrays and nothing is
// ever "ticked".
//
// Per device, for its one applicable patch (Exchange servers: exchange-2024-02, clients:
// outlook-2024-02, other servers: none):
//   [fail1, inst1)  failed (a first attempt failed)      [inst1, boot1)  pending_reboot
//   [boot1, rebuild) installed                           before any of these: pending
//   from rebuild (re-imaged with an old Outlook): pending, [fail2, inst2) failed,
//   [inst2, boot2) pending_reboot, from boot2 installed.
// Reporting: devices check in every `interval` minutes and report state changes at once; during
// an offline window [offFrom, offUntil) they are last seen at offFrom and after 7 days unseen
// their state is `unknown`.

export type ScenarioName = 'feb-2024' | 'all-patched' | 'empty' | 'land';

export const NEVER = 0x7fffffff;
export const MINUTE_MS = 60_000;
const H = 60;
const DAY = 24 * H;

export const STATE_NAMES = ['installed', 'pending', 'pending_reboot', 'failed', 'not_applicable', 'unknown'] as const;
export type PatchStateName = (typeof STATE_NAMES)[number];
export const INSTALLED = 0;
export const PENDING = 1;
export const PENDING_REBOOT = 2;
export const FAILED = 3;
export const NOT_APPLICABLE = 4;
export const UNKNOWN = 5;

// The product brief: "unknown = device not seen for more than 7 days".
export const UNKNOWN_AFTER_MINUTES = 7 * DAY;

/** Scenario start: Thursday 2024-02-15 18:00 CET, when all external mail was stopped. */
export const SCENARIO_START_MS = Date.UTC(2024, 1, 15, 17, 0);
const E = SCENARIO_START_MS / MINUTE_MS;
// Remediation of the re-imaged clients in the Südverband (Kreis Olpe, Siegen-Wittgenstein).
const REMEDIATION_FROM = Date.UTC(2024, 1, 26, 7, 0) / MINUTE_MS;
const REMEDIATION_TO = Date.UTC(2024, 1, 29, 12, 0) / MINUTE_MS;
// Share of Südverband clients re-imaged with an old Outlook over the weekend, and of those the
// share whose first update attempt fails.
const REBUILT_SHARE = 0.08;
const REBUILT_FAIL_SHARE = 0.45;
// Nordverband: every device installed by Monday 2024-02-19 11:00Z (12:00 CET); the last
// stragglers reboot on Monday morning.
const NORD_DONE = E + 90 * H;
const NORD_CAP = E + 89 * H;

const FLAG_EXTENDED_PROTECTION = 1;

export interface Schedule {
  patch: Uint8Array; // PATCH_EXCHANGE | PATCH_OUTLOOK | PATCH_NONE
  flags: Uint8Array;
  fail1: Int32Array;
  inst1: Int32Array;
  boot1: Int32Array;
  rebuild: Int32Array;
  fail2: Int32Array;
  inst2: Int32Array;
  boot2: Int32Array;
  offFrom: Int32Array;
  offUntil: Int32Array;
}

const EVENT_KEYS = ['fail1', 'inst1', 'boot1', 'rebuild', 'fail2', 'inst2', 'boot2'] as const;

export function createSchedule(geo: Geography, fleet: Fleet, scenario: ScenarioName, seed: number): Schedule {
  const n = fleet.size;
  const never = () => new Int32Array(n).fill(NEVER);
  const s: Schedule = {
    patch: new Uint8Array(n).fill(PATCH_NONE),
    flags: new Uint8Array(n),
    fail1: never(),
    inst1: never(),
    boot1: never(),
    rebuild: never(),
    fail2: never(),
    inst2: never(),
    boot2: never(),
    offFrom: never(),
    offUntil: never(),
  };
  const rng = mulberry32(seed ^ 0x5c4ed);
  for (let i = 0; i < n; i++) {
    if (fleet.kind[i] === KIND_SERVER) {
      if (fleet.role[i] === ROLE_EXCHANGE) {
        s.patch[i] = PATCH_EXCHANGE;
        if (rng() < 0.15) s.flags[i]! |= FLAG_EXTENDED_PROTECTION;
      }
    } else {
      s.patch[i] = PATCH_OUTLOOK;
    }
  }
  if (scenario === 'all-patched') {
    for (let i = 0; i < n; i++) {
      if (s.patch[i] === PATCH_NONE) continue;
      s.inst1[i] = E - drawInt(rng, 7 * DAY, 14 * DAY);
      s.boot1[i] = s.inst1[i]! + 30;
    }
  } else if (scenario === 'feb-2024') {
    scheduleFeb2024(geo, fleet, s, rng);
  } else if (scenario === 'land') {
    scheduleLand(geo, fleet, s, rng);
  }
  return s;
}

// The state-wide estate (land-geography.ts) rolls the same two patches out, Kreis by Kreis. Most
// Kreise are through within three days; one in six is a straggler whose IT gets to a quarter of its
// clients only in the second week, with more failed first attempts; laptops away since before the
// incident come back over two weeks wherever they are.
const LAND_STRAGGLER_SHARE = 1 / 6;
const LAND_STRAGGLER_CLIENTS = 0.25;

function scheduleLand(geo: Geography, fleet: Fleet, s: Schedule, rng: () => number): void {
  const straggler = new Uint8Array(geo.nodes.length);
  geo.nodes.forEach((_, i) => {
    if (geo.kreisOf[i] === i && rng() < LAND_STRAGGLER_SHARE) straggler[i] = 1;
  });
  for (let i = 0; i < fleet.size; i++) {
    if (s.patch[i] === PATCH_EXCHANGE) {
      s.inst1[i] = E + drawInt(rng, -40 * H, 48 * H);
      s.boot1[i] = s.inst1[i]! + drawInt(rng, 15, 90);
      if (rng() < 0.08) s.fail1[i] = s.inst1[i]! - drawInt(rng, 2 * H, 12 * H);
      continue;
    }
    if (s.patch[i] !== PATCH_OUTLOOK) continue;
    const late = straggler[geo.kreisOf[fleet.node[i]!]!] === 1 && rng() < LAND_STRAGGLER_CLIENTS;
    let inst = late ? E + drawInt(rng, 5 * DAY, 13 * DAY) : E + drawInt(rng, -20 * H, 60 * H);
    let fail = rng() < (late ? 0.2 : 0.03) ? inst - drawInt(rng, H, 3 * DAY) : NEVER;
    if (rng() < (fleet.role[i] === ROLE_LAPTOP ? 0.04 : 0.005)) {
      s.offFrom[i] = E - drawInt(rng, 2 * DAY, 20 * DAY);
      s.offUntil[i] = E + drawInt(rng, 20 * H, 14 * DAY);
      inst = Math.max(inst, s.offUntil[i]! + drawInt(rng, 30, 180));
      fail = NEVER;
    }
    s.fail1[i] = fail;
    s.inst1[i] = inst;
    s.boot1[i] = inst + drawInt(rng, 10, 8 * H);
  }
}

function scheduleFeb2024(geo: Geography, fleet: Fleet, s: Schedule, rng: () => number): void {
  const nord = geo.index.get('vb-nord');
  const rebuiltIn = new Set<number>();
  const failedIn = new Set<number>();
  const lastNordClient = new Map<number, number>();
  for (let i = 0; i < fleet.size; i++) {
    const leaf = fleet.node[i]!;
    const kreis = geo.kreisOf[leaf]!;
    const isNord = geo.verbandOf[leaf] === nord;
    if (s.patch[i] === PATCH_EXCHANGE) {
      // Rolled out from Tuesday evening until Saturday; a few needed a second attempt.
      s.inst1[i] = E + drawInt(rng, -40 * H, 48 * H);
      s.boot1[i] = s.inst1[i]! + drawInt(rng, 15, 90);
      if (rng() < 0.08) s.fail1[i] = s.inst1[i]! - drawInt(rng, 2 * H, 12 * H);
      continue;
    }
    if (s.patch[i] !== PATCH_OUTLOOK) continue;
    const r = rng();
    let inst =
      E +
      (r < 0.7
        ? drawInt(rng, -20 * H, 30 * H)
        : r < 0.97
          ? drawInt(rng, 30 * H, 66 * H)
          : drawInt(rng, 70 * H, 86 * H));
    let boot = Math.min(inst + drawInt(rng, 10, 8 * H), NORD_CAP);
    let fail = rng() < 0.04 ? inst - drawInt(rng, H, 10 * H) : NEVER;
    const offline = rng() < (fleet.role[i] === ROLE_LAPTOP ? 0.05 : 0.01);
    if (offline) {
      // Away (leave, home office without VPN) since before the incident; the Nordverband's all
      // came back by Monday morning, some in the Südverband only much later.
      s.offFrom[i] = E - drawInt(rng, 2 * DAY, 20 * DAY);
      const until = E + (isNord ? drawInt(rng, 20 * H, 84 * H) : drawInt(rng, 20 * H, 12 * DAY));
      s.offUntil[i] = until;
      inst = Math.max(inst, until + drawInt(rng, 30, 180));
      boot = inst + drawInt(rng, 10, 8 * H);
      if (isNord) boot = Math.min(boot, NORD_CAP);
      fail = NEVER;
    } else if (!isNord && (rng() < REBUILT_SHARE || !rebuiltIn.has(kreis))) {
      // Freshly re-imaged over the weekend with an old Outlook; remediated only the week after.
      rebuiltIn.add(kreis);
      const rebuild = E + drawInt(rng, 28 * H, 80 * H);
      s.rebuild[i] = rebuild;
      if (boot >= rebuild - 60) {
        inst = NEVER;
        boot = NEVER;
        fail = NEVER;
      }
      if (rng() < REBUILT_FAIL_SHARE || !failedIn.has(kreis)) {
        failedIn.add(kreis);
        s.fail2[i] = drawInt(rng, rebuild + 30, E + 91 * H);
      }
      s.inst2[i] = drawInt(rng, REMEDIATION_FROM, REMEDIATION_TO);
      s.boot2[i] = s.inst2[i]! + drawInt(rng, 30, 240);
    } else if (isNord) {
      lastNordClient.set(kreis, i);
    }
    s.fail1[i] = fail;
    s.inst1[i] = inst;
    s.boot1[i] = boot;
  }
  for (const i of lastNordClient.values()) {
    s.fail1[i] = NEVER;
    s.inst1[i] = NORD_DONE - 3 * H;
    s.boot1[i] = NORD_DONE;
  }
}

/** The device's real state at minute t (what it would report if asked now). */
export function trueState(s: Schedule, i: number, t: number): number {
  if (t >= s.rebuild[i]!) {
    if (t >= s.boot2[i]!) return INSTALLED;
    if (t >= s.inst2[i]!) return PENDING_REBOOT;
    return t >= s.fail2[i]! ? FAILED : PENDING;
  }
  if (t >= s.boot1[i]!) return INSTALLED;
  if (t >= s.inst1[i]!) return PENDING_REBOOT;
  return t >= s.fail1[i]! ? FAILED : PENDING;
}

/** Minute the inventory last heard from device i, as of minute t. */
export function lastSeenMinute(s: Schedule, fleet: Fleet, i: number, t: number): number {
  const from = s.offFrom[i]!;
  const until = s.offUntil[i]!;
  if (t >= from && t < until) return from;
  const interval = fleet.interval[i]!;
  const since = (t - fleet.phase[i]!) % interval;
  let seen = t - (since < 0 ? since + interval : since);
  // State changes are reported at once, so the latest event up to t counts as contact
  // (unrolled: this runs once per device per computed minute).
  let e = s.fail1[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.inst1[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.boot1[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.rebuild[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.fail2[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.inst2[i]!;
  if (e <= t && e > seen) seen = e;
  e = s.boot2[i]!;
  if (e <= t && e > seen) seen = e;
  if (until <= t && until > seen) seen = until;
  return seen;
}

/** The state the inventory reports for device i at minute t, given when it was last seen. */
export function observedState(s: Schedule, i: number, t: number, lastSeen: number): number {
  if (s.patch[i] === PATCH_NONE) return NOT_APPLICABLE;
  if (t - lastSeen > UNKNOWN_AFTER_MINUTES) return UNKNOWN;
  return trueState(s, i, lastSeen);
}

/** Instants at which device i's observed state can change (for history sweeps). */
export function breakpoints(s: Schedule, i: number): number[] {
  const out: number[] = [];
  for (const key of EVENT_KEYS) {
    const e = s[key][i]!;
    if (e !== NEVER) out.push(e);
  }
  const from = s.offFrom[i]!;
  if (from !== NEVER) out.push(from, from + UNKNOWN_AFTER_MINUTES + 1, s.offUntil[i]!);
  return out.sort((a, b) => a - b);
}

/** The build string device i reports in the state it was observed in. */
export function buildOf(fleet: Fleet, s: Schedule, i: number, state: number, lastSeen: number): string {
  const installed = state === INSTALLED;
  if (s.patch[i] === PATCH_EXCHANGE) {
    // Extended Protection switched on by hand mitigates CVE-2024-21410 without CU14.
    const ep = (s.flags[i]! & FLAG_EXTENDED_PROTECTION) !== 0;
    return installed && !ep ? BUILDS.exchangeAfter : BUILDS.exchangeBefore;
  }
  if (s.patch[i] === PATCH_OUTLOOK) {
    if (installed) return BUILDS.outlookAfter;
    return lastSeen >= s.rebuild[i]! ? BUILDS.outlookOldImage : BUILDS.outlookBefore;
  }
  return fleet.os[i] === 2 ? BUILDS.server2019 : BUILDS.server2022;
}
