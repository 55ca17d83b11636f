import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { LagebotError } from '../../domain/errors.ts';
import type { Migration, SqlDb, SqlExecutor, SqlRow, SqlTx, SqlValue } from './sql-db.ts';

// How long a writer waits for another process holding the write lock before SQLITE_BUSY.
// better-sqlite3 blocks the event loop meanwhile; our transactions are a few statements long.
const BUSY_TIMEOUT_MS = 5000;

const queues = new Map<string | symbol, Promise<unknown>>();
const MAX_PREPARED = 500;

export interface SqliteDbOptions {
  // A file path, or ':memory:' (tests).
  path: string;
}

export function openSqliteDb({ path }: SqliteDbOptions): SqlDb {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // WAL lets readers in other processes go on while one writes. synchronous=FULL because with NORMAL a
    // commit we already acknowledged can roll back after a power loss (https://sqlite.org/pragma.html#pragma_synchronous).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    throw new LagebotError(
      'STORE_UNAVAILABLE',
      `Cannot open the SQLite database ${path} (${(e as Error).message}): check that DATA_DIR is writable, or set DATABASE_URL.`,
      { path },
      { cause: e },
    );
  }

  // Prepared once per SQL text: the store's statements are fixed templates, and preparing the turn-state
  // read on every turn was a third of a status answer's time in SQLite (bench/status). Bounded anyway.
  const statements = new Map<string, Database.Statement>();
  function prepared(sql: string): Database.Statement {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      if (statements.size >= MAX_PREPARED) statements.delete(statements.keys().next().value as string);
      statements.set(sql, stmt);
    }
    return stmt;
  }

  const direct: SqlExecutor = {
    async query<T extends SqlRow>(sql: string, params: SqlValue[] = []) {
      const stmt = prepared(sql);
      if (stmt.reader) return stmt.all(...params) as T[];
      stmt.run(...params);
      return [];
    },
    async run(sql, params = []) {
      return prepared(sql).run(...params).changes;
    },
  };

  // Every operation (reads too) waits its turn, so an open transaction is never interleaved with another
  // caller's statements on the same connection. The queue is shared by all connections to the same file
  // in this process: better-sqlite3 blocks the event loop while it waits for a lock, so a second
  // connection waiting for a transaction of the first (which needs the event loop to finish) would
  // deadlock until busy_timeout. Other processes are the busy_timeout's job.
  const queueKey = path === ':memory:' ? Symbol('memory') : resolve(path);
  function serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = (queues.get(queueKey) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => undefined);
    queues.set(queueKey, tail);
    // Forget the file's queue once idle, so closed databases do not pile up here.
    void tail.then(() => {
      if (queues.get(queueKey) === tail) queues.delete(queueKey);
    });
    return next;
  }
  let closed = false;
  function checkOpen() {
    if (closed) throw new LagebotError('STORE_UNAVAILABLE', 'The SQLite store is closed.');
  }

  async function inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    checkOpen();
    // IMMEDIATE takes the write lock now, so two processes serialise here (waiting up to busy_timeout)
    // instead of one failing on upgrade from a read lock.
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw new LagebotError(
        'STORE_UNAVAILABLE',
        `SQLite database is locked: ${(e as Error).message}`,
        {},
        { cause: e },
      );
    }
    try {
      const result = await fn();
      db.exec('COMMIT');
      return result;
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
  }

  const tx: SqlTx = { ...direct, async lockAuditChain() {} };

  return {
    dialect: 'sqlite',
    query: (sql, params) =>
      serialise(async () => {
        checkOpen();
        return direct.query(sql, params);
      }),
    run: (sql, params) =>
      serialise(async () => {
        checkOpen();
        return direct.run(sql, params);
      }),
    transaction: (fn) => serialise(() => inTransaction(() => fn(tx))),
    migrate: (migrations: Migration[]) =>
      serialise(async () => {
        checkOpen();
        db.exec(
          'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)',
        );
        const applied: string[] = [];
        for (const m of migrations) {
          // Checked again inside the write lock: another process may have applied it meanwhile.
          const done = await inTransaction(async () => {
            if (db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?').get(m.id)) return true;
            db.exec(m.sqlite);
            db.prepare('INSERT INTO schema_migrations (id) VALUES (?)').run(m.id);
            return false;
          });
          if (!done) applied.push(m.id);
        }
        return applied;
      }),
    close: () =>
      serialise(async () => {
        if (closed) return;
        closed = true;
        db.close();
      }),
  };
}
