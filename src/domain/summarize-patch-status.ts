import type { ComplianceReport, Patch, RegionCompliance, RegionKind, StateCounts } from './model.ts';
import type { ReleasePolicy } from './release-policy.ts';

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
  failed: { clients: number; servers: number };
  // False when no device of the scope is one the patch is for (a town without an Exchange server):
  // "nicht betroffen", which is not the same as "fully patched".
  applies: boolean;
}

// The figure that decides whether a scope meets the release policy: of every patch and device kind the
// policy asks for, the one furthest below its threshold (or, when all are met, closest to it).
export interface DecidingFigure {
  patchId: string;
  kind: 'client' | 'server';
  tally: DeviceTally;
  required: number; // percent
  meets: boolean;
}

export interface RegionSummary {
  regionId: string;
  name: string;
  kind: RegionKind;
  patches: PatchSummary[];
  combined: DeviceTally; // clients + servers over every patch: the "how far are we" number
  deciding: DecidingFigure | null; // null when nothing the policy asks for applies
  // A breakdown row for the devices the region holds itself, in none of its children (a Kreis
  // administration's own clients): without it the rows would not add up to the region.
  own: boolean;
}

export interface PatchStatusView {
  observedAt: string;
  staleAfterHours: number;
  region: RegionSummary;
  children: RegionSummary[]; // worst first by the deciding figure
}

export function summarizePatchStatus(
  report: ComplianceReport,
  patches: readonly Patch[],
  policy: ReleasePolicy,
): PatchStatusView {
  const titles = new Map(patches.map((p) => [p.id, p.title]));
  const order = new Map(patches.map((p, i) => [p.id, i]));
  return {
    observedAt: report.observedAt,
    staleAfterHours: report.staleAfterHours,
    region: summarizeRegion(report.region, titles, order, policy),
    children: [...report.children, ...ownPart(report.region, report.children)]
      .map((c) => ({
        ...summarizeRegion(c, titles, order, policy),
        own: c.regionId === report.region.regionId,
      }))
      .sort(compareWorstFirst),
  };
}

const COUNT_KEYS = [
  'total',
  'installed',
  'pending',
  'pending_reboot',
  'failed',
  'unknown',
  'notApplicable',
  'stale',
] as const;

// The region minus its children, per patch and count; nothing when the children hold every device.
function ownPart(region: RegionCompliance, children: readonly RegionCompliance[]): RegionCompliance[] {
  const minus = (a: StateCounts, pick: (c: RegionCompliance) => StateCounts | undefined): StateCounts => {
    const out = { ...a };
    for (const c of children) {
      const b = pick(c);
      if (!b) continue;
      for (const k of COUNT_KEYS) out[k] -= b[k];
    }
    for (const k of COUNT_KEYS) out[k] = Math.max(0, out[k]);
    return out;
  };
  const patches = region.patches.map((p) => {
    const of = (c: RegionCompliance) => c.patches.find((x) => x.patchId === p.patchId);
    return {
      patchId: p.patchId,
      clients: minus(p.clients, (c) => of(c)?.clients),
      servers: minus(p.servers, (c) => of(c)?.servers),
      exchangeServers: minus(p.exchangeServers, (c) => of(c)?.exchangeServers),
    };
  });
  const holdsDevices = patches.some((p) => p.clients.total + p.servers.total > 0);
  return children.length > 0 && holdsDevices ? [{ ...region, patches }] : [];
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
  policy: ReleasePolicy,
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
      failed: { clients: p.clients.failed, servers: p.servers.failed },
      applies: p.clients.total + p.servers.total > 0,
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
    deciding: decidingFigure(patches, policy),
    own: false,
  };
}

function decidingFigure(patches: readonly PatchSummary[], policy: ReleasePolicy): DecidingFigure | null {
  const wanted = policy.patches.length > 0 ? new Set(policy.patches) : null;
  let worst: DecidingFigure | null = null;
  let worstGap = Number.NEGATIVE_INFINITY;
  for (const p of patches) {
    if (wanted && !wanted.has(p.patchId)) continue;
    for (const kind of ['client', 'server'] as const) {
      const t = kind === 'client' ? p.clients : p.servers;
      if (t.total <= 0) continue;
      const required = kind === 'client' ? policy.minClientPct : policy.minServerPct;
      // Exact shares, never the rounded pct (as the policy itself compares them).
      const gap = required / 100 - t.installed / t.total;
      if (gap > worstGap || (gap === worstGap && worst && t.unpatched > worst.tally.unpatched)) {
        worstGap = gap;
        worst = { patchId: p.patchId, kind, tally: t, required, meets: t.installed * 100 >= required * t.total };
      }
    }
  }
  return worst;
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

// Furthest below the policy first, by the deciding figure (exact share against its threshold, not the
// rounded pct): a town whose one Exchange server is unpatched comes before one with most clients done.
// Then most unpatched devices of that figure, then name. A child with nothing to patch goes last.
function compareWorstFirst(a: RegionSummary, b: RegionSummary): number {
  const ga = gapOf(a);
  const gb = gapOf(b);
  if (ga !== gb) return gb - ga;
  const ua = a.deciding?.tally.unpatched ?? 0;
  const ub = b.deciding?.tally.unpatched ?? 0;
  return ub - ua || a.name.localeCompare(b.name, 'de');
}

function gapOf(r: RegionSummary): number {
  const d = r.deciding;
  return d ? d.required / 100 - d.tally.installed / d.tally.total : Number.NEGATIVE_INFINITY;
}
