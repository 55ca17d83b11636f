#!/usr/bin/env node
// Node 20's test runner does not expand globs, so we collect *.test.ts ourselves and hand them to
// `node --test` with tsx loaded: by default every test under test/ and the benchmarks' own helper tests
// under bench/. Arguments narrow the run to folders or files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.cwd();
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return;
  }
  for (const entry of readdirSync(path).sort()) {
    if (entry === 'node_modules') continue;
    collect(join(path, entry), out);
  }
}

const files = [];
for (const t of targets.length ? targets : ['test', 'bench']) collect(join(root, t), files);
if (files.length === 0) {
  console.error('no test files found under', targets.join(' ') || 'test and bench');
  process.exit(1);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  ...passThrough,
  ...files.map((f) => relative(root, f)),
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: process.env });
process.exit(result.status ?? 1);
