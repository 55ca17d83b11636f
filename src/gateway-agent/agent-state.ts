import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { LogPosition, Verdict } from './rspamd-verdicts.ts';

// The gateway agent's own state in SQLite: each domain's flow states and version, idempotency keys
// with their first answer, the change log behind /audit, and spam counts per domain and minute with the
// rspamd log position they were read up to (in the same transaction, so a restart never counts twice).
// The agent is one process that serializes its changes, so better-sqlite3's synchronous transactions
// are all it needs; the bot's store (src/adapters/store/) is a different database with other rules.

export interface DomainRow {
  domain: string;
  inbound: string;
  outbound: string;
  reason: string | null;
  changedBy: string | null;
  changedAt: string | null;
  version: number;
}

export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: 'domain.change' | 'queue.release';
  domain: string;
  before: { inbound: string; outbound: string } | null;
  after: { inbound: string; outbound: string } | null;
  reason: string;
  idempotencyKey: string | null;
}

export interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

export interface AgentState {
  domains(): DomainRow[];
  /** Adds domains it does not know yet with the initial state; never changes known ones. */
  seed(domains: readonly string[], initial: { inbound: string; outbound: string }, at: string): number;
  answer(key: string): StoredAnswer | null;
  /** One transaction: new domain rows, their audit entries and the answers to remember. */
  commit(changes: {
    rows: DomainRow[];
    audit: Omit<AuditRow, 'seq'>[];
    answers: { key: string; answer: StoredAnswer }[];
  }): void;
  audit(q: { since?: string; afterSeq?: number; limit: number }): AuditRow[];
  logPosition(): LogPosition | null;
  addVerdicts(verdicts: readonly Verdict[], estate: ReadonlySet<string>, position: LogPosition): void;
  metrics(
    domains: readonly string[],
    fromMinute: number,
    toMinute: number,
  ): Map<string, Map<number, { received: number; spam: number; rejected: number }>>;
  close(): void;
}

export function openAgentState(path: string): AgentState {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS domains (
      domain TEXT PRIMARY KEY, inbound TEXT NOT NULL, outbound TEXT NOT NULL,
      reason TEXT, changed_by TEXT, changed_at TEXT, version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS answers (
      key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      domain TEXT NOT NULL, before TEXT, after TEXT, reason TEXT NOT NULL, idempotency_key TEXT);
    CREATE TABLE IF NOT EXISTS spam_minutes (
      domain TEXT NOT NULL, minute INTEGER NOT NULL, received INTEGER NOT NULL, spam INTEGER NOT NULL,
      rejected INTEGER NOT NULL, PRIMARY KEY (domain, minute));
    CREATE TABLE IF NOT EXISTS log_position (id INTEGER PRIMARY KEY CHECK (id = 1), inode INTEGER NOT NULL, offset INTEGER NOT NULL);
  `);
  const toRow = (r: Record<string, unknown>): DomainRow => ({
    domain: r.domain as string,
    inbound: r.inbound as string,
    outbound: r.outbound as string,
    reason: (r.reason as string | null) ?? null,
    changedBy: (r.changed_by as string | null) ?? null,
    changedAt: (r.changed_at as string | null) ?? null,
    version: r.version as number,
  });
  const upsert = db.prepare(
    `INSERT INTO domains (domain, inbound, outbound, reason, changed_by, changed_at, version)
     VALUES (@domain, @inbound, @outbound, @reason, @changedBy, @changedAt, @version)
     ON CONFLICT (domain) DO UPDATE SET inbound = excluded.inbound, outbound = excluded.outbound,
       reason = excluded.reason, changed_by = excluded.changed_by, changed_at = excluded.changed_at, version = excluded.version`,
  );
  const insertAudit = db.prepare(
    `INSERT INTO audit (at, actor, action, domain, before, after, reason, idempotency_key)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertAnswer = db.prepare('INSERT INTO answers (key, fingerprint, status, body) VALUES (?, ?, ?, ?)');
  const addMinute = db.prepare(
    `INSERT INTO spam_minutes (domain, minute, received, spam, rejected) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (domain, minute) DO UPDATE SET received = received + excluded.received,
       spam = spam + excluded.spam, rejected = rejected + excluded.rejected`,
  );
  const setPosition = db.prepare(
    'INSERT INTO log_position (id, inode, offset) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET inode = excluded.inode, offset = excluded.offset',
  );

  return {
    domains: () => (db.prepare('SELECT * FROM domains ORDER BY domain').all() as Record<string, unknown>[]).map(toRow),
    seed(domains, initial, at) {
      const insert = db.prepare(
        `INSERT OR IGNORE INTO domains (domain, inbound, outbound, reason, changed_by, changed_at, version)
         VALUES (?, ?, ?, 'initial state from the domains file', 'lagebot-gateway-agent', ?, 1)`,
      );
      return db.transaction(() =>
        domains.reduce((n, d) => n + insert.run(d, initial.inbound, initial.outbound, at).changes, 0),
      )();
    },
    answer(key) {
      const r = db.prepare('SELECT * FROM answers WHERE key = ?').get(key) as Record<string, unknown> | undefined;
      return r
        ? { fingerprint: r.fingerprint as string, status: r.status as number, body: JSON.parse(r.body as string) }
        : null;
    },
    commit({ rows, audit, answers }) {
      db.transaction(() => {
        for (const row of rows) upsert.run(row);
        for (const a of audit) {
          insertAudit.run(
            a.at,
            a.actor,
            a.action,
            a.domain,
            a.before ? JSON.stringify(a.before) : null,
            a.after ? JSON.stringify(a.after) : null,
            a.reason,
            a.idempotencyKey,
          );
        }
        for (const { key, answer } of answers)
          insertAnswer.run(key, answer.fingerprint, answer.status, JSON.stringify(answer.body));
      })();
    },
    audit({ since, afterSeq, limit }) {
      const rows = db
        .prepare('SELECT * FROM audit WHERE seq > ? AND (? IS NULL OR at >= ?) ORDER BY seq LIMIT ?')
        .all(afterSeq ?? 0, since ?? null, since ?? null, limit) as Record<string, unknown>[];
      return rows.map((r) => ({
        seq: r.seq as number,
        at: r.at as string,
        actor: r.actor as string,
        action: r.action as AuditRow['action'],
        domain: r.domain as string,
        before: r.before ? JSON.parse(r.before as string) : null,
        after: r.after ? JSON.parse(r.after as string) : null,
        reason: r.reason as string,
        idempotencyKey: (r.idempotency_key as string | null) ?? null,
      }));
    },
    logPosition() {
      const r = db.prepare('SELECT inode, offset FROM log_position WHERE id = 1').get() as LogPosition | undefined;
      return r ?? null;
    },
    addVerdicts(verdicts, estate, position) {
      db.transaction(() => {
        for (const v of verdicts) {
          const minute = Math.floor(v.at / 60_000);
          const domains = new Set(v.recipients.map((r) => r.slice(r.lastIndexOf('@') + 1).toLowerCase()));
          for (const d of domains) {
            if (estate.has(d)) addMinute.run(d, minute, 1, v.spam ? 1 : 0, v.action === 'reject' ? 1 : 0);
          }
        }
        setPosition.run(position.inode, position.offset);
      })();
    },
    metrics(domains, fromMinute, toMinute) {
      const out = new Map<string, Map<number, { received: number; spam: number; rejected: number }>>();
      const q = db.prepare(
        'SELECT minute, received, spam, rejected FROM spam_minutes WHERE domain = ? AND minute >= ? AND minute < ?',
      );
      for (const d of domains) {
        const m = new Map<number, { received: number; spam: number; rejected: number }>();
        for (const r of q.all(d, fromMinute, toMinute) as {
          minute: number;
          received: number;
          spam: number;
          rejected: number;
        }[]) {
          m.set(r.minute, { received: r.received, spam: r.spam, rejected: r.rejected });
        }
        out.set(d, m);
      }
      return out;
    },
    close: () => db.close(),
  };
}
