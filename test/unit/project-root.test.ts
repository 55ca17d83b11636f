import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findProjectRoot, projectRoot } from '../../src/project-root.ts';

describe('findProjectRoot', () => {
  test('walks up to the directory with package.json "lagebot" and cards/, skipping other packages', () => {
    const base = mkdtempSync(join(tmpdir(), 'root-'));
    try {
      writeFileSync(join(base, 'package.json'), JSON.stringify({ name: 'lagebot' }));
      mkdirSync(join(base, 'cards'));
      // A package of another name, even with a cards/ folder, is not the root (node_modules/x).
      const other = join(base, 'node_modules', 'other');
      mkdirSync(join(other, 'cards'), { recursive: true });
      writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'other' }));
      const deep = join(other, 'dist', 'chunks');
      mkdirSync(deep, { recursive: true });
      assert.equal(findProjectRoot(deep), base);
      assert.equal(findProjectRoot(base), base);
      // package.json "lagebot" without cards/ (a half-copied image) is not a root either.
      const bare = join(base, 'bare');
      mkdirSync(join(bare, 'dist'), { recursive: true });
      writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'lagebot' }));
      assert.equal(findProjectRoot(join(bare, 'dist')), base);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('says where it looked when there is no root above', () => {
    const base = mkdtempSync(join(tmpdir(), 'noroot-'));
    try {
      writeFileSync(join(base, 'package.json'), '{ not json');
      mkdirSync(join(base, 'cards'));
      assert.throws(() => findProjectRoot(base), new RegExp(`no project root .* above ${base}`));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('from the sources it is the repository', () => {
    assert.equal(projectRoot, join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
  });
});
