import type { RegionCompliance, StateCounts } from './model.ts';
import { percent } from './summarize-patch-status.ts';

// May external mail of a scope flow again? docs/decisions/release-workflow.md: by default only when every server and every
// client in the scope has every tracked patch ("until all clients are fully patched", Feb 2024).
// Below the threshold a release still is possible, but only with justification and two approvers —
// that is the request workflow's business; this file only states the facts.

export interface ReleasePolicy {
  patches: string[]; // patch ids that must be installed; [] = every patch in the report
  minClientPct: number; // 0..100
  minServerPct: number; // 0..100
}

export const defaultReleasePolicy: ReleasePolicy = Object.freeze({
  patches: [] as string[],
  minClientPct: 100,
  minServerPct: 100,
}) as ReleasePolicy;

export interface PolicyShortfall {
  patchId: string;
  kind: 'client' | 'server';
  installed: number;
  total: number;
  pct: number | null;
  required: number;
}

export interface PolicyEvaluation {
  meets: boolean;
  shortfalls: PolicyShortfall[];
  // Patches the policy names but the inventory did not report for this scope. Counted as not met:
  // a missing fact must not open the gate.
  missingPatches: string[];
}

export function evaluateReleasePolicy(
  region: RegionCompliance,
  policy: ReleasePolicy = defaultReleasePolicy,
): PolicyEvaluation {
  const byId = new Map(region.patches.map((p) => [p.patchId, p]));
  const ids = policy.patches.length > 0 ? [...new Set(policy.patches)] : region.patches.map((p) => p.patchId);
  const shortfalls: PolicyShortfall[] = [];
  const missingPatches: string[] = [];
  for (const id of ids) {
    const p = byId.get(id);
    if (!p) {
      missingPatches.push(id);
      continue;
    }
    const client = shortfallOf(id, 'client', p.clients, policy.minClientPct);
    if (client) shortfalls.push(client);
    const server = shortfallOf(id, 'server', p.servers, policy.minServerPct);
    if (server) shortfalls.push(server);
  }
  return { meets: shortfalls.length === 0 && missingPatches.length === 0, shortfalls, missingPatches };
}

// "The scope got worse since the request": more unpatched devices now than then, for any policy patch
// and device kind. New unpatched devices count (freshly rebuilt clients, Feb 2024); devices that got
// patched or left the inventory do not.
export function isWorse(
  before: RegionCompliance,
  after: RegionCompliance,
  policy: ReleasePolicy = defaultReleasePolicy,
): boolean {
  const beforeById = new Map(before.patches.map((p) => [p.patchId, p]));
  const afterById = new Map(after.patches.map((p) => [p.patchId, p]));
  const ids = policy.patches.length > 0 ? policy.patches : [...new Set([...beforeById.keys(), ...afterById.keys()])];
  for (const id of ids) {
    const b = beforeById.get(id);
    const a = afterById.get(id);
    if (!a) {
      // A fact that was there and is gone cannot be checked any more: treat as worse.
      if (b) return true;
      continue;
    }
    if (unpatched(a.clients) > (b ? unpatched(b.clients) : 0)) return true;
    if (unpatched(a.servers) > (b ? unpatched(b.servers) : 0)) return true;
  }
  return false;
}

function shortfallOf(
  patchId: string,
  kind: 'client' | 'server',
  c: StateCounts,
  required: number,
): PolicyShortfall | null {
  if (c.total <= 0) return null; // nothing of this kind to patch in the scope
  // Compare exact shares, never the rounded pct: 9,999 of 10,000 misses a 100 % threshold.
  if (c.installed * 100 >= required * c.total) return null;
  return { patchId, kind, installed: c.installed, total: c.total, pct: percent(c.installed, c.total), required };
}

function unpatched(c: StateCounts): number {
  return Math.max(0, c.total - c.installed);
}
