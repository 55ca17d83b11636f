import type { OutgoingContent } from './mention-message.ts';
import type {
  ComplianceHistory,
  ComplianceReport,
  DeviceKind,
  DomainState,
  FlowState,
  HeldQueue,
  Patch,
  PatchState,
  PatchStateRow,
  RegionList,
  SpamSeries,
} from './model.ts';
import type { MentionedPerson } from './store-port.ts';

// Ports the services call. Adapters implement them (HTTP clients against the real APIs or the
// simulator); tests use hand-written fakes in test/fakes/.

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total: number;
}

export interface PatchStateQuery {
  patchId: string;
  regionId?: string;
  states?: PatchState[];
  kind?: DeviceKind;
  sort?: 'priority' | 'hostname' | 'lastSeenAt';
  limit?: number;
  cursor?: string;
}

export interface InventoryPort {
  /** The region tree as a flat list, with the estate's levels when the inventory names them. */
  listRegions(): Promise<RegionList>;
  listPatches(): Promise<Patch[]>;
  getCompliance(regionId: string, patchId?: string): Promise<ComplianceReport>;
  getComplianceHistory(q: {
    regionId: string;
    patchId: string;
    from: string;
    to: string;
    stepMinutes: number;
  }): Promise<ComplianceHistory>;
  listPatchStates(q: PatchStateQuery): Promise<Page<PatchStateRow>>;
  ping(): Promise<void>;
}

export interface DomainSelector {
  domains?: string[];
  municipality?: string;
  kreis?: string;
  verband?: string;
}

export interface DomainChange {
  domain: string;
  inbound?: FlowState;
  outbound?: FlowState;
  reason: string;
  actor: string;
  idempotencyKey: string;
  ifMatchVersion?: number;
}

export interface DomainChangeResult {
  domain: DomainState;
  changed: boolean;
  replayed: boolean;
}

export interface GatewayPort {
  listDomains(selector?: Omit<DomainSelector, 'domains'>): Promise<DomainState[]>;
  getDomain(domain: string): Promise<DomainState>;
  changeDomain(change: DomainChange): Promise<DomainChangeResult>;
  listQueues(selector?: Omit<DomainSelector, 'domains'> & { domain?: string }): Promise<HeldQueue[]>;
  getSpamMetrics(q: { from: string; to: string; domains?: string[] }): Promise<SpamSeries[]>;
  ping(): Promise<void>;
}

/** Proactive messages into a stored conversation (release cards, alerts). Cards are plain JSON. */
/**
 * Names for @mentions (src/teams/roster-names.ts: the Teams roster, the last activity seen, the id).
 * Never throws and never waits long: a lookup failing must not hold up a reminder.
 */
export interface PeopleDirectory {
  nameOf(aadObjectId: string): Promise<MentionedPerson>;
}

export interface ProactiveSender {
  /** A card, or a message that @mentions people (src/domain/mention-message.ts). */
  send(conversationId: string, card: OutgoingContent): Promise<{ activityId: string }>;
  update(conversationId: string, activityId: string, card: Record<string, unknown>): Promise<void>;
}
