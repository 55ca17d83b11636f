import type { RegionIndex } from './region-index.ts';
import { domainKey } from './region-index.ts';

// A request's domains as a person checks them: by Kreis (the level above the towns) and town, in the
// tree's order. A domain a Kreis holds itself (its administration's) is a "town" of that Kreis named
// like it; a domain the region list does not know goes into a group without a name.

export interface DomainGroup {
  name: string;
  towns: Array<{ name: string; domains: string[] }>;
}

export function groupDomains(index: RegionIndex, domains: readonly string[]): DomainGroup[] {
  const groups = new Map<string, { name: string; towns: Map<string, { name: string; domains: string[] }> }>();
  for (const domain of domains) {
    const owner = index.domains.get(domainKey(domain))?.node;
    // A node with children is the group itself (a Kreis's own domain); a leaf belongs to its parent.
    const ownsChildren = owner ? (index.children.get(owner.id)?.length ?? 0) > 0 : false;
    const parent = owner && !ownsChildren && owner.parentId ? index.byId.get(owner.parentId) : undefined;
    const group = owner ? (parent ?? owner) : undefined;
    const key = group?.id ?? '';
    let g = groups.get(key);
    if (!g) {
      g = { name: group?.name ?? '', towns: new Map() };
      groups.set(key, g);
    }
    const townKey = owner?.id ?? '';
    let town = g.towns.get(townKey);
    if (!town) {
      town = { name: owner?.name ?? '', domains: [] };
      g.towns.set(townKey, town);
    }
    town.domains.push(domain);
  }
  const order = new Map(index.nodes.map((n, i) => [n.id, i]));
  const rank = (id: string) => order.get(id) ?? Number.MAX_SAFE_INTEGER;
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([, g]) => ({
      name: g.name,
      towns: [...g.towns.entries()]
        .sort(([a], [b]) => rank(a) - rank(b))
        .map(([, town]) => ({ name: town.name, domains: [...town.domains].sort() })),
    }));
}
