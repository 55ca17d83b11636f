import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { describeEnvironment, writeJsonResult } from './write-json-result.ts';

describe('writeJsonResult', () => {
  test('creates missing folders and writes the result with its benchmark name and environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-json-'));
    try {
      const env = describeEnvironment(dir); // not a git checkout: no commit
      const path = await writeJsonResult(join(dir, 'a', 'b', 'x.json'), 'x', { runs: [1, 2] }, env);
      const written = JSON.parse(readFileSync(path, 'utf8'));
      assert.equal(written.benchmark, 'x');
      assert.deepEqual(written.runs, [1, 2]);
      assert.equal(written.environment.node, process.version);
      assert.equal(written.environment.gitCommit, null);
      assert.ok(!Number.isNaN(Date.parse(written.finishedAt)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('names the commit of a git checkout', () => {
    const env = describeEnvironment(process.cwd());
    assert.match(env.gitCommit ?? '', /^[0-9a-f]{40}$/);
    assert.ok(env.cpus >= 1);
  });
});
