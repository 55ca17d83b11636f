// The one tiny interface both engines implement, so SqlStore has one set of queries.
// SQL is written with `?` placeholders (PostgreSQL translates them to $n) and only in the
// common subset of both dialects: ON CONFLICT upserts, RETURNING, TEXT for JSON.

export type SqlValue = string | number | null;
export type SqlRow = Record<string, unknown>;

export interface SqlExecutor {
  // Rows of a SELECT or of a statement with RETURNING.
  query<T extends SqlRow = SqlRow>(sql: string, params?: SqlValue[]): Promise<T[]>;
  // Rows changed by INSERT/UPDATE/DELETE.
  run(sql: string, params?: SqlValue[]): Promise<number>;
}

export interface SqlTx extends SqlExecutor {
  // Serialises audit appends so the chain never forks. SQLite: a write transaction already excludes all
  // other writers, so this is a no-op. PostgreSQL: a transaction-scoped advisory lock.
  lockAuditChain(): Promise<void>;
}

export interface Migration {
  id: string;
  sqlite: string;
  postgres: string;
}

export interface SqlDb extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  // Commits if fn resolves, rolls back if it throws.
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  // Applies the pending migrations in order, once even with several processes starting at the same time.
  migrate(migrations: Migration[]): Promise<string[]>;
  close(): Promise<void>;
}
