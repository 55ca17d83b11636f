import type { FlowState } from './model.ts';
import type { ReleaseDirection, RequestKind } from './release-request.ts';

// What a request would change, computed from the gateway's live state and not from memory: "44
// Domänen, davon 12 bereits offen — 32 werden geändert". A domain already in the requested state in
// every direction the request sets is "bereits in Kraft" and is not sent again.

export interface DomainFlows {
  domain: string;
  inbound: FlowState;
  outbound: FlowState;
}

export interface ReleaseEffect {
  total: number;
  /** Already as requested (in every direction the request sets). */
  already: string[];
  /** Would change. Domains the gateway does not know are counted here: the gateway will say so. */
  toChange: string[];
}

export function targetFlow(kind: RequestKind): FlowState {
  return kind === 'release' ? 'open' : 'blocked';
}

export function isInEffect(
  state: Pick<DomainFlows, 'inbound' | 'outbound'>,
  kind: RequestKind,
  direction: ReleaseDirection,
): boolean {
  const flow = targetFlow(kind);
  const inbound = direction === 'outbound' || state.inbound === flow;
  const outbound = direction === 'inbound' || state.outbound === flow;
  return inbound && outbound;
}

export function effectOf(
  request: { kind: RequestKind; direction: ReleaseDirection; domains: readonly string[] },
  live: readonly DomainFlows[],
): ReleaseEffect {
  const byName = new Map(live.map((d) => [d.domain, d]));
  const already: string[] = [];
  const toChange: string[] = [];
  for (const domain of request.domains) {
    const state = byName.get(domain);
    if (state && isInEffect(state, request.kind, request.direction)) already.push(domain);
    else toChange.push(domain);
  }
  return { total: request.domains.length, already, toChange };
}
