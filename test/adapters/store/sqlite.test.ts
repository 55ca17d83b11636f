import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { createStore, SQLITE_FILE } from '../../../src/adapters/store/create-store.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { runStoreContract, type StoreHarness } from './store-contract.ts';

const root = mkdtempSync(join(tmpdir(), 'lagebot-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Migrated once, then copied per test: a closed SQLite database in WAL mode is checkpointed into its one file.
let template: Promise<string> | undefined;
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const dataDir = join(root, 'template');
    await (await createStore({ dataDir })).close();
    return join(dataDir, SQLITE_FILE);
  })();
  return template;
}

// A file in a fresh tmp dir per test (not :memory:), so reopening and child processes see the same data.
async function makeSqliteHarness({ fresh = false } = {}): Promise<StoreHarness> {
  const dataDir = mkdtempSync(join(root, 'db-'));
  if (!fresh) copyFileSync(await migratedTemplate(), join(dataDir, SQLITE_FILE));
  const opened: Store[] = [];
  return {
    engine: 'sqlite',
    options: { dataDir },
    async open(extra = {}) {
      const store = await createStore({ dataDir, ...extra });
      opened.push(store);
      return store;
    },
    async exec(sql) {
      const db = new Database(join(dataDir, SQLITE_FILE));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async dispose() {
      for (const s of opened) await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

runStoreContract('sqlite', makeSqliteHarness);
