import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { instrumentSqlite } from './instrument-sqlite.ts';

describe('instrumentSqlite', () => {
  test('counts and times prepare, run, all, get and exec per statement, and resets', () => {
    const sqlite = instrumentSqlite();
    assert.equal(instrumentSqlite(), sqlite, 'installed once per process');
    sqlite.reset();
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      insert.run('a');
      insert.run('b');
      assert.deepEqual(
        db.prepare('SELECT v FROM t ORDER BY id').all(),
        [{ v: 'a' }, { v: 'b' }],
        'results pass through unchanged',
      );
      assert.deepEqual(db.prepare('SELECT count(*) AS n FROM   t').get(), { n: 2 });
      const stats = sqlite.stats();
      assert.equal(stats['exec CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)']?.calls, 1);
      assert.equal(stats['run INSERT INTO t (v) VALUES (?)']?.calls, 2);
      assert.equal(stats['prepare INSERT INTO t (v) VALUES (?)']?.calls, 1);
      assert.equal(stats['all SELECT v FROM t ORDER BY id']?.calls, 1);
      assert.equal(stats['get SELECT count(*) AS n FROM t']?.calls, 1, 'whitespace folded');
      for (const s of Object.values(stats)) assert.ok(s.totalMs >= 0 && s.maxMs <= s.totalMs);
      assert.throws(() => db.prepare('SELECT nope FROM t').all(), /no such column/);
      sqlite.reset();
      assert.deepEqual(sqlite.stats(), {});
    } finally {
      db.close();
    }
  });
});
