import type { ComplianceReport, Patch, RegionCompliance, RegionKind, StateCounts } from './model.ts';

// The numbers a status card shows, without words: the renderer picks the language. One place decides
// how a percentage is rounded, so a card never says "100 %" while a device is still unpatched.

export interface DeviceTally {
  installed: number;
  total: number; // applicable devices (not_applicable excluded, as in the inventory API)
  unpatched: number; // total − installed: pending, pending_reboot, failed and unknown together
  pct: number | null; // one decimal; null when nothing applies
}

// Not installed, by reason. stale overlaps the states (a stale device is also pending, failed …).
export interface OpenCounts {
  pending: number;
  pending_reboot: number;
  failed: number;
  unknown: number;
  stale: number;
}

export interface PatchSummary {
  patchId: string;
  title: string;
  clients: DeviceTally;
  servers: DeviceTally;
  exchange: DeviceTally; // Exchange servers are also counted in servers
  counts: OpenCounts; // clients + servers
}

export interface RegionSummary {
  regionId: string;
  name: string;
  kind: RegionKind;
  patches: PatchSummary[];
  combined: DeviceTally; // clients + servers over every patch: the "how far are we" number
}

export interface PatchStatusView {
  observedAt: string;
  staleAfterHours: number;
  region: RegionSummary;
  children: RegionSummary[]; // worst first
}

export function summarizePatchStatus(report: ComplianceReport, patches: readonly Patch[]): PatchStatusView {
  const titles = new Map(patches.map((p) => [p.id, p.title]));
  const order = new Map(patches.map((p, i) => [p.id, i]));
  return {
    observedAt: report.observedAt,
    staleAfterHours: report.staleAfterHours,
    region: summarizeRegion(report.region, titles, order),
    children: report.children.map((c) => summarizeRegion(c, titles, order)).sort(compareWorstFirst),
  };
}

// One decimal, but never rounded up to 100.0 while something is missing, nor down to 0.0 once
// something is installed: 9,999 of 10,000 is 99.9, not 100.0.
export function percent(installed: number, total: number): number | null {
  if (total <= 0) return null;
  if (installed >= total) return 100;
  if (installed <= 0) return 0;
  const rounded = Math.round((installed / total) * 1000) / 10;
  return Math.min(99.9, Math.max(0.1, rounded));
}

export function tally(installed: number, total: number): DeviceTally {
  return { installed, total, unpatched: Math.max(0, total - installed), pct: percent(installed, total) };
}

function summarizeRegion(
  region: RegionCompliance,
  titles: ReadonlyMap<string, string>,
  order: ReadonlyMap<string, number>,
): RegionSummary {
  // Catalogue order (the caller's patch list), patches the catalogue does not know last.
  const rank = (id: string) => order.get(id) ?? Number.MAX_SAFE_INTEGER;
  const patches = region.patches
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p.patchId) - rank(b.p.patchId) || a.i - b.i)
    .map(({ p }) => ({
      patchId: p.patchId,
      title: titles.get(p.patchId) ?? p.patchId,
      clients: tallyOf(p.clients),
      servers: tallyOf(p.servers),
      exchange: tallyOf(p.exchangeServers),
      counts: addOpen(openOf(p.clients), openOf(p.servers)),
    }));
  let installed = 0;
  let total = 0;
  for (const p of region.patches) {
    installed += p.clients.installed + p.servers.installed;
    total += p.clients.total + p.servers.total;
  }
  return {
    regionId: region.regionId,
    name: region.name,
    kind: region.kind,
    patches,
    combined: tally(installed, total),
  };
}

function tallyOf(c: StateCounts): DeviceTally {
  return tally(c.installed, c.total);
}

function openOf(c: StateCounts): OpenCounts {
  return { pending: c.pending, pending_reboot: c.pending_reboot, failed: c.failed, unknown: c.unknown, stale: c.stale };
}

function addOpen(a: OpenCounts, b: OpenCounts): OpenCounts {
  return {
    pending: a.pending + b.pending,
    pending_reboot: a.pending_reboot + b.pending_reboot,
    failed: a.failed + b.failed,
    unknown: a.unknown + b.unknown,
    stale: a.stale + b.stale,
  };
}

// Lowest combined share first (exact ratio, not the rounded pct), then most unpatched devices, then
// name. A child with nothing to patch has nothing to worry about and goes last.
function compareWorstFirst(a: RegionSummary, b: RegionSummary): number {
  const ra = ratio(a.combined);
  const rb = ratio(b.combined);
  if (ra !== rb) return ra - rb;
  return b.combined.unpatched - a.combined.unpatched || a.name.localeCompare(b.name, 'de');
}

function ratio(t: DeviceTally): number {
  return t.total > 0 ? t.installed / t.total : Number.POSITIVE_INFINITY;
}
