#!/usr/bin/env node
// Node 20's test runner does not expand globs, so we collect *.test.ts ourselves: by default every test
// under test/ and the benchmarks' own helper tests under bench/. Arguments narrow the run to folders or
// files; one file runs alone in its own process.
//
// Most files share a process (TEST_SHARED_PROCESSES of them, default 6): a process costs half a second
// of tsx and Node start-up before its first test, and a file that starts the bot another two to three
// seconds of loading botbuilder and teams-ai (~1,400 CommonJS modules) — on 133 files that was most of
// the suite's CPU. A shared process runs its files one after another, each inside a suite named after it
// (scripts/run-files-in-one-process.mjs). The files in OWN_PROCESS keep a process each, as every file had
// before, and the browser suites share one of their own; TEST_ISOLATION=process gives every file its own
// process again (for a suspected leak between files).
//
// Two processes run at a time (TEST_CONCURRENCY, default 2), the longest first (SECONDS), so that the
// waits of the suites with real parts overlap the shared processes' CPU work instead of ending the run
// alone. `node --test` sorts its files by name, so we call node:test's run() with our order.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.cwd();
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));

// These keep a process each: they wait on real parts (Postfix and rspamd, replica processes on
// PostgreSQL), or change what the whole process shares: auth.test.ts replaces console.error and
// process.stderr.write around every test and fills botbuilder's process-wide token cache.
const OWN_PROCESS = new Set([
  'test/mail/real-mail.test.ts',
  'test/integration/three-replicas.test.ts',
  'test/integration/auth.test.ts',
]);
// The browser suites share a process of their own, so one Chromium and one demo run at a time: two
// side by side on a busy 2-core machine made the Playground miss its 20-second waits.
const BROWSER = 'test/e2e/';

// Roughly how many seconds a file takes in a full run on a 2-core machine (2026-12-05); any other file
// counts as one. Only for planning: the long files are spread over the shared processes, and the
// longest processes start first, so that no long one starts last and ends the run alone.
const SECONDS = {
  'test/mail/real-mail.test.ts': 80,
  'test/integration/three-replicas.test.ts': 50,
  'test/e2e/cards-gallery.test.ts': 40,
  'test/e2e/playground.test.ts': 30,
  'test/adapters/store/postgres.test.ts': 20,
  'test/integration/fuzz.test.ts': 18,
  'test/e2e/csrf.test.ts': 15,
  'test/integration/production-build.test.ts': 12,
  'test/integration/release-facts.test.ts': 10,
  'test/integration/audit-verify.test.ts': 10,
  'test/integration/release-faults.test.ts': 8,
  'test/unit/services/status-card-honesty.test.ts': 8,
  'test/integration/daily-report-restart.test.ts': 8,
  'test/integration/playground-as.test.ts': 7,
  'test/integration/state-wide-estate.test.ts': 7,
  'test/adapters/store/sqlite.test.ts': 6,
  'test/conformance/conformance.test.ts': 5,
  'test/integration/hardening-store.test.ts': 5,
  'test/unit/audit-dependencies.test.ts': 5,
  'test/unit/manifest/app-package.test.ts': 5,
  'test/integration/auth.test.ts': 5,
  'test/integration/daily-report.test.ts': 5,
  'test/integration/hardening-inventory.test.ts': 4,
};
const seconds = (file) => SECONDS[file] ?? 1;

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
const sharedProcesses = wholeNumber('TEST_SHARED_PROCESSES', '6');
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

const alone = files.length === 1 || isolation === 'process';
const own = alone ? files : files.filter((f) => OWN_PROCESS.has(f));
const browser = alone ? [] : files.filter((f) => f.startsWith(BROWSER));
const shared = files.filter((f) => !own.includes(f) && !browser.includes(f));

// The shared files, longest first, each to the process with the fewest seconds so far.
const groups = Array.from({ length: Math.min(sharedProcesses, shared.length) }, () => ({ files: [], seconds: 0 }));
for (const file of [...shared].sort((a, b) => seconds(b) - seconds(a) || (a < b ? -1 : 1))) {
  const group = groups.reduce((least, g) => (g.seconds < least.seconds ? g : least));
  group.files.push(file);
  group.seconds += seconds(file);
}
if (browser.length) {
  groups.push({ name: 'browser', files: browser, seconds: browser.reduce((n, f) => n + seconds(f), 0) });
}
const entryDir = groups.length ? mkdtempSync(join(tmpdir(), 'lagebot-test-processes-')) : null;
const helper = pathToFileURL(join(root, 'scripts', 'run-files-in-one-process.mjs')).href;
const processes = own.map((file) => ({ path: join(root, file), seconds: seconds(file) }));
for (const [i, group] of groups.entries()) {
  const path = join(entryDir, `${group.name ?? `shared-${i + 1}`}.test.mjs`);
  const files = JSON.stringify(group.files.sort(), null, 2);
  writeFileSync(
    path,
    `import { runFilesInOneProcess } from ${JSON.stringify(helper)};\n` +
      `await runFilesInOneProcess(${JSON.stringify(root)}, ${files});\n`,
  );
  processes.push({ path, seconds: group.seconds });
}
processes.sort((a, b) => b.seconds - a.seconds);

const { run } = await import('node:test');
const { spec } = await import('node:test/reporters');
const stream = run({ files: processes.map((p) => p.path), concurrency, ...options });
stream.on('test:fail', (data) => {
  if (!data.todo) process.exitCode = 1;
});
process.on('exit', () => {
  if (entryDir) rmSync(entryDir, { recursive: true, force: true });
});
stream.compose(new spec()).pipe(process.stdout);
