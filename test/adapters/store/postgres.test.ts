import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { testDatabaseUrl, whenPostgresAnswers } from '../../helpers/test-postgres.ts';
import { runStoreContract, type StoreHarness } from './store-contract.ts';

const url = testDatabaseUrl;

async function runSql(sql: string, schema?: string): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const created: string[] = [];
// Migrated schemas emptied by a finished test, ready for the next one (creating and migrating a schema
// costs far more than emptying it).
const idle: string[] = [];

async function emptySchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`,
      [schema],
    );
    // The append-only triggers refuse TRUNCATE; tests may also have disabled them: both end here.
    await client.query(
      `ALTER TABLE audit_log DISABLE TRIGGER USER;
       TRUNCATE ${tables.rows.map((r) => r.table_name).join(', ')};
       ALTER TABLE audit_log ENABLE TRIGGER USER;`,
    );
  } finally {
    await client.end();
  }
}

// A schema per test, so tests (and parallel runs) never see each other's rows; all dropped at the end.
async function makePostgresHarness({ fresh = false } = {}): Promise<StoreHarness> {
  let schema = fresh ? undefined : idle.pop();
  if (!schema) {
    schema = `lagebot_t_${randomBytes(6).toString('hex')}`;
    created.push(schema);
  }
  const options = { dataDir: '', databaseUrl: url, schema };
  const opened: Store[] = [];
  return {
    engine: 'postgres',
    options,
    async open(extra = {}) {
      const store = await createStore({ ...options, ...extra });
      opened.push(store);
      return store;
    },
    exec: (sql) => runSql(sql, options.schema),
    async dispose() {
      for (const s of opened) await s.close();
      if (opened.length > 0) {
        await emptySchema(options.schema);
        idle.push(options.schema);
      }
    },
  };
}

await whenPostgresAnswers('postgres store', () => {
  after(async () => {
    for (const schema of created) await runSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
  runStoreContract('postgres', makePostgresHarness);
});
