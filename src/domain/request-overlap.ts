import { HOLDING_STATES, type ReleaseDirection, type ReleaseRequest, type RequestKind } from './release-request.ts';

// One open change per domain and direction (docs/decisions/release-workflow.md). A new request that
// would change a domain another request still holds (pending, awaiting confirmation, executing, or
// waiting for a retry approval) in the same direction is refused with a pointer to that request; the
// same request by the same person is answered with the one already there. The one exception: a block
// is never held up by a release, it supersedes it (and runs after a release already executing).

export interface RequestShape {
  kind: RequestKind;
  scopeId: string;
  direction: ReleaseDirection;
  domains: readonly string[];
  requesterId: string;
}

export type OverlapVerdict =
  | { kind: 'free' }
  | { kind: 'duplicate'; existing: ReleaseRequest }
  | { kind: 'conflict'; existing: ReleaseRequest; domains: string[] };

export function directionsOverlap(a: ReleaseDirection, b: ReleaseDirection): boolean {
  return a === 'both' || b === 'both' || a === b;
}

/** The domains both requests change in a shared direction ([] when they do not meet). */
export function sharedDomains(
  a: Pick<RequestShape, 'direction' | 'domains'>,
  b: Pick<RequestShape, 'direction' | 'domains'>,
): string[] {
  if (!directionsOverlap(a.direction, b.direction)) return [];
  const other = new Set(b.domains);
  return a.domains.filter((d) => other.has(d));
}

/** `existing` is every request of the tenant that may hold domains; the oldest holder is named. */
export function checkOverlap(candidate: RequestShape, existing: readonly ReleaseRequest[]): OverlapVerdict {
  const holders = existing
    .filter((r) => HOLDING_STATES.includes(r.state))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  for (const r of holders) {
    const same =
      r.kind === candidate.kind &&
      r.scope.id === candidate.scopeId &&
      r.direction === candidate.direction &&
      r.requester.id === candidate.requesterId &&
      (r.state === 'pending' || r.state === 'awaiting_confirmation');
    if (same) return { kind: 'duplicate', existing: r };
  }
  for (const r of holders) {
    if (candidate.kind === 'block' && r.kind === 'release') continue;
    const domains = sharedDomains(candidate, { direction: r.direction, domains: r.scope.domains });
    if (domains.length > 0) return { kind: 'conflict', existing: r, domains };
  }
  return { kind: 'free' };
}
