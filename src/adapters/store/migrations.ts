import type { Migration } from './sql-db.ts';

// Numbered, append-only: never edit a released migration, add the next number. Each one runs in its own
// transaction and is recorded in schema_migrations (see SqlDb.migrate).
//
// Both dialects share the table definitions; they differ only in the 64-bit integer type (epoch ms,
// audit seq) and in how a trigger is written. JSON is TEXT on both so the audit hash sees the same bytes.

type Dialect = 'sqlite' | 'postgres';

function init(d: Dialect): string {
  const int64 = d === 'postgres' ? 'BIGINT' : 'INTEGER';
  return `
CREATE TABLE requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('release', 'block')),
  state TEXT NOT NULL,
  version INTEGER NOT NULL,
  requester_id TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expires_at TEXT,
  data TEXT NOT NULL
);
CREATE INDEX requests_state ON requests (state, created_at);
CREATE INDEX requests_tenant ON requests (tenant_id, created_at);
CREATE INDEX requests_expires ON requests (expires_at);

CREATE TABLE audit_log (
  seq ${int64} PRIMARY KEY,
  at TEXT NOT NULL,
  tenant_id TEXT,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  scope_id TEXT,
  request_id TEXT,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_request ON audit_log (request_id, seq);
CREATE INDEX audit_log_scope ON audit_log (scope_id, seq);

CREATE TABLE outbox (
  key TEXT PRIMARY KEY,
  request_id TEXT NOT NULL REFERENCES requests (id),
  domain TEXT NOT NULL,
  change TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  result TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  claimed_by TEXT,
  claimed_until TEXT,
  claimed_until_ms ${int64}
);
CREATE INDEX outbox_status ON outbox (status, created_at);
CREATE INDEX outbox_request ON outbox (request_id);

CREATE TABLE conversations (
  conversation_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  service_url TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('personal', 'groupChat', 'channel')),
  team_id TEXT,
  name TEXT,
  reference TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX conversations_tenant ON conversations (tenant_id);

CREATE TABLE subscriptions (
  conversation_id TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (conversation_id, scope_id)
);

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  scope_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  opened_at TEXT NOT NULL,
  closed_at TEXT,
  data TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX alerts_status ON alerts (status, opened_at);

CREATE TABLE alert_deliveries (
  alert_id TEXT NOT NULL REFERENCES alerts (id),
  conversation_id TEXT NOT NULL,
  activity_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (alert_id, conversation_id)
);
CREATE INDEX alert_deliveries_status ON alert_deliveries (status);

CREATE TABLE alert_acks (
  alert_id TEXT NOT NULL REFERENCES alerts (id),
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (alert_id, actor)
);

CREATE TABLE alert_mutes (
  conversation_id TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  until TEXT NOT NULL,
  PRIMARY KEY (conversation_id, scope_id)
);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  expires_ms ${int64} NOT NULL
);

CREATE TABLE turn_state (
  key TEXT PRIMARY KEY,
  etag TEXT NOT NULL,
  data TEXT NOT NULL
);
${d === 'postgres' ? appendOnlyPostgres : appendOnlySqlite}`;
}

// The port never updates or deletes audit rows; the triggers make the database refuse it too, so a slip
// in later code fails loudly. Someone with DDL rights can still drop them: that is what the hash chain is for.
const appendOnlySqlite = `
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`;

const appendOnlyPostgres = `
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`;

// turn_state held more than teams-ai's turn state: the request cards' locations and the spam detector's
// state. One table of small JSON documents under an honest name, each use in its own key space
// (src/adapters/store/sql-store.ts: documentKeys).
function documents(d: Dialect): string {
  return `
ALTER TABLE turn_state RENAME TO documents;
${d === 'postgres' ? 'ALTER INDEX turn_state_pkey RENAME TO documents_pkey;' : ''}
UPDATE documents SET key = 'turn:' || key WHERE key NOT LIKE 'lagebot:%';
UPDATE documents SET key = 'request-cards:' || substr(key, ${'lagebot:request-cards:'.length + 1})
  WHERE key LIKE 'lagebot:request-cards:%';
UPDATE documents SET key = 'spam-detector' WHERE key = 'lagebot:spam-detector';
`;
}

// Issue 13, the anchored audit log: the state each request write left behind (JSON, hashed with the
// entry), and the MAC of each entry's hash with the id of the key that made it. Old rows keep NULL: their
// hashes stay as they were, and `audit.sealed` (SqlStore.sealAuditLog) brings them under the key.
const auditAnchor = `
ALTER TABLE audit_log ADD COLUMN request_state TEXT;
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
ALTER TABLE audit_log ADD COLUMN mac TEXT;
`;

// Issue 16, alert cards in the subscriber's language: the language of the client that subscribed a
// conversation ('de' or 'en'); rows from before keep German, the default language.
const subscriptionLanguage = `
ALTER TABLE subscriptions ADD COLUMN lang TEXT NOT NULL DEFAULT 'de' CHECK (lang IN ('de', 'en'));
`;
// Issue 17, nothing waits unnoticed: reminders, escalations and reports planned like the outbox — one row
// per request or report and time slot (the key), claimed by one replica, finished once; the daily report
// each conversation asked for; the people the bot has seen (names for mentions, 1:1 references for
// escalation); the people an alert subscription mentions.
function nudges(d: Dialect): string {
  const int64 = d === 'postgres' ? 'BIGINT' : 'INTEGER';
  return `
CREATE TABLE planned_notifications (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  due_at TEXT NOT NULL,
  due_ms ${int64} NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  result TEXT,
  claimed_by TEXT,
  claimed_until TEXT,
  claimed_until_ms ${int64},
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX planned_notifications_due ON planned_notifications (status, due_ms);

CREATE TABLE report_schedules (
  conversation_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  local_time TEXT NOT NULL,
  weekdays_only INTEGER NOT NULL,
  lang TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE people (
  aad_object_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  personal_conversation_id TEXT,
  seen_at TEXT NOT NULL
);

ALTER TABLE subscriptions ADD COLUMN mentions TEXT;
`;
}

// The spam watcher's CPU per poll: the detector's per-domain tracks in shards beside the small
// head document (documents key 'spam-detector', whose eTag still guards every write), so a poll rewrites
// one shard instead of the whole state (docs/decisions/spam-alerts.md). `data` is the shard's JSON as the
// watcher encoded it; the store does not re-encode it.
const spamDetectorShards = `
CREATE TABLE spam_detector_shards (
  shard INTEGER PRIMARY KEY,
  data TEXT NOT NULL
);
`;

// Alert deliveries claimed like the outbox: one replica holds a delivery (claimed_by, until claimed_until) while
// it sends the card; another resumes it only once the claim is gone or has expired, and 'sent' is recorded
// only by the claim's holder (docs/decisions/spam-alerts.md).
function alertDeliveryClaims(d: Dialect): string {
  const int64 = d === 'postgres' ? 'BIGINT' : 'INTEGER';
  return `
ALTER TABLE alert_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE alert_deliveries ADD COLUMN claimed_until TEXT;
ALTER TABLE alert_deliveries ADD COLUMN claimed_until_ms ${int64};
`;
}

export const migrations: Migration[] = [
  { id: '001_init', sqlite: init('sqlite'), postgres: init('postgres') },
  { id: '002_documents', sqlite: documents('sqlite'), postgres: documents('postgres') },
  { id: '003_audit_anchor', sqlite: auditAnchor, postgres: auditAnchor },
  { id: '005_subscription_language', sqlite: subscriptionLanguage, postgres: subscriptionLanguage },
  { id: '006_nudges', sqlite: nudges('sqlite'), postgres: nudges('postgres') },
  { id: '007_spam_detector_shards', sqlite: spamDetectorShards, postgres: spamDetectorShards },
  { id: '008_alert_delivery_claims', sqlite: alertDeliveryClaims('sqlite'), postgres: alertDeliveryClaims('postgres') },
];
