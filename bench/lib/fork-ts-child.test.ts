import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { forkTsChild } from './fork-ts-child.ts';

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), 'fork-ts-child.fixture.ts');

describe('forkTsChild and serveParent', () => {
  test('runs a TypeScript child, passes arguments and env, answers requests, stops it', async () => {
    const child = await forkTsChild<{ argv: string[]; env: string | null }>(fixture, {
      args: ['one', 'two'],
      env: { FIXTURE_VALUE: 'x' },
    });
    try {
      assert.deepEqual(child.ready, { argv: ['one', 'two'], env: 'x' });
      const answer = await child.request<{ got: unknown; pid: number }>('echo', { n: 1 });
      assert.deepEqual(answer.got, { n: 1 });
      assert.equal(answer.pid, child.pid);
      assert.notEqual(child.pid, process.pid);
      await assert.rejects(child.request('fail'), /as asked/);
      await assert.rejects(child.request('nope'), /no handler for nope/);
    } finally {
      await child.stop();
    }
    // Stopped means gone: signal 0 only checks that the process exists.
    assert.throws(() => process.kill(child.pid, 0), { code: 'ESRCH' });
  });

  test('reports a child that dies before it is ready, with its output', async () => {
    await assert.rejects(
      forkTsChild(join(fileURLToPath(new URL('.', import.meta.url)), 'does-not-exist.ts'), { quiet: true }),
      /does-not-exist\.ts exited with 1 before it was ready; output: [\s\S]*ERR_MODULE_NOT_FOUND/,
    );
  });
});
