import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PRODUCTION_NODE_FLAGS } from '../../scripts/build-bundle.ts';
import { projectRoot } from '../../src/project-root.ts';

// The production flags are written where the bot starts (npm run serve, the container's CMD) and
// measured by bench/status from PRODUCTION_NODE_FLAGS: they must not drift apart.

describe('production launch', () => {
  test('npm run serve builds, then runs dist/main.mjs with exactly the production flags', () => {
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(
      pkg.scripts.serve,
      `tsx scripts/build-bundle.ts && node ${PRODUCTION_NODE_FLAGS.join(' ')} dist/main.mjs serve`,
    );
    assert.equal(pkg.scripts.build, 'tsx scripts/build-bundle.ts');
  });

  test('the Dockerfile builds dist/ and its CMD runs it with exactly the production flags', () => {
    const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^RUN npm run build$/m);
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(cmd, 'no exec-form CMD in the Dockerfile');
    assert.deepEqual(JSON.parse(cmd), ['node', ...PRODUCTION_NODE_FLAGS, 'dist/main.mjs', 'serve']);
  });

  test('the flags are ones this Node accepts', () => {
    // Node exits 9 ("bad option") on an unknown flag or a malformed value.
    const r = spawnSync(process.execPath, [...PRODUCTION_NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
