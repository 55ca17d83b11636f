import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { openPostgresDb } from '../../../src/adapters/store/postgres-db.ts';
import type { SqlDb } from '../../../src/adapters/store/sql-db.ts';
import { adminQuery, testDatabaseUrl, whenPostgresAnswers } from '../../helpers/test-postgres.ts';
import { waitUntil } from '../../helpers/wait-until.ts';

// A connection the server ends while a transaction holds it between two statements — a failover, a DBA's
// pg_terminate_backend — must fail that transaction, not the process. The pool listens for a client's
// errors only while the client is idle; a checked-out client without a listener turns the server's
// "terminating connection" into an uncaught exception, which the test runner reports as a failure.

const schema = `lagebot_c_${randomBytes(5).toString('hex')}`;

await whenPostgresAnswers('a PostgreSQL connection ended during a transaction', () => {
  const errors: Error[] = [];
  let db: SqlDb;
  after(async () => {
    await db?.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  describe('a PostgreSQL connection ended during a transaction', () => {
    test('the transaction fails as the store being unavailable; the process goes on; the next one works', async () => {
      db = openPostgresDb({ databaseUrl: testDatabaseUrl, schema, poolSize: 1, onPoolError: (e) => errors.push(e) });
      await db.migrate([]);
      const outcome = db.transaction(async (tx) => {
        const [{ pid }] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
        // Between two statements the client is idle on the wire: the server's goodbye arrives as an event.
        await waitUntil(() => errors.length > 0, 'the ended connection reported', 10_000);
        await tx.query('SELECT 1');
      });
      await assert.rejects(outcome, (e: Error & { code?: string }) => {
        assert.equal(e.code, 'STORE_UNAVAILABLE', e.message);
        return true;
      });
      assert.match(errors[0]!.message, /terminat/);
      assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
    });
  });
});
