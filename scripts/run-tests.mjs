#!/usr/bin/env node
// Node 20's test runner does not expand globs, so we collect *.test.ts ourselves: by default every test
// under test/ and the benchmarks' own helper tests under bench/. Arguments narrow the run to folders or
// files; one file runs alone in its own process.
//
// Most files share a process (TEST_SHARED_PROCESSES of them, default 4): a process costs half a second
// of tsx and Node start-up before its first test, and a file that starts the bot another two to three
// seconds of loading botbuilder and teams-ai (~1,400 CommonJS modules) — on 133 files that was most of
// the suite's CPU. A shared process runs its files one after another, each inside a suite named after it
// (scripts/run-files-in-one-process.mjs). The files in OWN_PROCESS keep a process each, as every file had
// before; TEST_ISOLATION=process gives every file its own process again (for a suspected leak between
// files).
//
// Two processes run at a time (TEST_CONCURRENCY, default 2), in the order below: the files that mostly
// wait on real parts first, so their waits overlap the shared processes' CPU work instead of ending the
// run alone. `node --test` sorts its files by name, so we call node:test's run() with our order.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.cwd();
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));

// In start order. Each waits on real parts (Postfix and rspamd, Chromium, replica processes on
// PostgreSQL) or changes what the whole process shares: auth.test.ts replaces console.error and
// process.stderr.write around every test and fills botbuilder's process-wide token cache.
const OWN_PROCESS = [
  'test/mail/real-mail.test.ts',
  'test/e2e/cards-gallery.test.ts',
  'test/integration/three-replicas.test.ts',
  'test/e2e/playground.test.ts',
  'test/e2e/csrf.test.ts',
  'test/e2e/launch-chromium.test.ts',
  'test/integration/auth.test.ts',
];

function wholeNumber(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!/^[1-9]\d*$/.test(value)) {
    console.error(`${name} must be a whole number greater than 0, not "${value}"`);
    process.exit(2);
  }
  return Number(value);
}

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

const found = [];
for (const t of targets.length ? targets : ['test', 'bench']) collect(join(root, t), found);
if (found.length === 0) {
  console.error('no test files found under', targets.join(' ') || 'test and bench');
  process.exit(1);
}
const files = found.map((f) => relative(root, f)).sort();
const concurrency = wholeNumber('TEST_CONCURRENCY', '2');
const sharedProcesses = wholeNumber('TEST_SHARED_PROCESSES', '4');
const isolation = process.env.TEST_ISOLATION ?? 'shared';
if (isolation !== 'shared' && isolation !== 'process') {
  console.error(`TEST_ISOLATION must be "shared" or "process", not "${isolation}"`);
  process.exit(2);
}

const options = {};
for (const flag of flags) {
  if (flag.startsWith('--test-name-pattern=')) {
    options.testNamePatterns = [...(options.testNamePatterns ?? []), flag.slice('--test-name-pattern='.length)];
  } else if (flag === '--test-only') options.only = true;
  else {
    console.error(`unknown option ${flag} (known: --test-name-pattern=…, --test-only)`);
    process.exit(2);
  }
}

// node:test hands its own execArgv to every test process: start once more with tsx loaded.
if (!process.env.LAGEBOT_TEST_RUNNER_TSX) {
  const self = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ['--import', 'tsx', self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, LAGEBOT_TEST_RUNNER_TSX: '1' },
  });
  process.exit(result.status ?? 1);
}
delete process.env.LAGEBOT_TEST_RUNNER_TSX;

const own = files.length === 1 || isolation === 'process' ? files : files.filter((f) => OWN_PROCESS.includes(f));
const shared = files.filter((f) => !own.includes(f));
const rank = (f) => (OWN_PROCESS.includes(f) ? OWN_PROCESS.indexOf(f) : OWN_PROCESS.length);
own.sort((a, b) => rank(a) - rank(b));

// Round-robin over the sorted files, so each shared process gets its share of every folder (the
// integration files are the long ones).
const groups = Array.from({ length: Math.min(sharedProcesses, shared.length) }, () => []);
for (const [i, file] of shared.entries()) groups[i % groups.length].push(file);
const entryDir = groups.length ? mkdtempSync(join(tmpdir(), 'lagebot-test-processes-')) : null;
const helper = pathToFileURL(join(root, 'scripts', 'run-files-in-one-process.mjs')).href;
const entries = groups.map((group, i) => {
  const entry = join(entryDir, `shared-${i + 1}-of-${groups.length}.test.mjs`);
  writeFileSync(
    entry,
    `import { runFilesInOneProcess } from ${JSON.stringify(helper)};\n` +
      `await runFilesInOneProcess(${JSON.stringify(root)}, ${JSON.stringify(group, null, 2)});\n`,
  );
  return entry;
});

const { run } = await import('node:test');
const { spec } = await import('node:test/reporters');
// Alternately a file of its own and a shared process, so the waits of the one overlap the CPU work of the other.
const order = [];
const ownPaths = own.map((f) => join(root, f));
for (let i = 0; i < Math.max(ownPaths.length, entries.length); i++) {
  if (i < ownPaths.length) order.push(ownPaths[i]);
  if (i < entries.length) order.push(entries[i]);
}
const stream = run({ files: order, concurrency, ...options });
stream.on('test:fail', (data) => {
  if (!data.todo) process.exitCode = 1;
});
process.on('exit', () => {
  if (entryDir) rmSync(entryDir, { recursive: true, force: true });
});
stream.compose(new spec()).pipe(process.stdout);
