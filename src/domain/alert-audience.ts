import { ancestors, ownerOfDomain, type RegionIndex } from './region-index.ts';
import { ALL_SCOPE_ID, formatScopeId } from './scope-id.ts';
import type { SpikeAlert, SpikeScope } from './spike-detector.ts';

// Who hears about a spam alert and what silences it, from the region tree alone (never from the
// gateway's own idea of a domain's region): the rules behind alert delivery, pure.

/** The scope id an alert is stored and muted under: its group's region id, or domain:<name>. */
export function alertScopeId(scope: SpikeScope): string {
  return scope.kind === 'group' ? scope.id : formatScopeId({ kind: 'domain', domain: scope.id });
}

/**
 * The region whose domains' waves are told as one alert: for a domain of a town (a node without
 * children) the region above it, for a domain the region owns itself (a Kreis administration's) that
 * region. In Südwestfalen that is the Kreis; in an estate with other levels the smallest region above
 * a single town. Null for a domain the region list does not know: it cannot be routed.
 */
export function alertGroupOf(index: RegionIndex, domain: string): string | null {
  const owner = ownerOfDomain(index, domain);
  if (!owner) return null;
  const node = owner.node;
  const hasChildren = (index.children.get(node.id)?.length ?? 0) > 0;
  if (hasChildren || node.parentId === null || !index.byId.has(node.parentId)) return node.id;
  return node.parentId;
}

// A subscription to the alert's scope or anything above it ("a subscription to a Verband or Kreis
// covers everything below it"), to all, and — for a group alert — to one of its towns or domains,
// since their mail is part of the wave.
export function audienceOf(index: RegionIndex, alert: SpikeAlert): string[] {
  const out = new Set<string>([ALL_SCOPE_ID]);
  const withAncestors = (id: string) => {
    out.add(id);
    for (const a of ancestors(index, id)) out.add(a.id);
  };
  const addDomain = (domain: string) => {
    out.add(formatScopeId({ kind: 'domain', domain }));
    const owner = ownerOfDomain(index, domain);
    if (owner) withAncestors(owner.node.id);
  };
  withAncestors(alert.group);
  if (alert.scope.kind === 'group') {
    for (const d of alert.domains) addDomain(d);
  } else {
    addDomain(alert.scope.id);
  }
  return [...out].sort();
}

// Muting a scope silences its alerts and those below it: "Stumm 4 h" on a group alert also keeps that
// group's single-domain alerts out; muting one domain leaves a group-wide wave audible.
export function muteScopesOf(index: RegionIndex, alert: SpikeAlert): string[] {
  const out = new Set<string>([alertScopeId(alert.scope), alert.group]);
  for (const a of ancestors(index, alert.group)) out.add(a.id);
  if (alert.scope.kind === 'domain') {
    const owner = ownerOfDomain(index, alert.scope.id);
    if (owner) {
      out.add(owner.node.id);
      for (const a of ancestors(index, owner.node.id)) out.add(a.id);
    }
  }
  return [...out].sort();
}
