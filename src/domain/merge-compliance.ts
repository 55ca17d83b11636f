import type { PatchCompliance, RegionCompliance, StateCounts } from './model.ts';

// `status alle` has no single region node above the two Verbände: its numbers are their sum.

export function addCounts(a: StateCounts, b: StateCounts): StateCounts {
  return {
    total: a.total + b.total,
    installed: a.installed + b.installed,
    pending: a.pending + b.pending,
    pending_reboot: a.pending_reboot + b.pending_reboot,
    failed: a.failed + b.failed,
    unknown: a.unknown + b.unknown,
    notApplicable: a.notApplicable + b.notApplicable,
    stale: a.stale + b.stale,
  };
}

export function mergeRegionCompliance(
  parts: readonly RegionCompliance[],
  as: Omit<RegionCompliance, 'patches'>,
): RegionCompliance {
  const byPatch = new Map<string, PatchCompliance>();
  for (const part of parts) {
    for (const p of part.patches) {
      const seen = byPatch.get(p.patchId);
      byPatch.set(
        p.patchId,
        seen
          ? {
              patchId: p.patchId,
              clients: addCounts(seen.clients, p.clients),
              servers: addCounts(seen.servers, p.servers),
              exchangeServers: addCounts(seen.exchangeServers, p.exchangeServers),
            }
          : p,
      );
    }
  }
  return { ...as, patches: [...byPatch.values()] };
}
