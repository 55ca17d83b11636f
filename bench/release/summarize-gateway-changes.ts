import { idempotencyKeyFor } from '../../src/domain/release-request.ts';

// Whether the gateway has applied every change of one request, and when the last one landed.
// "Applied" counts first applications only: a replay (same Idempotency-Key answered from the
// gateway's memory) changes nothing, and a second first application of one key would be a change
// done twice.

export interface GatewayApplication {
  key: string;
  domain: string;
  /** Wall-clock ms when the simulator applied it. */
  at: number;
  changed: boolean;
  replayed: boolean;
}

export interface GatewayChangesOfRequest {
  /** When the last of the request's domains was applied; null while any is missing. */
  completedAt: number | null;
  firstAt: number | null;
  /** Domains applied so far (first applications). */
  applied: number;
  missing: string[];
  /** Domains whose key was applied more than once (must never happen). */
  duplicates: string[];
  /** Applications that found the domain already in the wanted state (changed: false). */
  unchanged: number;
}

export function summarizeGatewayChanges(
  applications: readonly GatewayApplication[],
  requestId: string,
  domains: readonly string[],
): GatewayChangesOfRequest {
  let completedAt: number | null = null;
  let firstAt: number | null = null;
  let unchanged = 0;
  const missing: string[] = [];
  const duplicates: string[] = [];
  for (const domain of domains) {
    const key = idempotencyKeyFor(requestId, domain);
    const firsts = applications.filter((a) => a.key === key && !a.replayed);
    if (firsts.length === 0) {
      missing.push(domain);
      continue;
    }
    if (firsts.length > 1) duplicates.push(domain);
    const at = Math.min(...firsts.map((a) => a.at));
    if (!firsts[0]!.changed) unchanged++;
    completedAt = completedAt === null ? at : Math.max(completedAt, at);
    firstAt = firstAt === null ? at : Math.min(firstAt, at);
  }
  return {
    completedAt: missing.length === 0 ? completedAt : null,
    firstAt,
    applied: domains.length - missing.length,
    missing,
    duplicates,
    unchanged,
  };
}
