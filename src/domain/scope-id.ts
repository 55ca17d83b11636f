import type { RegionNode } from './model.ts';

// A scope is what a status question, a release, a block, a subscription or a mute is about:
// everything, one region of the inventory's tree, or one mail domain. Its id is how cards, the store
// and the audit log name it, and this module is the only one that knows how the id is spelled:
//
//   all              everything (the roots of the region tree)
//   domain:<domain>  one mail domain, spelled as in the region list
//   <region id>      a region node, exactly as the inventory sends it (opaque, never parsed)
//
// Region ids are opaque, so the two spellings above are reserved: a node whose id is "all" or starts
// with "domain:" cannot be named by a scope id and is left out of the region index
// (docs/decisions/scope-ids.md).

export type ScopeId = string;

export type ParsedScopeId = { kind: 'all' } | { kind: 'region'; regionId: string } | { kind: 'domain'; domain: string };

/** A scope id resolved against the region index: the node a region or domain belongs to is known. */
export type Scope =
  | { kind: 'all' }
  | { kind: 'region'; node: RegionNode }
  | { kind: 'domain'; node: RegionNode; domain: string };

export const ALL_SCOPE_ID: ScopeId = 'all';
const DOMAIN_PREFIX = 'domain:';

// The inventory contract's region id (api/inventory.openapi.yaml, RegionId) and a host name.
const REGION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** The parts of a well-formed scope id; null for anything else (what a forged card might carry). */
export function parseScopeId(id: string): ParsedScopeId | null {
  if (id === ALL_SCOPE_ID) return { kind: 'all' };
  if (id.startsWith(DOMAIN_PREFIX)) {
    const domain = id.slice(DOMAIN_PREFIX.length);
    return DOMAIN.test(domain) ? { kind: 'domain', domain } : null;
  }
  return REGION_ID.test(id) ? { kind: 'region', regionId: id } : null;
}

export function formatScopeId(parsed: ParsedScopeId): ScopeId {
  switch (parsed.kind) {
    case 'all':
      return ALL_SCOPE_ID;
    case 'domain':
      return `${DOMAIN_PREFIX}${parsed.domain}`;
    case 'region':
      return parsed.regionId;
  }
}

export function isWellFormedScopeId(id: string): boolean {
  return parseScopeId(id) !== null;
}

/** True for a region id a scope id cannot name (see the header). */
export function isReservedRegionId(regionId: string): boolean {
  return regionId === ALL_SCOPE_ID || regionId.startsWith(DOMAIN_PREFIX);
}

export function scopeIdOf(scope: Scope): ScopeId {
  switch (scope.kind) {
    case 'all':
      return ALL_SCOPE_ID;
    case 'domain':
      return formatScopeId({ kind: 'domain', domain: scope.domain });
    case 'region':
      return scope.node.id;
  }
}

/** The scope's own name: the region's or the domain's; "all" is named by the caller in its language. */
export function scopeNameOf(scope: Scope): string {
  switch (scope.kind) {
    case 'all':
      return ALL_SCOPE_ID;
    case 'domain':
      return scope.domain;
    case 'region':
      return scope.node.name;
  }
}

/**
 * Whether two scope ids name the same scope. Mail domains are case-insensitive ("Attendorn.DE" is
 * attendorn.de); region ids are opaque and compared exactly.
 */
export function sameScopeId(a: ScopeId, b: ScopeId): boolean {
  if (a === b) return true;
  const pa = parseScopeId(a);
  const pb = parseScopeId(b);
  return pa?.kind === 'domain' && pb?.kind === 'domain' && pa.domain.toLowerCase() === pb.domain.toLowerCase();
}
