import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';

// The suites that need a real PostgreSQL (README "Testing") run against TEST_DATABASE_URL, by default
// the server these machines run. Where it does not answer they skip with the reason on a developer's
// machine, and fail under CI=true, where every real part is mandatory.

export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL as it may be printed: a password in it never reaches a log. */
export const shownTestDatabaseUrl = testDatabaseUrl.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/** The same server's database `name`, for suites that create a database of their own. */
export function testDatabaseUrlFor(name: string): string {
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** One statement on the administrative connection, on a connection of its own. */
export async function adminQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function unreachable(): Promise<string | null> {
  try {
    await adminQuery('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message || String(error);
  }
}

/**
 * For a `describe(name, { skip }, …)` that needs PostgreSQL: false when it answers. Otherwise the reason,
 * which skips the suite on a developer's machine; under CI=true a test named `name` fails with it too.
 */
export async function skipUnlessPostgres(name: string): Promise<string | false> {
  const reason = await unreachable();
  if (reason === null) return false;
  const why = `PostgreSQL not reachable at ${shownTestDatabaseUrl} (${reason}): set TEST_DATABASE_URL`;
  if (process.env.CI === 'true') test(name, () => assert.fail(`${why}; CI requires it`));
  else console.log(`# SKIP ${name}: ${why}`);
  return why;
}

/** Declares the suite's tests through `declare` when PostgreSQL answers; see skipUnlessPostgres otherwise. */
export async function whenPostgresAnswers(name: string, declare: () => void): Promise<void> {
  const skip = await skipUnlessPostgres(name);
  if (skip === false) declare();
  else if (process.env.CI !== 'true') test(name, { skip }, () => {});
}
