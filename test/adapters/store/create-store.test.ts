import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import { isLagebotError } from '../../../src/domain/errors.ts';
import type { Logger } from '../../../src/domain/logger.ts';

test('an in-memory SQLite store is migrated, pingable and says where it lives', async () => {
  const logged: string[] = [];
  const logger: Logger = { debug() {}, info: (msg) => logged.push(msg), warn() {}, error() {} };
  const store = await createStore({ dataDir: ':memory:', logger });
  try {
    assert.equal(store.engine, 'sqlite');
    await store.ping();
    assert.deepEqual(await store.migrate(), []);
    assert.deepEqual(logged, ['store ready: SQLite :memory:']);
  } finally {
    await store.close();
  }
  await assert.rejects(store.ping(), (e) => isLagebotError(e, 'STORE_UNAVAILABLE'));
});

test('an unusable DATA_DIR is a STORE_UNAVAILABLE that names the setting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lagebot-store-'));
  try {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    await assert.rejects(
      createStore({ dataDir: join(file, 'data') }),
      (e) => isLagebotError(e, 'STORE_UNAVAILABLE') && /DATA_DIR/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreachable PostgreSQL is a STORE_UNAVAILABLE that names DATABASE_URL', async () => {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  await assert.rejects(
    createStore({ databaseUrl: 'postgres://lagebot@127.0.0.1:1/lagebot' }),
    (e) => isLagebotError(e, 'STORE_UNAVAILABLE') && /DATABASE_URL/.test(e.message),
  );
});

test('a schema name that is not a plain identifier is refused before connecting', async () => {
  await assert.rejects(
    createStore({ databaseUrl: 'postgres://lagebot@127.0.0.1:1/lagebot', schema: 'x; DROP TABLE y' }),
    (e) => isLagebotError(e, 'CONFIG_INVALID'),
  );
});
