import { join } from 'node:path';
import { type Logger, silentLogger } from '../../domain/logger.ts';
import type { AuditHead, Store } from '../../domain/store-port.ts';
import type { AuditKeyring } from './parse-audit-keys.ts';
import { openPostgresDb } from './postgres-db.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDb } from './sqlite-db.ts';

export interface CreateStoreOptions {
  // SQLite: the file is <dataDir>/lagebot.sqlite (directory created if missing), default ./data;
  // ':memory:' for a throwaway store.
  dataDir?: string;
  // Given: PostgreSQL instead of SQLite (several replicas share it).
  databaseUrl?: string | undefined;
  // PostgreSQL schema for all tables (created on start-up); default: the server's search_path.
  schema?: string | undefined;
  logger?: Logger;
  // The audit log's keys (src/adapters/load-audit-keys.ts): entries are MACed, verify checks the MACs.
  auditKeys?: AuditKeyring | undefined;
  // After each commit that appended audit entries (anchoring, src/adapters/anchor-audit-log.ts).
  onAuditCommitted?: (head: AuditHead) => void;
}

export const SQLITE_FILE = 'lagebot.sqlite';

// The store, migrated and ready.
export async function createStore({
  dataDir = './data',
  databaseUrl,
  schema,
  logger = silentLogger,
  auditKeys,
  onAuditCommitted,
}: CreateStoreOptions): Promise<Store> {
  const sqlitePath = dataDir === ':memory:' ? ':memory:' : join(dataDir, SQLITE_FILE);
  const db = databaseUrl
    ? openPostgresDb({
        databaseUrl,
        schema,
        onPoolError: (e) => logger.warn('PostgreSQL connection lost; the pool reconnects', { err: e.message }),
      })
    : openSqliteDb({ path: sqlitePath });
  const store = new SqlStore(db, { auditKeys, onAuditCommitted });
  try {
    const applied = await store.migrate();
    const where = databaseUrl ? `PostgreSQL${schema ? ` (schema ${schema})` : ''}` : `SQLite ${sqlitePath}`;
    logger.info(`store ready: ${where}`, { engine: db.dialect, migrationsApplied: applied });
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return store;
}
