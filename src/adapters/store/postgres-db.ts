import pg from 'pg';
import { messageOf } from '../../domain/describe-error.ts';
import { LagebotError } from '../../domain/errors.ts';
import type { Migration, SqlDb, SqlExecutor, SqlRow, SqlTx, SqlValue } from './sql-db.ts';

// Advisory lock keys are database-wide; the second key is hashtext(schema) so stores in different schemas of
// one database (tests, staging next to prod) do not wait for each other.
const MIGRATION_LOCK_CLASS = 0x4c42;
const AUDIT_LOCK_CLASS = 0x4c43;
// Unquoted identifier, lower case (PostgreSQL folds unquoted names), at most NAMEDATALEN-1 = 63 bytes.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresDbOptions {
  databaseUrl: string;
  // Schema for all tables, created on migrate; default: the server's search_path (normally public).
  schema?: string;
  poolSize?: number;
  onPoolError?: (e: Error) => void;
}

export function toPositional(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function unavailable(e: unknown): unknown {
  // Errors from the server (syntax, constraint) carry a SQLSTATE and pass through, as do our own coded
  // errors; everything else is the connection: tell the operator where to look.
  if (e instanceof LagebotError || e instanceof pg.DatabaseError) return e;
  return new LagebotError(
    'STORE_UNAVAILABLE',
    `PostgreSQL is not reachable (${messageOf(e)}): check DATABASE_URL and that the server accepts connections.`,
    {},
    { cause: e },
  );
}

export function openPostgresDb({ databaseUrl, schema, poolSize = 10, onPoolError }: PostgresDbOptions): SqlDb {
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new LagebotError(
      'CONFIG_INVALID',
      `Invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _.`,
    );
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: poolSize,
    connectionTimeoutMillis: 5000,
    // Set at connection start-up, so every pooled connection uses the schema before its first query.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection emits here; without a listener Node would crash the process.
  pool.on('error', (e) => onPoolError?.(e));
  const lockKey = schema ?? 'public';
  let ended = false;

  function executor(c: pg.Pool | pg.PoolClient): SqlExecutor {
    return {
      async query<T extends SqlRow>(sql: string, params: SqlValue[] = []) {
        try {
          return (await c.query(toPositional(sql), params)).rows as T[];
        } catch (e) {
          throw unavailable(e);
        }
      },
      async run(sql, params = []) {
        try {
          return (await c.query(toPositional(sql), params)).rowCount ?? 0;
        } catch (e) {
          throw unavailable(e);
        }
      },
    };
  }

  // The pool listens for a client's errors only while it is idle. A connection the server ends while a
  // transaction holds it between two statements (a failover, pg_terminate_backend) would emit 'error' with
  // no listener and take the process down; with one, the next statement fails and the transaction's error
  // path destroys the client.
  async function connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw unavailable(e);
    }
    const onError = (e: Error) => onPoolError?.(e);
    client.on('error', onError);
    const release = client.release;
    client.release = (err?: Error | boolean) => {
      client.removeListener('error', onError);
      release(err);
    };
    return client;
  }

  return {
    dialect: 'postgres',
    ...executor(pool),
    async transaction(fn) {
      const client = await connect();
      try {
        await client.query('BEGIN');
      } catch (e) {
        client.release(e as Error);
        throw unavailable(e);
      }
      const ex = executor(client);
      const tx: SqlTx = {
        ...ex,
        async lockAuditChain() {
          await ex.query('SELECT pg_advisory_xact_lock(?, hashtext(?::text))', [AUDIT_LOCK_CLASS, lockKey]);
        },
      };
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn(tx);
      } catch (e) {
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (rollbackError) {
          // A connection that cannot roll back is destroyed rather than handed to the next caller.
          client.release(rollbackError as Error);
        }
        // fn's own errors (coded errors, conflicts) pass through unchanged.
        throw e;
      }
      try {
        await client.query('COMMIT');
      } catch (e) {
        client.release(e as Error);
        throw unavailable(e);
      }
      client.release();
      return result;
    },
    async migrate(migrations: Migration[]) {
      const client = await connect();
      const ex = executor(client);
      const applied: string[] = [];
      try {
        // Session lock: a second replica starting at the same moment waits here, then finds nothing to do.
        await ex.query('SELECT pg_advisory_lock(?, hashtext(?::text))', [MIGRATION_LOCK_CLASS, lockKey]);
        try {
          if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
          await client.query(
            'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
          );
          const done = new Set((await ex.query<{ id: string }>('SELECT id FROM schema_migrations')).map((r) => r.id));
          for (const m of migrations) {
            if (done.has(m.id)) continue;
            await client.query('BEGIN');
            try {
              await client.query(m.postgres);
              await ex.run('INSERT INTO schema_migrations (id) VALUES (?)', [m.id]);
              await client.query('COMMIT');
            } catch (e) {
              await client.query('ROLLBACK');
              throw e;
            }
            applied.push(m.id);
          }
        } finally {
          await ex.query('SELECT pg_advisory_unlock(?, hashtext(?::text))', [MIGRATION_LOCK_CLASS, lockKey]);
        }
        return applied;
      } catch (e) {
        throw unavailable(e);
      } finally {
        client.release();
      }
    },
    async close() {
      if (ended) return;
      ended = true;
      await pool.end();
    },
  };
}
