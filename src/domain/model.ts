// The domain's view of the estate. Structurally identical to the wire types in src/contracts
// (a type test checks that), but declared here because domain/ imports nothing outside domain/.

// A level of the estate as the inventory names it ('verband', 'kreis', 'kommune' in Südwestfalen;
// 'land', 'regierungsbezirk', 'kreis', 'gemeinde' state-wide). Never a fixed list: depth comes from parentId.
export type RegionKind = string;
export interface RegionLevel {
  kind: RegionKind;
  name: { de: string; en: string };
  plural: { de: string; en: string };
  qualifiers: string[];
}
export interface RegionNode {
  id: string;
  kind: RegionKind;
  name: string;
  shortName: string | null;
  aliases: string[];
  parentId: string | null;
  ags: string | null;
  population: number | null;
  domains: string[];
}
// GET /regions: the tree as a flat list, and — when the inventory names them — its levels, top first.
export interface RegionList {
  items: RegionNode[];
  levels?: RegionLevel[];
}

export type DeviceKind = 'client' | 'server';
export type PatchState = 'installed' | 'pending' | 'pending_reboot' | 'failed' | 'not_applicable' | 'unknown';

export interface Patch {
  id: string;
  title: string;
  product: string;
  kb: string[];
  cves: string[];
  appliesTo: { kind: DeviceKind; roles: string[] | null };
  minBuild: string | null;
  releasedAt: string;
}

export interface PatchStateRow {
  deviceId: string;
  hostname: string;
  kind: DeviceKind;
  role: string;
  municipality: string;
  kreis: string;
  build: string;
  lastSeenAt: string;
  patchId: string;
  state: PatchState;
  observedAt: string;
}

export interface StateCounts {
  total: number;
  installed: number;
  pending: number;
  pending_reboot: number;
  failed: number;
  unknown: number;
  notApplicable: number;
  stale: number;
}

export interface PatchCompliance {
  patchId: string;
  clients: StateCounts;
  servers: StateCounts;
  exchangeServers: StateCounts;
}

export interface RegionCompliance {
  regionId: string;
  name: string;
  kind: RegionKind;
  patches: PatchCompliance[];
}

export interface ComplianceReport {
  observedAt: string;
  staleAfterHours: number;
  region: RegionCompliance;
  children: RegionCompliance[];
}

export interface HistoryPoint {
  at: string;
  clients: { total: number; installed: number };
  servers: { total: number; installed: number };
}
export interface ComplianceHistory {
  regionId: string;
  patchId: string;
  stepMinutes: number;
  points: HistoryPoint[];
}

export type FlowState = 'open' | 'blocked' | 'held';
export type Direction = 'inbound' | 'outbound';
export interface DomainState {
  domain: string;
  municipality: string | null;
  kreis: string;
  verband: string;
  inbound: FlowState;
  outbound: FlowState;
  blockMode: 'hold' | 'defer' | 'reject';
  reason: string | null;
  changedBy: string | null;
  changedAt: string | null;
  version: number;
}

export interface HeldQueue {
  domain: string;
  direction: Direction;
  held: number;
  oldestAt: string | null;
}

export interface SpamPoint {
  at: string;
  received: number;
  spam: number;
  rejected: number;
  quarantined: number;
}
export interface SpamSeries {
  domain: string;
  points: SpamPoint[];
}
