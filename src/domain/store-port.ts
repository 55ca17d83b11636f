// The persistence port: everything Lagebot must remember across restarts and replicas.
// Two engines implement it (src/adapters/store: SQLite embedded, PostgreSQL for replicas) and
// one contract suite (test/adapters/store/store-contract.ts) runs against both.
//
// Time: every `now`/`at`/timestamp is an ISO-8601 string (as from `Date#toISOString()`); the
// store normalises it to UTC milliseconds and never reads the clock itself. JSON fields
// (`data`, `details`, `change`, `result`, `reference`) are stored as opaque JSON.

import type { RequestKind } from './release-request.ts';

export interface StoredRequest {
  id: string;
  tenantId: string;
  kind: RequestKind;
  // Owned by the workflow (src/domain/release-request.ts); the store only filters on it.
  state: string;
  version: number;
  requesterId: string;
  scopeId: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  data: unknown;
}

// A new request starts at version 1 with updatedAt = createdAt.
export type NewRequest = Omit<StoredRequest, 'version' | 'updatedAt'>;

export interface RequestQuery {
  tenantId?: string;
  states?: string[];
  scopeId?: string;
  // Only requests with expiresAt < expiresBefore (for the expiry sweep).
  expiresBefore?: string;
  // Default 100, at most 1000. Newest first.
  limit?: number;
}

export interface RequestTransition {
  state: string;
  data: unknown;
  updatedAt: string;
  // Omitted: keep the stored expiry.
  expiresAt?: string | null;
}

export type TransitionResult =
  | { ok: true; request: StoredRequest }
  | { ok: false; reason: 'conflict' | 'not_found'; current?: StoredRequest };

// tenantId, scopeId and requestId default to the request's own when written with a request.
export interface AuditInput {
  at: string;
  actor: string;
  action: string;
  tenantId?: string | null;
  scopeId?: string | null;
  requestId?: string | null;
  details?: unknown;
}

// What a request write left behind (the request's state, version and a hash of its whole row), recorded by
// the store in the first audit entry of that write, so that `audit verify` can tell a request row that was
// changed past the store.
export interface RequestStamp {
  state: string;
  version: number;
  row: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  tenantId: string | null;
  actor: string;
  action: string;
  scopeId: string | null;
  requestId: string | null;
  details: unknown;
  // Set by the store on request writes (createRequest, transitionRequest).
  request: RequestStamp | null;
  prevHash: string;
  hash: string;
  // The MAC of the hash under a key the database does not hold, and that key's id; null for entries written
  // without a key (before migration 003, or by a store opened without one).
  keyId: string | null;
  mac: string | null;
}

// A checkpoint of the chain's head kept where the database's administrator cannot rewrite it
// (AUDIT_ANCHOR_FILE, AUDIT_ANCHOR_CONVERSATION). `line` says where it was read from, for messages.
export interface AuditAnchor {
  seq: number;
  hash: string;
  at: string;
  keyId: string | null;
  mac: string | null;
  line?: number;
}

export interface AuditQuery {
  scopeId?: string;
  requestId?: string;
  // Newest first; page with beforeSeq = the last seq seen. At most 1000.
  limit: number;
  beforeSeq?: number;
}

export type AuditBreakReason =
  // the chain itself
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'seq_gap'
  | 'invalid_json'
  // the key: an entry whose MAC is wrong, missing where it must be, or made with a key not in the keyring
  | 'mac_mismatch'
  | 'mac_missing'
  | 'unknown_key'
  // the anchors: an entry that differs from its anchor, entries missing at the end, a forged anchor
  | 'anchor_mismatch'
  | 'truncated'
  | 'anchor_forged'
  // the requests table against the log
  | 'request_state_mismatch'
  | 'request_unaudited'
  | 'request_missing';

export type AuditVerification =
  // macs: entries whose MAC was checked; anchors: anchors checked; requests: request rows checked.
  | { ok: true; count: number; macs: number; anchors: number; requests: number }
  // count = entries checked, including the broken one. brokenAtSeq: the first bad entry, or for a missing
  // tail the first missing one; null when no entry number applies (a forged anchor, a request row nobody audited).
  | {
      ok: false;
      count: number;
      brokenAtSeq: number | null;
      reason: AuditBreakReason;
      requestId?: string;
      anchorLine?: number;
    };

export interface AuditVerifyOptions {
  // Checkpoints read from AUDIT_ANCHOR_FILE (and any the operator adds from AUDIT_ANCHOR_CONVERSATION).
  anchors?: AuditAnchor[];
}

// The chain's newest entry after a commit, for anchoring.
export type AuditHead = Pick<AuditEntry, 'seq' | 'hash' | 'keyId' | 'mac'>;

export type OutboxStatus = 'pending' | 'succeeded' | 'failed';

export interface OutboxInput {
  // The gateway idempotency key; unique across the outbox.
  key: string;
  domain: string;
  change: unknown;
}

export interface OutboxItem {
  key: string;
  requestId: string;
  domain: string;
  change: unknown;
  status: OutboxStatus;
  attempts: number;
  lastError: string | null;
  result: unknown | null;
  createdAt: string;
  updatedAt: string;
  // Who is sending it right now and until when (claimOutbox); null when unclaimed.
  claimedBy: string | null;
  claimedUntil: string | null;
}

export type ConversationKind = 'personal' | 'groupChat' | 'channel';

export interface ConversationRecord {
  conversationId: string;
  tenantId: string;
  serviceUrl: string;
  kind: ConversationKind;
  teamId?: string | null;
  name?: string | null;
  // botbuilder's ConversationReference, opaque here.
  reference: unknown;
  updatedAt: string;
}

export interface StoredConversation extends ConversationRecord {
  teamId: string | null;
  name: string | null;
}

export interface Subscription {
  conversationId: string;
  scopeId: string;
  createdAt: string;
  // The language alert cards in this conversation are written in: that of the client that subscribed last.
  lang: 'de' | 'en';
  // People to @mention on this subscription's alerts (`alarme an <scope> @…`); [] when none.
  mentions: MentionedPerson[];
}

/** Someone to @mention: the id Teams gave in the mention entity (29:… or an AAD object id) and a name. */
export interface MentionedPerson {
  id: string;
  name: string;
}

// Reminders, escalations, requester notes and daily reports, planned like the outbox (migration 006): the key
// names the request or report and its time slot, so planning twice is one row and sending is claimed by one
// replica and finished once.
export type NotificationKind = 'reminder' | 'escalation' | 'requester_note' | 'report';
export type NotificationStatus = 'pending' | 'sent' | 'skipped' | 'failed';

export interface PlannedNotificationInput {
  key: string;
  kind: NotificationKind;
  dueAt: string;
  payload: unknown;
}

export interface PlannedNotification extends PlannedNotificationInput {
  status: NotificationStatus;
  attempts: number;
  lastError: string | null;
  result: unknown | null;
  claimedBy: string | null;
  claimedUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NotificationQuery {
  kind?: NotificationKind;
  status?: NotificationStatus;
  keyPrefix?: string;
  // Default 100, at most 1000. By due time, oldest first.
  limit?: number;
}

/** `bericht an [HH:MM] [werktags] <scope>`: one daily report per conversation. */
export interface ReportSchedule {
  conversationId: string;
  tenantId: string;
  scopeId: string;
  // Wall-clock time in Europe/Berlin, "HH:MM".
  localTime: string;
  weekdaysOnly: boolean;
  lang: 'de' | 'en';
  createdBy: string;
  createdAt: string;
}

/** Someone the bot has seen: a name for mentions, and their 1:1 conversation once they wrote to the bot there. */
export interface SeenPerson {
  aadObjectId: string;
  tenantId: string;
  userId: string;
  name: string;
  personalConversationId: string | null;
  seenAt: string;
}

export type AlertStatus = 'open' | 'closed';

export interface StoredAlert {
  id: string;
  scopeId: string;
  status: AlertStatus;
  openedAt: string;
  closedAt: string | null;
  data: unknown;
  version: number;
}

export type NewAlert = Omit<StoredAlert, 'version' | 'status' | 'closedAt'> & {
  status?: AlertStatus;
  closedAt?: string | null;
};

export type AlertWriteResult =
  | { ok: true; alert: StoredAlert }
  | { ok: false; reason: 'conflict' | 'not_found'; current?: StoredAlert };

export interface AlertUpdate {
  status: AlertStatus;
  closedAt: string | null;
  data: unknown;
}

export interface AlertQuery {
  status?: AlertStatus;
  scopeId?: string;
  // Default 100, at most 1000. Newest first.
  limit?: number;
}

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

export interface AlertDelivery {
  alertId: string;
  conversationId: string;
  activityId: string | null;
  status: DeliveryStatus;
  // Claims taken (claimDelivery): each is one try at sending the card.
  attempts: number;
  updatedAt: string;
  // The replica sending it right now and until when (claimDelivery); null when unclaimed.
  claimedBy: string | null;
  claimedUntil: string | null;
}

// How a claimed delivery ended: the card is in the conversation (its activity id, for updates in place),
// or it could not be sent.
export type DeliveryResult = { status: 'sent'; activityId: string } | { status: 'failed' };

export interface AlertAck {
  alertId: string;
  actor: string;
  at: string;
}

export interface Mute {
  conversationId: string;
  scopeId: string;
  until: string;
}

export interface Lease {
  name: string;
  holder: string;
  acquiredAt: string;
  expiresAt: string;
}

// Small JSON documents with optimistic concurrency (table `documents`): one typed accessor per use,
// each under its own key space, so no use can read or overwrite another's.

/** Where a request's card was posted, so every copy can be updated in place. */
export interface CardLocation {
  conversationId: string;
  activityId: string;
}

/** A stored document and the eTag a conditional write must name. */
export interface VersionedDocument {
  etag: string;
  data: unknown;
}

export type DocumentWriteResult = { ok: true; etag: string } | { ok: false };

// One shard of the spam detector's domain tracks, as the watcher encoded it (the store keeps the text).
export interface SpamDetectorShard {
  shard: number;
  data: string;
}

// botbuilder turn state, kept opaque: the Storage adapter (src/teams/store-turn-storage.ts) adds the
// eTag semantics on top.
export type TurnStateItem = VersionedDocument;

export interface TurnStateWrite {
  key: string;
  data: unknown;
  // null: write unconditionally; otherwise only if the stored eTag equals it (or no row exists).
  ifEtag: string | null;
}

export type TurnStateWriteResult = { ok: true; etags: Record<string, string> } | { ok: false; conflictKey: string };

export interface Store {
  readonly engine: 'sqlite' | 'postgres';

  // Requests. createRequest throws LagebotError STORE_CONFLICT if the id exists.
  createRequest(req: NewRequest, audit: AuditInput[], outbox?: OutboxInput[]): Promise<StoredRequest>;
  getRequest(id: string): Promise<StoredRequest | null>;
  listRequests(q?: RequestQuery): Promise<StoredRequest[]>;
  // One transaction: request row + audit entries + outbox rows, only if version === expectedVersion.
  transitionRequest(
    id: string,
    expectedVersion: number,
    next: RequestTransition,
    audit: AuditInput[],
    outbox?: OutboxInput[],
  ): Promise<TransitionResult>;

  // Audit log: append-only, hash-chained, each entry MACed when the store has a key (createStore's auditKeys).
  appendAudit(entries: AuditInput[]): Promise<AuditEntry[]>;
  listAudit(q: AuditQuery): Promise<AuditEntry[]>;
  // Checks the chain, the MACs (with the store's keys), the anchors given, and every request row against the
  // state its audit entries recorded.
  verifyAuditChain(options?: AuditVerifyOptions): Promise<AuditVerification>;
  // Brings a log written without a key under the current key: one `audit.sealed` entry, whose MAC covers every
  // entry before it, and one `request.sealed` entry per request whose state the log does not yet record.
  // Writes nothing when the newest entry is keyed and every request is recorded; returns the entries written.
  sealAuditLog(at: string): Promise<number>;

  // Outbox of gateway changes.
  listPendingOutbox(limit?: number): Promise<OutboxItem[]>;
  listOutboxForRequest(requestId: string): Promise<OutboxItem[]>;
  // The claimed item (attempts + 1), or null if unknown, finished, or claimed by another holder whose claim has
  // not expired. Re-claiming one's own item renews the claim.
  claimOutbox(key: string, holder: string, now: string, leaseMs: number): Promise<OutboxItem | null>;
  // 'succeeded' stores `detail` as result; 'failed' stores it as lastError (Error → message). Idempotent: once
  // finished, later calls return the item with its first outcome. null if the key is unknown.
  completeOutbox(
    key: string,
    outcome: 'succeeded' | 'failed',
    detail: unknown,
    now: string,
  ): Promise<OutboxItem | null>;
  // claimOutbox for many items in one transaction (a large request's first calls): the items claimed;
  // unknown, finished and other holders' live items are left out.
  claimOutboxItems(keys: readonly string[], holder: string, now: string, leaseMs: number): Promise<OutboxItem[]>;
  // completeOutbox for many items in one transaction; how many changed (finished ones keep their first outcome).
  completeOutboxItems(
    outcomes: ReadonlyArray<{ key: string; outcome: 'succeeded' | 'failed'; detail: unknown }>,
    now: string,
  ): Promise<number>;
  // A transient failure: drop the claim, remember the error, stay pending. false if not claimed by holder.
  releaseOutbox(key: string, holder: string, lastError: string | null, now: string): Promise<boolean>;

  // Conversation references for proactive messages.
  upsertConversation(c: ConversationRecord): Promise<StoredConversation>;
  getConversation(conversationId: string): Promise<StoredConversation | null>;
  listConversations(tenantId?: string): Promise<StoredConversation[]>;

  // Alert subscriptions. subscribe → false if it existed; unsubscribe without scopeId removes all of the
  // conversation's; returns how many went.
  // True when the subscription is new. Either way the conversation's subscriptions take `lang` (default 'de').
  subscribe(conversationId: string, scopeId: string, now: string, lang?: Subscription['lang']): Promise<boolean>;
  unsubscribe(conversationId: string, scopeId?: string): Promise<number>;
  listSubscriptions(conversationId?: string): Promise<Subscription[]>;
  // Replaces the people a subscription mentions; false if there is no such subscription.
  setSubscriptionMentions(conversationId: string, scopeId: string, mentions: MentionedPerson[]): Promise<boolean>;

  // Planned notifications. planNotification inserts unless the key exists (created: false, the stored one).
  planNotification(
    n: PlannedNotificationInput,
    now: string,
  ): Promise<{ created: boolean; notification: PlannedNotification }>;
  getNotification(key: string): Promise<PlannedNotification | null>;
  listNotifications(q?: NotificationQuery): Promise<PlannedNotification[]>;
  // Pending, due at or before now, and not claimed by anyone whose claim still holds; oldest first.
  listDueNotifications(now: string, limit?: number): Promise<PlannedNotification[]>;
  // As claimOutbox: the claimed item (attempts + 1), or null if unknown, finished, or claimed by another holder.
  claimNotification(key: string, holder: string, now: string, leaseMs: number): Promise<PlannedNotification | null>;
  // The first outcome stays (later calls return it); 'failed' stores detail as lastError, others as result.
  completeNotification(
    key: string,
    outcome: 'sent' | 'skipped' | 'failed',
    detail: unknown,
    now: string,
  ): Promise<PlannedNotification | null>;
  releaseNotification(key: string, holder: string, lastError: string | null, now: string): Promise<boolean>;

  // Daily reports: one per conversation (set replaces), removed by `bericht aus`.
  setReportSchedule(schedule: ReportSchedule): Promise<void>;
  deleteReportSchedule(conversationId: string): Promise<boolean>;
  listReportSchedules(conversationId?: string): Promise<ReportSchedule[]>;

  // People seen in activities. notePerson keeps the stored 1:1 conversation when none is given.
  notePerson(
    person: Omit<SeenPerson, 'personalConversationId'> & { personalConversationId?: string | null },
  ): Promise<void>;
  getPerson(aadObjectId: string): Promise<SeenPerson | null>;

  // Alerts. createAlert refuses (conflict, with current) if the id exists.
  createAlert(alert: NewAlert): Promise<AlertWriteResult>;
  updateAlert(id: string, expectedVersion: number, next: AlertUpdate): Promise<AlertWriteResult>;
  getAlert(id: string): Promise<StoredAlert | null>;
  listAlerts(q?: AlertQuery): Promise<StoredAlert[]>;
  // Inserts a pending delivery unless one exists for (alertId, conversationId); returns the stored one.
  ensureDelivery(
    alertId: string,
    conversationId: string,
    now: string,
  ): Promise<{ created: boolean; delivery: AlertDelivery }>;
  // As claimOutbox: the claimed delivery (attempts + 1), or null if unknown, no longer pending, or claimed by
  // another holder whose claim has not expired. Re-claiming one's own delivery renews the claim.
  claimDelivery(
    alertId: string,
    conversationId: string,
    holder: string,
    now: string,
    leaseMs: number,
  ): Promise<AlertDelivery | null>;
  // Records the result only while `holder` still holds the claim (expired or not: nobody took it over) and the
  // delivery is pending; then the claim is dropped. null otherwise: another replica took the delivery over.
  completeDelivery(
    alertId: string,
    conversationId: string,
    holder: string,
    result: DeliveryResult,
    now: string,
  ): Promise<AlertDelivery | null>;
  listDeliveries(filter?: { alertId?: string; status?: DeliveryStatus }): Promise<AlertDelivery[]>;
  // First acknowledgement per actor counts; first = false on a repeat.
  acknowledgeAlert(alertId: string, actor: string, at: string): Promise<{ first: boolean; ack: AlertAck }>;
  listAcknowledgements(alertId: string): Promise<AlertAck[]>;
  muteScope(conversationId: string, scopeId: string, until: string): Promise<Mute>;
  unmuteScope(conversationId: string, scopeId: string): Promise<boolean>;
  listMutes(conversationId?: string): Promise<Mute[]>;
  isMuted(conversationId: string, scopeId: string, now: string): Promise<boolean>;

  // Leases (one spam watcher among replicas). acquire: take if free, expired or already mine (renews).
  acquireLease(name: string, holder: string, ttlMs: number, now: string): Promise<boolean>;
  // false if the lease expired or belongs to someone else: the caller has lost it.
  renewLease(name: string, holder: string, ttlMs: number, now: string): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<boolean>;
  getLease(name: string): Promise<Lease | null>;

  // Request cards. addRequestCard is idempotent, and concurrent adds (two replicas) are all kept.
  listRequestCards(requestId: string): Promise<CardLocation[]>;
  addRequestCard(requestId: string, location: CardLocation): Promise<void>;

  // The spam watcher's detector state (src/services/watch-spam.ts parses it): a head document and the
  // domains' tracks in shards. ifEtag null: only if there is none yet — a second watcher that started
  // fresh too is noticed, not overwritten. The shards given are written in the same transaction as the
  // head, and none of them when its eTag does not match; shards not given keep what they hold.
  readSpamDetectorState(): Promise<VersionedDocument | null>;
  readSpamDetectorShards(): Promise<SpamDetectorShard[]>;
  writeSpamDetectorState(
    data: unknown,
    ifEtag: string | null,
    shards?: readonly SpamDetectorShard[],
  ): Promise<DocumentWriteResult>;

  // One-time codes of typed approvals of a request (src/domain/decision-code.ts parses them). ifEtag null:
  // only if there are none yet; otherwise only on the eTag read, so a code is redeemed once across replicas.
  readDecisionCodes(requestId: string): Promise<VersionedDocument | null>;
  writeDecisionCodes(requestId: string, data: unknown, ifEtag: string | null): Promise<DocumentWriteResult>;

  // teams-ai turn state (src/teams/store-turn-storage.ts). Writes are all-or-nothing.
  readTurnState(keys: string[]): Promise<Record<string, TurnStateItem>>;
  writeTurnState(items: TurnStateWrite[]): Promise<TurnStateWriteResult>;
  deleteTurnState(keys: string[]): Promise<void>;

  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
