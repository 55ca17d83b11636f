#!/usr/bin/env node
// Node 20's test runner does not expand globs, so we collect *.test.ts ourselves and hand them to
// `node --test` with tsx loaded: by default every test under test/ and the benchmarks' own helper tests
// under bench/. Arguments narrow the run to folders or files.
//
// Two files run at a time (TEST_CONCURRENCY, default 2). Node's own default is one fewer than the
// cores, which is one file at a time on the 2-core machines CI runs on, while the suites with real
// parts spend most of their time waiting on them (Postfix delivering, Chromium rendering, replica
// processes starting). Those suites are handed out first, so they overlap the many short files instead
// of ending the run alone.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.cwd();
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));

// Folders in the order their files start: the longest waits first (see above).
const FIRST = ['test/mail', 'test/e2e', 'test/integration'];

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

function rank(file) {
  const i = FIRST.findIndex((folder) => file === folder || file.startsWith(`${folder}/`));
  return i === -1 ? FIRST.length : i;
}

const found = [];
for (const t of targets.length ? targets : ['test', 'bench']) collect(join(root, t), found);
if (found.length === 0) {
  console.error('no test files found under', targets.join(' ') || 'test and bench');
  process.exit(1);
}
const files = found.map((f) => relative(root, f)).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
if (!/^[1-9]\d*$/.test(concurrency)) {
  console.error(`TEST_CONCURRENCY must be a whole number of files at a time, not "${concurrency}"`);
  process.exit(2);
}
const args = [
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  ...passThrough,
  ...files,
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: process.env });
process.exit(result.status ?? 1);
