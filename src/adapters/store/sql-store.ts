import { randomUUID } from 'node:crypto';
import { LagebotError } from '../../domain/errors.ts';
import type {
  AlertAck,
  AlertDelivery,
  AlertQuery,
  AlertUpdate,
  AlertWriteResult,
  AuditEntry,
  AuditHead,
  AuditInput,
  AuditQuery,
  AuditVerification,
  AuditVerifyOptions,
  CardLocation,
  ConversationRecord,
  DeliveryResult,
  DeliveryStatus,
  DocumentWriteResult,
  Lease,
  MentionedPerson,
  Mute,
  NewAlert,
  NewRequest,
  NotificationKind,
  NotificationQuery,
  NotificationStatus,
  OutboxInput,
  OutboxItem,
  PlannedNotification,
  PlannedNotificationInput,
  ReportSchedule,
  RequestQuery,
  RequestStamp,
  RequestTransition,
  SeenPerson,
  SpamDetectorShard,
  Store,
  StoredAlert,
  StoredConversation,
  StoredRequest,
  Subscription,
  TransitionResult,
  TurnStateItem,
  TurnStateWrite,
  TurnStateWriteResult,
  VersionedDocument,
} from '../../domain/store-port.ts';
import { canonicalJson, GENESIS_HASH, hashAuditEntry, macAuditHash, stampRequest } from './audit-chain.ts';
import { createAuditChainCheck, type RawAuditEntry } from './check-audit-chain.ts';
import { migrations } from './migrations.ts';
import type { AuditKeyring } from './parse-audit-keys.ts';
import type { SqlDb, SqlExecutor, SqlRow, SqlTx, SqlValue } from './sql-db.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
// Rows per round trip when walking the whole audit log.
const VERIFY_BATCH = 1000;

function toIso(value: string, field: string): string {
  const t = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t))
    throw new LagebotError('INVALID_INPUT', `${field} is not an ISO-8601 timestamp: ${String(value)}`);
  // One format (UTC, milliseconds) so that timestamps compare correctly as text in both engines.
  return new Date(t).toISOString();
}

function toMs(value: string, field: string): number {
  return Date.parse(toIso(value, field));
}

function toIsoOrNull(value: string | null | undefined, field: string): string | null {
  return value === null || value === undefined ? null : toIso(value, field);
}

function checkPositive(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new LagebotError('INVALID_INPUT', `${field} must be a positive integer`);
  return n;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  return Math.max(1, Math.min(MAX_LIMIT, Math.floor(limit)));
}

function json(value: unknown): string {
  return canonicalJson(value === undefined ? null : value);
}

function parseJson(text: unknown): unknown {
  return text === null || text === undefined ? null : JSON.parse(String(text));
}

function str(v: unknown): string {
  return String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

// A filter's conditions, joined by AND; a condition is its SQL and its parameters, or undefined when
// the query does not ask for it. Empty: no WHERE at all.
type Condition = readonly [sql: string, ...params: SqlValue[]] | undefined;
function whereOf(conditions: readonly Condition[]): { sql: string; params: SqlValue[] } {
  const given = conditions.filter((c): c is NonNullable<Condition> => c !== undefined);
  return {
    sql: given.length ? `WHERE ${given.map(([sql]) => sql).join(' AND ')}` : '',
    params: given.flatMap(([, ...params]) => params),
  };
}

function errorText(detail: unknown): string {
  if (detail instanceof Error) return detail.message;
  if (typeof detail === 'string') return detail;
  return json(detail);
}

// Outbox items, planned notifications and alert deliveries are claimed alike (docs/decisions/exactly-once.md):
// a pending row is taken by `holder` for `leaseMs` unless another holder's claim still runs; the same
// holder claiming again renews its claim. `key` picks the row.
function claimPending(
  db: SqlExecutor,
  table: 'outbox' | 'planned_notifications' | 'alert_deliveries',
  key: { sql: string; params: SqlValue[] },
  holder: string,
  now: string,
  leaseMs: number,
): Promise<SqlRow[]> {
  const nowMs = toMs(now, 'now');
  const until = nowMs + checkPositive(leaseMs, 'leaseMs');
  return db.query(
    `UPDATE ${table} SET claimed_by = ?, claimed_until = ?, claimed_until_ms = ?, attempts = attempts + 1, updated_at = ?
     WHERE ${key.sql} AND status = 'pending' AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until_ms <= ?)
     RETURNING *`,
    [holder, new Date(until).toISOString(), until, new Date(nowMs).toISOString(), ...key.params, holder, nowMs],
  );
}

// Gives a claim back without an outcome, so the row is pending and free for the next claim at once.
async function releaseClaim(
  db: SqlExecutor,
  table: 'outbox' | 'planned_notifications',
  key: string,
  holder: string,
  lastError: string | null,
  now: string,
): Promise<boolean> {
  const changed = await db.run(
    `UPDATE ${table} SET claimed_by = NULL, claimed_until = NULL, claimed_until_ms = NULL, last_error = ?, updated_at = ?
     WHERE key = ? AND status = 'pending' AND claimed_by = ?`,
    [lastError, toIso(now, 'now'), key, holder],
  );
  return changed > 0;
}

function toRequest(r: SqlRow): StoredRequest {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    kind: str(r.kind) as StoredRequest['kind'],
    state: str(r.state),
    version: Number(r.version),
    requesterId: str(r.requester_id),
    scopeId: str(r.scope_id),
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
    expiresAt: strOrNull(r.expires_at),
    data: parseJson(r.data),
  };
}

function toAudit(r: SqlRow): AuditEntry {
  return {
    seq: Number(r.seq),
    at: str(r.at),
    tenantId: strOrNull(r.tenant_id),
    actor: str(r.actor),
    action: str(r.action),
    scopeId: strOrNull(r.scope_id),
    requestId: strOrNull(r.request_id),
    details: parseJson(r.details),
    request: parseJson(r.request_state) as RequestStamp | null,
    prevHash: str(r.prev_hash),
    hash: str(r.hash),
    keyId: strOrNull(r.key_id),
    mac: strOrNull(r.mac),
  };
}

// For `audit verify`: a JSON column someone broke is a finding with the entry's number, not a crash.
function toRawAudit(r: SqlRow): RawAuditEntry {
  const parsed = (text: unknown) => {
    try {
      return parseJson(text);
    } catch {
      return undefined;
    }
  };
  return {
    ...toAudit({ ...r, details: null, request_state: null }),
    details: parsed(r.details),
    request: parsed(r.request_state) as RequestStamp | null | undefined,
  };
}

// A request row for `audit verify`: its data as stored, or, if the JSON does not parse, the text itself (so
// that it cannot match what the audit log recorded).
function toCheckedRequest(r: SqlRow): StoredRequest {
  try {
    return toRequest(r);
  } catch {
    return toRequest({ ...r, data: json({ unreadable: str(r.data) }) });
  }
}

function toOutbox(r: SqlRow): OutboxItem {
  return {
    key: str(r.key),
    requestId: str(r.request_id),
    domain: str(r.domain),
    change: parseJson(r.change),
    status: str(r.status) as OutboxItem['status'],
    attempts: Number(r.attempts),
    lastError: strOrNull(r.last_error),
    result: parseJson(r.result),
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
    claimedBy: strOrNull(r.claimed_by),
    claimedUntil: strOrNull(r.claimed_until),
  };
}

function toNotification(r: SqlRow): PlannedNotification {
  return {
    key: str(r.key),
    kind: str(r.kind) as NotificationKind,
    dueAt: str(r.due_at),
    payload: parseJson(r.payload),
    status: str(r.status) as NotificationStatus,
    attempts: Number(r.attempts),
    lastError: strOrNull(r.last_error),
    result: parseJson(r.result),
    claimedBy: strOrNull(r.claimed_by),
    claimedUntil: strOrNull(r.claimed_until),
    createdAt: str(r.created_at),
    updatedAt: str(r.updated_at),
  };
}

function toReportSchedule(r: SqlRow): ReportSchedule {
  return {
    conversationId: str(r.conversation_id),
    tenantId: str(r.tenant_id),
    scopeId: str(r.scope_id),
    localTime: str(r.local_time),
    weekdaysOnly: Number(r.weekdays_only) === 1,
    lang: str(r.lang) === 'en' ? 'en' : 'de',
    createdBy: str(r.created_by),
    createdAt: str(r.created_at),
  };
}

function toPerson(r: SqlRow): SeenPerson {
  return {
    aadObjectId: str(r.aad_object_id),
    tenantId: str(r.tenant_id),
    userId: str(r.user_id),
    name: str(r.name),
    personalConversationId: strOrNull(r.personal_conversation_id),
    seenAt: str(r.seen_at),
  };
}

function mentionsOf(value: unknown): MentionedPerson[] {
  const list = parseJson(value);
  if (!Array.isArray(list)) return [];
  return list.filter((m): m is MentionedPerson => typeof m?.id === 'string' && typeof m?.name === 'string');
}

function toConversation(r: SqlRow): StoredConversation {
  return {
    conversationId: str(r.conversation_id),
    tenantId: str(r.tenant_id),
    serviceUrl: str(r.service_url),
    kind: str(r.kind) as StoredConversation['kind'],
    teamId: strOrNull(r.team_id),
    name: strOrNull(r.name),
    reference: parseJson(r.reference),
    updatedAt: str(r.updated_at),
  };
}

function toAlert(r: SqlRow): StoredAlert {
  return {
    id: str(r.id),
    scopeId: str(r.scope_id),
    status: str(r.status) as StoredAlert['status'],
    openedAt: str(r.opened_at),
    closedAt: strOrNull(r.closed_at),
    data: parseJson(r.data),
    version: Number(r.version),
  };
}

function toDelivery(r: SqlRow): AlertDelivery {
  return {
    alertId: str(r.alert_id),
    conversationId: str(r.conversation_id),
    activityId: strOrNull(r.activity_id),
    status: str(r.status) as DeliveryStatus,
    attempts: Number(r.attempts),
    updatedAt: str(r.updated_at),
    claimedBy: strOrNull(r.claimed_by),
    claimedUntil: strOrNull(r.claimed_until),
  };
}

function toLease(r: SqlRow): Lease {
  return { name: str(r.name), holder: str(r.holder), acquiredAt: str(r.acquired_at), expiresAt: str(r.expires_at) };
}

// Each use of the documents table has its own key space (migration 002_documents moved the old keys).
const documentKeys = {
  requestCards: (requestId: string) => `request-cards:${requestId}`,
  spamDetector: 'spam-detector',
  decisionCodes: (requestId: string) => `decision-codes:${requestId}`,
  turn: (key: string) => `turn:${key}`,
};

function cardLocationsOf(data: unknown): CardLocation[] {
  const cards = (data as { cards?: unknown } | null | undefined)?.cards;
  if (!Array.isArray(cards)) return [];
  return cards.filter(
    (c): c is CardLocation => typeof c?.conversationId === 'string' && typeof c?.activityId === 'string',
  );
}

// Thrown inside a turn-state transaction to roll it back; never leaves this module.
class TurnStateConflict extends Error {
  constructor(readonly key: string) {
    super(`eTag conflict on ${key}`);
  }
}

export interface SqlStoreOptions {
  // Keys of the audit MACs (AUDIT_KEY, AUDIT_KEY_FILE): new entries are MACed with the current one, verify
  // checks every entry's MAC with the key it names. Without: no MACs are written or checked.
  auditKeys?: AuditKeyring;
  // Called after each commit that appended audit entries, with the newest one (anchoring).
  onAuditCommitted?: (head: AuditHead) => void;
}

export class SqlStore implements Store {
  readonly engine: 'sqlite' | 'postgres';
  readonly #db: SqlDb;
  readonly #keys: AuditKeyring | undefined;
  readonly #onAuditCommitted: ((head: AuditHead) => void) | undefined;

  constructor(db: SqlDb, options: SqlStoreOptions = {}) {
    this.#db = db;
    this.engine = db.dialect;
    this.#keys = options.auditKeys;
    this.#onAuditCommitted = options.onAuditCommitted;
  }

  // After the commit, never inside the transaction: an anchor must not get ahead of what is stored.
  #committed(written: AuditEntry[]): void {
    const head = written.at(-1);
    if (head && this.#onAuditCommitted) {
      this.#onAuditCommitted({ seq: head.seq, hash: head.hash, keyId: head.keyId, mac: head.mac });
    }
  }

  migrate(): Promise<string[]> {
    return this.#db.migrate(migrations);
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1 AS ok');
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  // ---- requests -------------------------------------------------------------------------------------

  async createRequest(req: NewRequest, audit: AuditInput[], outbox: OutboxInput[] = []): Promise<StoredRequest> {
    const createdAt = toIso(req.createdAt, 'createdAt');
    const stored: StoredRequest = {
      id: req.id,
      tenantId: req.tenantId,
      kind: req.kind,
      state: req.state,
      version: 1,
      requesterId: req.requesterId,
      scopeId: req.scopeId,
      createdAt,
      updatedAt: createdAt,
      expiresAt: toIsoOrNull(req.expiresAt, 'expiresAt'),
      data: parseJson(json(req.data)),
    };
    let written: AuditEntry[] = [];
    const result = await this.#db.transaction(async (tx) => {
      const inserted = await tx.run(
        `INSERT INTO requests (id, tenant_id, kind, state, version, requester_id, scope_id, created_at, updated_at, expires_at, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [
          stored.id,
          stored.tenantId,
          stored.kind,
          stored.state,
          stored.version,
          stored.requesterId,
          stored.scopeId,
          stored.createdAt,
          stored.updatedAt,
          stored.expiresAt,
          json(stored.data),
        ],
      );
      if (inserted === 0) {
        throw new LagebotError('STORE_CONFLICT', `Request ${req.id} exists already.`, { requestId: req.id });
      }
      written = await this.#appendAudit(tx, audit, stored);
      await this.#insertOutbox(tx, stored.id, outbox, createdAt);
      return stored;
    });
    this.#committed(written);
    return result;
  }

  async getRequest(id: string): Promise<StoredRequest | null> {
    const rows = await this.#db.query('SELECT * FROM requests WHERE id = ?', [id]);
    return rows[0] ? toRequest(rows[0]) : null;
  }

  async listRequests(q: RequestQuery = {}): Promise<StoredRequest[]> {
    if (q.states?.length === 0) return [];
    const where = whereOf([
      q.tenantId !== undefined ? ['tenant_id = ?', q.tenantId] : undefined,
      q.states !== undefined ? [`state IN (${placeholders(q.states.length)})`, ...q.states] : undefined,
      q.scopeId !== undefined ? ['scope_id = ?', q.scopeId] : undefined,
      q.expiresBefore !== undefined
        ? ['expires_at IS NOT NULL AND expires_at < ?', toIso(q.expiresBefore, 'expiresBefore')]
        : undefined,
    ]);
    const rows = await this.#db.query(`SELECT * FROM requests ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`, [
      ...where.params,
      clampLimit(q.limit),
    ]);
    return rows.map(toRequest);
  }

  async transitionRequest(
    id: string,
    expectedVersion: number,
    next: RequestTransition,
    audit: AuditInput[],
    outbox: OutboxInput[] = [],
  ): Promise<TransitionResult> {
    const updatedAt = toIso(next.updatedAt, 'updatedAt');
    const setExpiry = next.expiresAt !== undefined;
    const params: SqlValue[] = [next.state, updatedAt, json(next.data)];
    if (setExpiry) params.push(toIsoOrNull(next.expiresAt, 'expiresAt'));
    params.push(id, expectedVersion);
    let written: AuditEntry[] = [];
    const result = await this.#db.transaction(async (tx): Promise<TransitionResult> => {
      // The version check and the write are one statement: of two concurrent writers the second one
      // re-reads the row after the first commits and matches nothing (PostgreSQL READ COMMITTED re-check;
      // SQLite has only one writer at a time anyway).
      const rows = await tx.query(
        `UPDATE requests SET state = ?, updated_at = ?, data = ?, ${setExpiry ? 'expires_at = ?, ' : ''}version = version + 1
         WHERE id = ? AND version = ? RETURNING *`,
        params,
      );
      if (!rows[0]) {
        const current = await tx.query('SELECT * FROM requests WHERE id = ?', [id]);
        return current[0]
          ? { ok: false, reason: 'conflict', current: toRequest(current[0]) }
          : { ok: false, reason: 'not_found' };
      }
      const request = toRequest(rows[0]);
      written = await this.#appendAudit(tx, audit, request);
      await this.#insertOutbox(tx, request.id, outbox, updatedAt);
      return { ok: true, request };
    });
    this.#committed(written);
    return result;
  }

  // ---- audit ----------------------------------------------------------------------------------------

  async appendAudit(entries: AuditInput[]): Promise<AuditEntry[]> {
    const written = await this.#db.transaction((tx) => this.#appendAudit(tx, entries, null));
    this.#committed(written);
    return written;
  }

  // A request write is always audited: without entries from the caller the store writes its own. Its first
  // entry records what the write left in the requests table (RequestStamp).
  async #appendAudit(tx: SqlTx, inputs: AuditInput[], request: StoredRequest | null): Promise<AuditEntry[]> {
    const entries =
      inputs.length === 0 && request ? [{ at: request.updatedAt, actor: 'lagebot', action: 'request.stored' }] : inputs;
    if (entries.length === 0) return [];
    await tx.lockAuditChain();
    const head = (await tx.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'))[0];
    let seq = head ? Number(head.seq) : 0;
    let prevHash = head ? str(head.hash) : GENESIS_HASH;
    const keyId = this.#keys?.currentId ?? null;
    const written: AuditEntry[] = [];
    for (const [i, a] of entries.entries()) {
      seq += 1;
      const fields = {
        seq,
        at: toIso(a.at, 'audit.at'),
        tenantId: a.tenantId !== undefined ? a.tenantId : (request?.tenantId ?? null),
        actor: a.actor,
        action: a.action,
        scopeId: a.scopeId !== undefined ? a.scopeId : (request?.scopeId ?? null),
        requestId: a.requestId !== undefined ? a.requestId : (request?.id ?? null),
        // Stored and hashed as it will read back.
        details: parseJson(json(a.details)),
        request: request && i === 0 ? stampRequest(request) : null,
      };
      const hash = hashAuditEntry(prevHash, fields);
      const mac = keyId === null ? null : macAuditHash(this.#keys!.keys[keyId]!, keyId, hash);
      // A plain INSERT on the seq primary key: should the lock ever fail to serialise, a fork is refused here.
      await tx.run(
        `INSERT INTO audit_log (seq, at, tenant_id, actor, action, scope_id, request_id, details, request_state,
           prev_hash, hash, key_id, mac)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          seq,
          fields.at,
          fields.tenantId,
          fields.actor,
          fields.action,
          fields.scopeId,
          fields.requestId,
          json(fields.details),
          fields.request === null ? null : json(fields.request),
          prevHash,
          hash,
          keyId,
          mac,
        ],
      );
      written.push({ ...fields, prevHash, hash, keyId, mac });
      prevHash = hash;
    }
    return written;
  }

  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const where = whereOf([
      q.scopeId !== undefined ? ['scope_id = ?', q.scopeId] : undefined,
      q.requestId !== undefined ? ['request_id = ?', q.requestId] : undefined,
      q.beforeSeq !== undefined ? ['seq < ?', q.beforeSeq] : undefined,
    ]);
    const rows = await this.#db.query(`SELECT * FROM audit_log ${where.sql} ORDER BY seq DESC LIMIT ?`, [
      ...where.params,
      clampLimit(q.limit),
    ]);
    return rows.map(toAudit);
  }

  async verifyAuditChain(options: AuditVerifyOptions = {}): Promise<AuditVerification> {
    const check = createAuditChainCheck({ keyring: this.#keys, anchors: options.anchors });
    let afterSeq: number | null = null;
    for (;;) {
      const rows: SqlRow[] = await this.#db.query(
        afterSeq === null
          ? 'SELECT * FROM audit_log ORDER BY seq LIMIT ?'
          : 'SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?',
        afterSeq === null ? [VERIFY_BATCH] : [afterSeq, VERIFY_BATCH],
      );
      for (const row of rows) {
        const failure = check.entry(toRawAudit(row));
        if (failure) return failure;
        afterSeq = Number(row.seq);
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    const endProblem = check.endOfChain();
    if (endProblem) return endProblem;
    let afterId: string | null = null;
    for (;;) {
      const rows: SqlRow[] = await this.#db.query(
        afterId === null
          ? 'SELECT * FROM requests ORDER BY id LIMIT ?'
          : 'SELECT * FROM requests WHERE id > ? ORDER BY id LIMIT ?',
        afterId === null ? [VERIFY_BATCH] : [afterId, VERIFY_BATCH],
      );
      for (const row of rows) {
        const failure = check.request(toCheckedRequest(row));
        if (failure) return failure;
        afterId = str(row.id);
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    return check.finish();
  }

  async sealAuditLog(at: string): Promise<number> {
    if (!this.#keys) return 0;
    const sealedAt = toIso(at, 'at');
    const written = await this.#db.transaction(async (tx) => {
      await tx.lockAuditChain();
      const head = (await tx.query('SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1'))[0];
      const recorded = new Set(
        (await tx.query('SELECT DISTINCT request_id FROM audit_log WHERE request_state IS NOT NULL')).map((r) =>
          str(r.request_id),
        ),
      );
      const unrecorded = (await tx.query('SELECT * FROM requests ORDER BY id'))
        .map(toRequest)
        .filter((r) => !recorded.has(r.id));
      const out: AuditEntry[] = [];
      if (head && head.mac === null) {
        out.push(
          ...(await this.#appendAudit(
            tx,
            [
              {
                at: sealedAt,
                actor: 'lagebot',
                action: 'audit.sealed',
                tenantId: null,
                scopeId: null,
                requestId: null,
                details: { keyId: this.#keys!.currentId, entriesBefore: Number(head.seq) },
              },
            ],
            null,
          )),
        );
      }
      for (const r of unrecorded) {
        out.push(...(await this.#appendAudit(tx, [{ at: sealedAt, actor: 'lagebot', action: 'request.sealed' }], r)));
      }
      return out;
    });
    this.#committed(written);
    return written.length;
  }

  // ---- outbox ---------------------------------------------------------------------------------------

  async #insertOutbox(tx: SqlExecutor, requestId: string, items: OutboxInput[], now: string): Promise<void> {
    for (const item of items) {
      const inserted = await tx.run(
        `INSERT INTO outbox (key, request_id, domain, change, status, attempts, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (key) DO NOTHING`,
        [item.key, requestId, item.domain, json(item.change), now, now],
      );
      // Reusing an idempotency key for a different change would make the gateway replay the old one.
      if (inserted === 0) {
        throw new LagebotError('STORE_CONFLICT', `Outbox key ${item.key} is already used.`, {
          key: item.key,
          requestId,
        });
      }
    }
  }

  async listPendingOutbox(limit?: number): Promise<OutboxItem[]> {
    const rows = await this.#db.query(
      `SELECT * FROM outbox WHERE status = 'pending' ORDER BY created_at, key LIMIT ?`,
      [clampLimit(limit)],
    );
    return rows.map(toOutbox);
  }

  async listOutboxForRequest(requestId: string): Promise<OutboxItem[]> {
    const rows = await this.#db.query('SELECT * FROM outbox WHERE request_id = ? ORDER BY created_at, key', [
      requestId,
    ]);
    return rows.map(toOutbox);
  }

  async claimOutbox(key: string, holder: string, now: string, leaseMs: number): Promise<OutboxItem | null> {
    const [item] = await this.#claimOutbox(this.#db, key, holder, now, leaseMs);
    return item ?? null;
  }

  async claimOutboxItems(keys: readonly string[], holder: string, now: string, leaseMs: number): Promise<OutboxItem[]> {
    if (keys.length === 0) return [];
    // One transaction: one commit (with SQLite's synchronous=FULL one fsync) instead of one per item.
    return this.#db.transaction(async (tx) => {
      const claimed: OutboxItem[] = [];
      // In key order, as every replica does: two of them claiming overlapping items never deadlock.
      for (const key of [...keys].sort()) claimed.push(...(await this.#claimOutbox(tx, key, holder, now, leaseMs)));
      return claimed;
    });
  }

  async #claimOutbox(
    db: SqlExecutor,
    key: string,
    holder: string,
    now: string,
    leaseMs: number,
  ): Promise<OutboxItem[]> {
    return (await claimPending(db, 'outbox', { sql: 'key = ?', params: [key] }, holder, now, leaseMs)).map(toOutbox);
  }

  async completeOutbox(
    key: string,
    outcome: 'succeeded' | 'failed',
    detail: unknown,
    now: string,
  ): Promise<OutboxItem | null> {
    const [done] = await this.#completeOutbox(this.#db, key, outcome, detail, now);
    if (done) return done;
    const existing = await this.#db.query('SELECT * FROM outbox WHERE key = ?', [key]);
    return existing[0] ? toOutbox(existing[0]) : null;
  }

  async completeOutboxItems(
    outcomes: ReadonlyArray<{ key: string; outcome: 'succeeded' | 'failed'; detail: unknown }>,
    now: string,
  ): Promise<number> {
    if (outcomes.length === 0) return 0;
    return this.#db.transaction(async (tx) => {
      let changed = 0;
      const ordered = [...outcomes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const o of ordered) changed += (await this.#completeOutbox(tx, o.key, o.outcome, o.detail, now)).length;
      return changed;
    });
  }

  async #completeOutbox(
    db: SqlExecutor,
    key: string,
    outcome: 'succeeded' | 'failed',
    detail: unknown,
    now: string,
  ): Promise<OutboxItem[]> {
    const at = toIso(now, 'now');
    // Only a pending item changes: the first outcome recorded is the one that stays.
    const rows =
      outcome === 'succeeded'
        ? await db.query(
            `UPDATE outbox SET status = 'succeeded', result = ?, updated_at = ?,
               claimed_by = NULL, claimed_until = NULL, claimed_until_ms = NULL
             WHERE key = ? AND status = 'pending' RETURNING *`,
            [json(detail), at, key],
          )
        : await db.query(
            `UPDATE outbox SET status = 'failed', last_error = ?, updated_at = ?,
               claimed_by = NULL, claimed_until = NULL, claimed_until_ms = NULL
             WHERE key = ? AND status = 'pending' RETURNING *`,
            [errorText(detail), at, key],
          );
    return rows.map(toOutbox);
  }

  releaseOutbox(key: string, holder: string, lastError: string | null, now: string): Promise<boolean> {
    return releaseClaim(this.#db, 'outbox', key, holder, lastError, now);
  }

  // ---- conversations and subscriptions --------------------------------------------------------------

  async upsertConversation(c: ConversationRecord): Promise<StoredConversation> {
    // teamId/name omitted on a later turn (Teams does not always send them) keep what we knew.
    const rows = await this.#db.query(
      `INSERT INTO conversations (conversation_id, tenant_id, service_url, kind, team_id, name, reference, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (conversation_id) DO UPDATE SET
         tenant_id = excluded.tenant_id, service_url = excluded.service_url, kind = excluded.kind,
         team_id = COALESCE(excluded.team_id, conversations.team_id), name = COALESCE(excluded.name, conversations.name),
         reference = excluded.reference, updated_at = excluded.updated_at
       RETURNING *`,
      [
        c.conversationId,
        c.tenantId,
        c.serviceUrl,
        c.kind,
        c.teamId ?? null,
        c.name ?? null,
        json(c.reference),
        toIso(c.updatedAt, 'updatedAt'),
      ],
    );
    return toConversation(rows[0]!);
  }

  async getConversation(conversationId: string): Promise<StoredConversation | null> {
    const rows = await this.#db.query('SELECT * FROM conversations WHERE conversation_id = ?', [conversationId]);
    return rows[0] ? toConversation(rows[0]) : null;
  }

  async listConversations(tenantId?: string): Promise<StoredConversation[]> {
    const rows =
      tenantId === undefined
        ? await this.#db.query('SELECT * FROM conversations ORDER BY conversation_id')
        : await this.#db.query('SELECT * FROM conversations WHERE tenant_id = ? ORDER BY conversation_id', [tenantId]);
    return rows.map(toConversation);
  }

  async subscribe(
    conversationId: string,
    scopeId: string,
    now: string,
    lang: Subscription['lang'] = 'de',
  ): Promise<boolean> {
    if (lang !== 'de' && lang !== 'en') throw new LagebotError('INVALID_INPUT', `lang must be de or en, not ${lang}`);
    const inserted = await this.#db.run(
      'INSERT INTO subscriptions (conversation_id, scope_id, created_at, lang) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [conversationId, scopeId, toIso(now, 'now'), lang],
    );
    // One language per conversation: whoever subscribed last decides how its alert cards read.
    await this.#db.run('UPDATE subscriptions SET lang = ? WHERE conversation_id = ? AND lang <> ?', [
      lang,
      conversationId,
      lang,
    ]);
    return inserted > 0;
  }

  unsubscribe(conversationId: string, scopeId?: string): Promise<number> {
    return scopeId === undefined
      ? this.#db.run('DELETE FROM subscriptions WHERE conversation_id = ?', [conversationId])
      : this.#db.run('DELETE FROM subscriptions WHERE conversation_id = ? AND scope_id = ?', [conversationId, scopeId]);
  }

  async listSubscriptions(conversationId?: string): Promise<Subscription[]> {
    const rows =
      conversationId === undefined
        ? await this.#db.query('SELECT * FROM subscriptions ORDER BY conversation_id, scope_id')
        : await this.#db.query('SELECT * FROM subscriptions WHERE conversation_id = ? ORDER BY scope_id', [
            conversationId,
          ]);
    return rows.map((r) => ({
      conversationId: str(r.conversation_id),
      scopeId: str(r.scope_id),
      createdAt: str(r.created_at),
      lang: str(r.lang) === 'en' ? 'en' : 'de',
      mentions: mentionsOf(r.mentions),
    }));
  }

  async setSubscriptionMentions(
    conversationId: string,
    scopeId: string,
    mentions: MentionedPerson[],
  ): Promise<boolean> {
    const changed = await this.#db.run(
      'UPDATE subscriptions SET mentions = ? WHERE conversation_id = ? AND scope_id = ?',
      [json(mentions.map((m) => ({ id: m.id, name: m.name }))), conversationId, scopeId],
    );
    return changed > 0;
  }

  // ---- planned notifications (reminders, escalations, reports) --------------------------------------

  async planNotification(
    n: PlannedNotificationInput,
    now: string,
  ): Promise<{ created: boolean; notification: PlannedNotification }> {
    const at = toIso(now, 'now');
    const dueMs = toMs(n.dueAt, 'dueAt');
    const inserted = await this.#db.run(
      `INSERT INTO planned_notifications (key, kind, due_at, due_ms, payload, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING`,
      [n.key, n.kind, new Date(dueMs).toISOString(), dueMs, json(n.payload), at, at],
    );
    const stored = await this.getNotification(n.key);
    if (!stored)
      throw new LagebotError('STORE_CONFLICT', `planned notification ${n.key} vanished while it was planned`);
    return { created: inserted > 0, notification: stored };
  }

  async getNotification(key: string): Promise<PlannedNotification | null> {
    const rows = await this.#db.query('SELECT * FROM planned_notifications WHERE key = ?', [key]);
    return rows[0] ? toNotification(rows[0]) : null;
  }

  async listNotifications(q: NotificationQuery = {}): Promise<PlannedNotification[]> {
    const where = whereOf([
      q.kind !== undefined ? ['kind = ?', q.kind] : undefined,
      q.status !== undefined ? ['status = ?', q.status] : undefined,
      // substr, not LIKE: a key may contain % or _.
      q.keyPrefix !== undefined ? ['substr(key, 1, ?) = ?', q.keyPrefix.length, q.keyPrefix] : undefined,
    ]);
    const rows = await this.#db.query(`SELECT * FROM planned_notifications ${where.sql} ORDER BY due_ms, key LIMIT ?`, [
      ...where.params,
      clampLimit(q.limit),
    ]);
    return rows.map(toNotification);
  }

  async listDueNotifications(now: string, limit?: number): Promise<PlannedNotification[]> {
    const nowMs = toMs(now, 'now');
    const rows = await this.#db.query(
      `SELECT * FROM planned_notifications
       WHERE status = 'pending' AND due_ms <= ? AND (claimed_by IS NULL OR claimed_until_ms <= ?)
       ORDER BY due_ms, key LIMIT ?`,
      [nowMs, nowMs, clampLimit(limit)],
    );
    return rows.map(toNotification);
  }

  async claimNotification(
    key: string,
    holder: string,
    now: string,
    leaseMs: number,
  ): Promise<PlannedNotification | null> {
    const [row] = await claimPending(
      this.#db,
      'planned_notifications',
      { sql: 'key = ?', params: [key] },
      holder,
      now,
      leaseMs,
    );
    return row ? toNotification(row) : null;
  }

  async completeNotification(
    key: string,
    outcome: 'sent' | 'skipped' | 'failed',
    detail: unknown,
    now: string,
  ): Promise<PlannedNotification | null> {
    const at = toIso(now, 'now');
    const [column, value] = outcome === 'failed' ? ['last_error', errorText(detail)] : ['result', json(detail)];
    const rows = await this.#db.query(
      `UPDATE planned_notifications SET status = ?, ${column} = ?, updated_at = ?,
         claimed_by = NULL, claimed_until = NULL, claimed_until_ms = NULL
       WHERE key = ? AND status = 'pending' RETURNING *`,
      [outcome, value, at, key],
    );
    if (rows[0]) return toNotification(rows[0]);
    return this.getNotification(key);
  }

  releaseNotification(key: string, holder: string, lastError: string | null, now: string): Promise<boolean> {
    return releaseClaim(this.#db, 'planned_notifications', key, holder, lastError, now);
  }

  // ---- daily report schedules ------------------------------------------------------------------------

  async setReportSchedule(r: ReportSchedule): Promise<void> {
    await this.#db.run(
      `INSERT INTO report_schedules (conversation_id, tenant_id, scope_id, local_time, weekdays_only, lang, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (conversation_id) DO UPDATE SET
         tenant_id = excluded.tenant_id, scope_id = excluded.scope_id, local_time = excluded.local_time,
         weekdays_only = excluded.weekdays_only, lang = excluded.lang, created_by = excluded.created_by,
         created_at = excluded.created_at`,
      [
        r.conversationId,
        r.tenantId,
        r.scopeId,
        r.localTime,
        r.weekdaysOnly ? 1 : 0,
        r.lang,
        r.createdBy,
        toIso(r.createdAt, 'createdAt'),
      ],
    );
  }

  async deleteReportSchedule(conversationId: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM report_schedules WHERE conversation_id = ?', [conversationId])) > 0;
  }

  async listReportSchedules(conversationId?: string): Promise<ReportSchedule[]> {
    const where = whereOf([conversationId !== undefined ? ['conversation_id = ?', conversationId] : undefined]);
    const rows = await this.#db.query(
      `SELECT * FROM report_schedules ${where.sql} ORDER BY conversation_id`,
      where.params,
    );
    return rows.map(toReportSchedule);
  }

  // ---- people ----------------------------------------------------------------------------------------

  async notePerson(
    p: Omit<SeenPerson, 'personalConversationId'> & { personalConversationId?: string | null },
  ): Promise<void> {
    await this.#db.run(
      `INSERT INTO people (aad_object_id, tenant_id, user_id, name, personal_conversation_id, seen_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (aad_object_id) DO UPDATE SET
         tenant_id = excluded.tenant_id, user_id = excluded.user_id, name = excluded.name,
         personal_conversation_id = COALESCE(excluded.personal_conversation_id, people.personal_conversation_id),
         seen_at = excluded.seen_at`,
      [p.aadObjectId, p.tenantId, p.userId, p.name, p.personalConversationId ?? null, toIso(p.seenAt, 'seenAt')],
    );
  }

  async getPerson(aadObjectId: string): Promise<SeenPerson | null> {
    const rows = await this.#db.query('SELECT * FROM people WHERE aad_object_id = ?', [aadObjectId]);
    return rows[0] ? toPerson(rows[0]) : null;
  }

  // ---- alerts ---------------------------------------------------------------------------------------

  async createAlert(alert: NewAlert): Promise<AlertWriteResult> {
    const rows = await this.#db.query(
      `INSERT INTO alerts (id, scope_id, status, opened_at, closed_at, data, version) VALUES (?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        alert.id,
        alert.scopeId,
        alert.status ?? 'open',
        toIso(alert.openedAt, 'openedAt'),
        toIsoOrNull(alert.closedAt, 'closedAt'),
        json(alert.data),
      ],
    );
    if (rows[0]) return { ok: true, alert: toAlert(rows[0]) };
    const current = await this.getAlert(alert.id);
    return current ? { ok: false, reason: 'conflict', current } : { ok: false, reason: 'conflict' };
  }

  async updateAlert(id: string, expectedVersion: number, next: AlertUpdate): Promise<AlertWriteResult> {
    const rows = await this.#db.query(
      `UPDATE alerts SET status = ?, closed_at = ?, data = ?, version = version + 1
       WHERE id = ? AND version = ? RETURNING *`,
      [next.status, toIsoOrNull(next.closedAt, 'closedAt'), json(next.data), id, expectedVersion],
    );
    if (rows[0]) return { ok: true, alert: toAlert(rows[0]) };
    const current = await this.getAlert(id);
    return current ? { ok: false, reason: 'conflict', current } : { ok: false, reason: 'not_found' };
  }

  async getAlert(id: string): Promise<StoredAlert | null> {
    const rows = await this.#db.query('SELECT * FROM alerts WHERE id = ?', [id]);
    return rows[0] ? toAlert(rows[0]) : null;
  }

  async listAlerts(q: AlertQuery = {}): Promise<StoredAlert[]> {
    const where = whereOf([
      q.status !== undefined ? ['status = ?', q.status] : undefined,
      q.scopeId !== undefined ? ['scope_id = ?', q.scopeId] : undefined,
    ]);
    const rows = await this.#db.query(`SELECT * FROM alerts ${where.sql} ORDER BY opened_at DESC, id DESC LIMIT ?`, [
      ...where.params,
      clampLimit(q.limit),
    ]);
    return rows.map(toAlert);
  }

  async ensureDelivery(
    alertId: string,
    conversationId: string,
    now: string,
  ): Promise<{ created: boolean; delivery: AlertDelivery }> {
    const rows = await this.#db.query(
      `INSERT INTO alert_deliveries (alert_id, conversation_id, activity_id, status, attempts, updated_at)
       VALUES (?, ?, NULL, 'pending', 0, ?) ON CONFLICT (alert_id, conversation_id) DO NOTHING RETURNING *`,
      [alertId, conversationId, toIso(now, 'now')],
    );
    if (rows[0]) return { created: true, delivery: toDelivery(rows[0]) };
    const existing = await this.#db.query('SELECT * FROM alert_deliveries WHERE alert_id = ? AND conversation_id = ?', [
      alertId,
      conversationId,
    ]);
    return { created: false, delivery: toDelivery(existing[0]!) };
  }

  async claimDelivery(
    alertId: string,
    conversationId: string,
    holder: string,
    now: string,
    leaseMs: number,
  ): Promise<AlertDelivery | null> {
    const [row] = await claimPending(
      this.#db,
      'alert_deliveries',
      { sql: 'alert_id = ? AND conversation_id = ?', params: [alertId, conversationId] },
      holder,
      now,
      leaseMs,
    );
    return row ? toDelivery(row) : null;
  }

  async completeDelivery(
    alertId: string,
    conversationId: string,
    holder: string,
    result: DeliveryResult,
    now: string,
  ): Promise<AlertDelivery | null> {
    const rows = await this.#db.query(
      `UPDATE alert_deliveries SET status = ?, activity_id = ?, updated_at = ?,
         claimed_by = NULL, claimed_until = NULL, claimed_until_ms = NULL
       WHERE alert_id = ? AND conversation_id = ? AND status = 'pending' AND claimed_by = ?
       RETURNING *`,
      [
        result.status,
        result.status === 'sent' ? result.activityId : null,
        toIso(now, 'now'),
        alertId,
        conversationId,
        holder,
      ],
    );
    return rows[0] ? toDelivery(rows[0]) : null;
  }

  async listDeliveries(filter: { alertId?: string; status?: DeliveryStatus } = {}): Promise<AlertDelivery[]> {
    const where = whereOf([
      filter.alertId !== undefined ? ['alert_id = ?', filter.alertId] : undefined,
      filter.status !== undefined ? ['status = ?', filter.status] : undefined,
    ]);
    const rows = await this.#db.query(
      `SELECT * FROM alert_deliveries ${where.sql} ORDER BY alert_id, conversation_id`,
      where.params,
    );
    return rows.map(toDelivery);
  }

  async acknowledgeAlert(alertId: string, actor: string, at: string): Promise<{ first: boolean; ack: AlertAck }> {
    const inserted = await this.#db.run(
      'INSERT INTO alert_acks (alert_id, actor, at) VALUES (?, ?, ?) ON CONFLICT (alert_id, actor) DO NOTHING',
      [alertId, actor, toIso(at, 'at')],
    );
    const rows = await this.#db.query('SELECT * FROM alert_acks WHERE alert_id = ? AND actor = ?', [alertId, actor]);
    const r = rows[0]!;
    return { first: inserted > 0, ack: { alertId: str(r.alert_id), actor: str(r.actor), at: str(r.at) } };
  }

  async listAcknowledgements(alertId: string): Promise<AlertAck[]> {
    const rows = await this.#db.query('SELECT * FROM alert_acks WHERE alert_id = ? ORDER BY at, actor', [alertId]);
    return rows.map((r) => ({ alertId: str(r.alert_id), actor: str(r.actor), at: str(r.at) }));
  }

  async muteScope(conversationId: string, scopeId: string, until: string): Promise<Mute> {
    const rows = await this.#db.query(
      `INSERT INTO alert_mutes (conversation_id, scope_id, until) VALUES (?, ?, ?)
       ON CONFLICT (conversation_id, scope_id) DO UPDATE SET until = excluded.until RETURNING *`,
      [conversationId, scopeId, toIso(until, 'until')],
    );
    const r = rows[0]!;
    return { conversationId: str(r.conversation_id), scopeId: str(r.scope_id), until: str(r.until) };
  }

  async unmuteScope(conversationId: string, scopeId: string): Promise<boolean> {
    const n = await this.#db.run('DELETE FROM alert_mutes WHERE conversation_id = ? AND scope_id = ?', [
      conversationId,
      scopeId,
    ]);
    return n > 0;
  }

  async listMutes(conversationId?: string): Promise<Mute[]> {
    const rows =
      conversationId === undefined
        ? await this.#db.query('SELECT * FROM alert_mutes ORDER BY conversation_id, scope_id')
        : await this.#db.query('SELECT * FROM alert_mutes WHERE conversation_id = ? ORDER BY scope_id', [
            conversationId,
          ]);
    return rows.map((r) => ({ conversationId: str(r.conversation_id), scopeId: str(r.scope_id), until: str(r.until) }));
  }

  async isMuted(conversationId: string, scopeId: string, now: string): Promise<boolean> {
    // Both sides are normalised ISO strings, so text order is time order.
    const rows = await this.#db.query(
      'SELECT 1 AS muted FROM alert_mutes WHERE conversation_id = ? AND scope_id = ? AND until > ?',
      [conversationId, scopeId, toIso(now, 'now')],
    );
    return rows.length > 0;
  }

  // ---- leases ---------------------------------------------------------------------------------------

  async acquireLease(name: string, holder: string, ttlMs: number, now: string): Promise<boolean> {
    const nowMs = toMs(now, 'now');
    const expiresMs = nowMs + checkPositive(ttlMs, 'ttlMs');
    // One statement, so two contenders cannot both see "expired" and both take it.
    const changed = await this.#db.run(
      `INSERT INTO leases (name, holder, acquired_at, expires_at, expires_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         holder = excluded.holder,
         acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_ms > ?
                            THEN leases.acquired_at ELSE excluded.acquired_at END,
         expires_at = excluded.expires_at,
         expires_ms = excluded.expires_ms
       WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?`,
      [name, holder, new Date(nowMs).toISOString(), new Date(expiresMs).toISOString(), expiresMs, nowMs, nowMs],
    );
    return changed > 0;
  }

  async renewLease(name: string, holder: string, ttlMs: number, now: string): Promise<boolean> {
    const nowMs = toMs(now, 'now');
    const expiresMs = nowMs + checkPositive(ttlMs, 'ttlMs');
    const changed = await this.#db.run(
      'UPDATE leases SET expires_at = ?, expires_ms = ? WHERE name = ? AND holder = ? AND expires_ms > ?',
      [new Date(expiresMs).toISOString(), expiresMs, name, holder, nowMs],
    );
    return changed > 0;
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM leases WHERE name = ? AND holder = ?', [name, holder])) > 0;
  }

  async getLease(name: string): Promise<Lease | null> {
    const rows = await this.#db.query('SELECT * FROM leases WHERE name = ?', [name]);
    return rows[0] ? toLease(rows[0]) : null;
  }

  // ---- documents: request cards, the spam detector's state, turn state --------------------------------

  async listRequestCards(requestId: string): Promise<CardLocation[]> {
    const doc = await this.#readDocument(documentKeys.requestCards(requestId));
    return cardLocationsOf(doc?.data);
  }

  async addRequestCard(requestId: string, location: CardLocation): Promise<void> {
    const key = documentKeys.requestCards(requestId);
    // Read, append, write on the eTag read: another replica adding a card at the same moment makes
    // the write find nothing to change, and the loop reads again.
    for (let attempt = 0; attempt < 20; attempt++) {
      const doc = await this.#readDocument(key);
      const cards = cardLocationsOf(doc?.data);
      if (cards.some((c) => c.conversationId === location.conversationId && c.activityId === location.activityId)) {
        return;
      }
      const next = { cards: [...cards, { conversationId: location.conversationId, activityId: location.activityId }] };
      if ((await this.#writeDocument(this.#db, key, next, doc ? doc.etag : null)) !== null) return;
    }
    throw new LagebotError(
      'STORE_CONFLICT',
      `request ${requestId}: its card list kept changing while a card was added`,
    );
  }

  readSpamDetectorState(): Promise<VersionedDocument | null> {
    return this.#readDocument(documentKeys.spamDetector);
  }

  async readSpamDetectorShards(): Promise<SpamDetectorShard[]> {
    const rows = await this.#db.query('SELECT shard, data FROM spam_detector_shards ORDER BY shard');
    return rows.map((r) => ({ shard: Number(r.shard), data: str(r.data) }));
  }

  async writeSpamDetectorState(
    data: unknown,
    ifEtag: string | null,
    shards: readonly SpamDetectorShard[] = [],
  ): Promise<DocumentWriteResult> {
    if (shards.length === 0) {
      const etag = await this.#writeDocument(this.#db, documentKeys.spamDetector, data, ifEtag);
      return etag === null ? { ok: false } : { ok: true, etag };
    }
    for (const s of shards) {
      if (!Number.isSafeInteger(s.shard) || s.shard < 0) throw new RangeError(`invalid shard number ${s.shard}`);
    }
    // The head first: its eTag decides whether this writer may write at all, so a second watcher's
    // shards never land beside the first one's head.
    const etag = await this.#db.transaction(async (tx) => {
      const written = await this.#writeDocument(tx, documentKeys.spamDetector, data, ifEtag);
      if (written === null) return null;
      for (const s of shards) {
        await tx.run(
          `INSERT INTO spam_detector_shards (shard, data) VALUES (?, ?)
           ON CONFLICT (shard) DO UPDATE SET data = excluded.data`,
          [s.shard, s.data],
        );
      }
      return written;
    });
    return etag === null ? { ok: false } : { ok: true, etag };
  }

  readDecisionCodes(requestId: string): Promise<VersionedDocument | null> {
    return this.#readDocument(documentKeys.decisionCodes(requestId));
  }

  async writeDecisionCodes(requestId: string, data: unknown, ifEtag: string | null): Promise<DocumentWriteResult> {
    const etag = await this.#writeDocument(this.#db, documentKeys.decisionCodes(requestId), data, ifEtag);
    return etag === null ? { ok: false } : { ok: true, etag };
  }

  async readTurnState(keys: string[]): Promise<Record<string, TurnStateItem>> {
    const out: Record<string, TurnStateItem> = {};
    if (keys.length === 0) return out;
    const rows = await this.#db.query(
      `SELECT key, etag, data FROM documents WHERE key IN (${placeholders(keys.length)})`,
      keys.map(documentKeys.turn),
    );
    for (const r of rows)
      out[str(r.key).slice(documentKeys.turn('').length)] = { etag: str(r.etag), data: parseJson(r.data) };
    return out;
  }

  async writeTurnState(items: TurnStateWrite[]): Promise<TurnStateWriteResult> {
    if (items.length === 0) return { ok: true, etags: {} };
    try {
      const etags = await this.#db.transaction(async (tx) => {
        const written: Record<string, string> = {};
        for (const item of items) {
          // botbuilder's MemoryStorage semantics: an eTag must match the stored one, or nothing is stored yet.
          const etag = randomUUID();
          const sql = `INSERT INTO documents (key, etag, data) VALUES (?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET etag = excluded.etag, data = excluded.data`;
          const params = [documentKeys.turn(item.key), etag, json(item.data)];
          const changed =
            item.ifEtag === null
              ? await tx.run(sql, params)
              : await tx.run(`${sql} WHERE documents.etag = ?`, [...params, item.ifEtag]);
          if (changed === 0) throw new TurnStateConflict(item.key);
          written[item.key] = etag;
        }
        return written;
      });
      return { ok: true, etags };
    } catch (e) {
      if (e instanceof TurnStateConflict) return { ok: false, conflictKey: e.key };
      throw e;
    }
  }

  async deleteTurnState(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#db.run(
      `DELETE FROM documents WHERE key IN (${placeholders(keys.length)})`,
      keys.map(documentKeys.turn),
    );
  }

  async #readDocument(key: string): Promise<VersionedDocument | null> {
    const rows = await this.#db.query('SELECT etag, data FROM documents WHERE key = ?', [key]);
    return rows[0] ? { etag: str(rows[0].etag), data: parseJson(rows[0].data) } : null;
  }

  // The new eTag, or null when the stored one is not ifEtag (null: when a document exists already).
  async #writeDocument(db: SqlExecutor, key: string, data: unknown, ifEtag: string | null): Promise<string | null> {
    const etag = randomUUID();
    const changed =
      ifEtag === null
        ? await db.run('INSERT INTO documents (key, etag, data) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING', [
            key,
            etag,
            json(data),
          ])
        : await db.run('UPDATE documents SET etag = ?, data = ? WHERE key = ? AND etag = ?', [
            etag,
            json(data),
            key,
            ifEtag,
          ]);
    return changed === 1 ? etag : null;
  }
}
