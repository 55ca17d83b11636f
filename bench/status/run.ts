import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBundle, PRODUCTION_NODE_FLAGS } from '../../scripts/build-bundle.ts';
import { projectRoot } from '../../src/project-root.ts';
import { collectText, LocalConnector } from '../../src/teams/local-connector.ts';
import { forkTsChild, type TsChild } from '../lib/fork-ts-child.ts';
import { formatMs } from '../lib/format-table.ts';
import type { SqlCallStats } from '../lib/instrument-sqlite.ts';
import { summarizeLatencies } from '../lib/percentile.ts';
import type { ClosedLoopError } from '../lib/run-closed-loop.ts';
import type { RssReport } from '../lib/sample-rss.ts';
import { summarizeCpuProfile } from '../lib/summarize-cpu-profile.ts';
import { trackReplies } from '../lib/track-replies.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';
import {
  type BotMode,
  findMissedTargets,
  formatStatusReport,
  type MemoryResult,
  type ProfileResult,
  type ScenarioResult,
  type SingleFlightResult,
  type UpstreamRoute,
} from './format-status-report.ts';
import { type ChatSample, type ChatScenario, measureChatScenario } from './measure-chat-scenario.ts';

// docs/decisions/performance-targets.md: latency of `status <Kreis>` and `status alle` against a bare echo route on the same
// stack, 50 concurrent users, at 10,400 and 100,000 simulated devices, and the bot's RSS.
//
//   npx tsx bench/status/run.ts [--quick] [--users 50] [--requests 20] [--batch 4] [--warmup 2]
//                               [--devices 10400,100000] [--max-seconds 60] [--no-uncached]
//                               [--cpu-prof] [--bot-node-flags='--max-old-space-size=96'] [--from-source]
//                               [--out bench/results/status.json]
//   npx tsx bench/status/run.ts --estate land [--devices 300000]
//
// --estate land: the simulator's state-wide scenario (SIM_SCENARIO=land: Land > 5 Regierungsbezirke >
// 80 Kreise > 2,000 Gemeinden, 2,500 domains), 300,000 devices by default; the questions are
// `status Regierungsbezirk Auenmark` and `status alle`, the target ≤ 1.5 × echo p95 at any size, and
// every status card must stay under Teams' 40 KB (the largest one is reported).
//
// Processes: the simulator (sim-process.ts); one per bot under test (bot-process.ts: the echo app,
// Lagebot with the default status cache, Lagebot with STATUS_CACHE_SECONDS=0), so each bot's memory
// and event loop are its own; and this one, the load generator and fake Bot Connector.
// The bots run as production does (`npm run serve`): bot-process.ts bundled by scripts/build-bundle.ts
// into dist/bench/, plain node, PRODUCTION_NODE_FLAGS. --from-source runs them under tsx without
// those flags instead (how `npm start` runs), to show what the build and the flags are worth.
// The scenarios run interleaved in batches (echo, Kreis, alle, … then again), so a slow minute of a
// shared machine hits all of them alike instead of skewing the ratio to echo.
// Prints a table, writes JSON, exits 0 even when a target is missed (a measurement, not a test);
// missed targets are printed as MISSED.

const here = dirname(fileURLToPath(import.meta.url));

// Targets (docs/decisions/performance-targets.md).
const RSS_TARGET_BYTES = 200e6; // "process RSS ≤ 200 MB at 100,000 devices" (MB = 10^6 bytes, the stricter reading)
const BIG_FLEET = 100_000;
const targetRatioFor = (devices: number) => (opts.estate === 'land' || devices < BIG_FLEET ? 1.5 : 2);
// Teams refuses a message over about 40 KB (docs/decisions/performance-targets.md).
const CARD_LIMIT_BYTES = 40_000;

interface Options {
  quick: boolean;
  users: number;
  requestsPerUser: number;
  batchPerUser: number;
  warmupPerUser: number;
  devices: number[];
  maxScenarioMs: number;
  uncached: boolean;
  cpuProf: boolean;
  /** Extra Node flags for the bot processes, after the production ones (so they win), e.g. '--max-old-space-size=96'. */
  botNodeFlags: string[];
  /** Run the bots from the TypeScript sources under tsx, without the production flags. */
  fromSource: boolean;
  estate: 'suedwestfalen' | 'land';
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      users: { type: 'string' },
      requests: { type: 'string' },
      batch: { type: 'string' },
      warmup: { type: 'string' },
      devices: { type: 'string' },
      'max-seconds': { type: 'string' },
      'no-uncached': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'bot-node-flags': { type: 'string' },
      'from-source': { type: 'boolean', default: false },
      estate: { type: 'string', default: 'suedwestfalen' },
      out: { type: 'string' },
    },
  });
  const int = (v: string | undefined, fallback: number, name: string) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects a whole number, got ${v}`);
    return n;
  };
  const quick = values.quick ?? false;
  const estate = values.estate === 'land' ? 'land' : 'suedwestfalen';
  if (values.estate !== estate) throw new Error(`--estate expects suedwestfalen or land, got ${values.estate}`);
  return {
    estate,
    quick,
    users: Math.max(1, int(values.users, 50, 'users')),
    requestsPerUser: int(values.requests, quick ? 4 : 20, 'requests'),
    batchPerUser: Math.max(1, int(values.batch, quick ? 2 : 4, 'batch')),
    warmupPerUser: int(values.warmup, quick ? 1 : 2, 'warmup'),
    devices: (values.devices ?? (estate === 'land' ? '300000' : '10400,100000'))
      .split(',')
      .map((d) => Math.max(1, int(d.trim(), 0, 'devices'))),
    maxScenarioMs: int(values['max-seconds'], quick ? 20 : 60, 'max-seconds') * 1000,
    uncached: !(values['no-uncached'] ?? false),
    cpuProf: values['cpu-prof'] ?? false,
    botNodeFlags: (values['bot-node-flags'] ?? '').split(/\s+/).filter(Boolean),
    fromSource: values['from-source'] ?? false,
    out: resolve(values.out ?? join(here, '../results/status.json')),
  };
}

const opts = parseOptions(process.argv.slice(2));

// ---- scenarios ----

function cardTexts(activity: Record<string, unknown>): string[] {
  const attachments = (activity.attachments as Array<{ contentType?: string; content?: unknown }> | undefined) ?? [];
  const out: string[] = [];
  for (const a of attachments) {
    if (a.contentType === 'application/vnd.microsoft.card.adaptive') collectText(a.content, out);
  }
  return out;
}

// The largest status card each question got (the whole activity as the bot sent it, in bytes).
const largestCard = new Map<string, number>();

function statusScenario(text: string, title: RegExp): ChatScenario {
  return {
    name: text,
    text,
    checkReply(activity) {
      const bytes = Buffer.byteLength(JSON.stringify(activity));
      largestCard.set(text, Math.max(largestCard.get(text) ?? 0, bytes));
      if (bytes > CARD_LIMIT_BYTES) return `card of ${bytes} bytes, over Teams' ${CARD_LIMIT_BYTES}`;
      const texts = cardTexts(activity);
      if (texts.length === 0) return `no card in the reply: ${String(activity.text ?? '').slice(0, 120)}`;
      return texts.some((t) => title.test(t)) ? null : `card without ${title}: ${texts.slice(0, 3).join(' | ')}`;
    },
  };
}

// Each estate's questions; the echo bot gets the same bytes as the first one.
const statusScenarios: ChatScenario[] =
  opts.estate === 'land'
    ? [
        statusScenario('status Regierungsbezirk Auenmark', /^Lage: Regierungsbezirk Auenmark/),
        statusScenario('status alle', /^Lage: /),
      ]
    : [statusScenario('status Kreis Olpe', /^Lage: Kreis Olpe/), statusScenario('status alle', /^Lage: /)];
const echoScenario: ChatScenario = {
  name: 'echo',
  // The same text as the first question: the same request bytes; only the route differs.
  text: statusScenarios[0]!.text,
  checkReply: (activity, sent) => (activity.text === sent ? null : `echo answered ${JSON.stringify(activity.text)}`),
};

// ---- bots and lanes (one scenario on one bot) ----

interface BotStats {
  /** CPU time of the bot process since its counters were reset. */
  cpuMs: number;
  memory: RssReport;
  v8: MemoryResult['v8'];
  upstream: Record<string, UpstreamRoute>;
  upstreamEvents: Array<[startedAt: number, route: string, ms: number]>;
  sqlite: Record<string, SqlCallStats>;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

interface Bot {
  mode: BotMode;
  statusCacheSeconds: number | null;
  label: string;
  child: TsChild<{ url: string }>;
}

interface Lane {
  bot: Bot;
  scenario: ChatScenario;
  t0: number | null;
  samples: ChatSample[];
  errors: ClosedLoopError[];
  issued: number;
  elapsedMs: number;
  cpuMs: number;
  stoppedByDeadline: boolean;
  upstream: Map<string, UpstreamRoute>;
  upstreamEvents: Array<[number, string, number]>;
  sqlite: Map<string, SqlCallStats>;
}

const profileDir = join(dirname(opts.out), 'profiles');
if (opts.cpuProf) mkdirSync(profileDir, { recursive: true });
const log = (line: string) => process.stderr.write(`${line}\n`);
const loadBefore = loadavg()[0]!;
const startedAt = performance.now();
const connector = await new LocalConnector().start();
const tracker = trackReplies(connector);
const runs: ScenarioResult[] = [];
const memory: MemoryResult[] = [];
const singleFlight: SingleFlightResult[] = [];
const profiles: ProfileResult[] = [];

// How the bots run: the production build and flags, or the sources under tsx (--from-source).
const botScript = opts.fromSource
  ? join(here, 'bot-process.ts')
  : join(projectRoot, 'dist', 'bench', 'bot-process.mjs');
const botRuntime = opts.fromSource
  ? { build: 'tsx (sources)', nodeFlags: opts.botNodeFlags }
  : { build: 'dist (esbuild bundle)', nodeFlags: [...PRODUCTION_NODE_FLAGS, ...opts.botNodeFlags] };
if (!opts.fromSource) {
  await buildBundle({ entryPoints: [join(here, 'bot-process.ts')], outdir: dirname(botScript) });
}

log(
  `bench/status: ${opts.users} users × ${opts.requestsPerUser} requests per scenario in batches of ${opts.batchPerUser} ` +
    `(warm-up ${opts.warmupPerUser}), devices ${opts.devices.join(', ')}${opts.quick ? ' (quick)' : ''}` +
    `${opts.cpuProf ? ', CPU profiles on (slower)' : ''}; bots from ${botRuntime.build}` +
    `${botRuntime.nodeFlags.length ? `, Node flags ${botRuntime.nodeFlags.join(' ')}` : ', no Node flags'}`,
);

async function startBot(mode: BotMode, statusCacheSeconds: number | null, simUrl: string, devices: number) {
  const child = await forkTsChild<{ url: string }>(botScript, {
    args: [mode],
    env: {
      SIM_URL: simUrl,
      STATUS_CACHE_SECONDS: statusCacheSeconds === null ? undefined : String(statusCacheSeconds),
    },
    // --expose-gc only so the final memory reading can also tell the live heap (after a full GC);
    // DEP0111 is restify 11 reading process.binding('http_parser'), once per process.
    nodeFlags: ['--expose-gc', '--disable-warning=DEP0111', ...botRuntime.nodeFlags],
  });
  const label = mode === 'echo' ? `echo-${devices}` : `lagebot-${devices}-cache${statusCacheSeconds ?? 'default'}`;
  return { mode, statusCacheSeconds, label, child } satisfies Bot;
}

function addInto<T extends { calls: number; totalMs: number; maxMs: number }>(
  into: Map<string, T>,
  from: Record<string, T>,
) {
  for (const [key, s] of Object.entries(from)) {
    const seen = into.get(key);
    if (!seen) {
      into.set(key, { ...s });
      continue;
    }
    for (const k of Object.keys(s) as Array<keyof T>) {
      if (k === 'maxMs') seen.maxMs = Math.max(seen.maxMs, s.maxMs);
      else if (typeof s[k] === 'number') (seen[k] as number) += s[k] as number;
    }
  }
}

/** Runs users × perUser requests of one lane; measured batches add to the lane's samples and counters. */
async function runBatch(lane: Lane, perUser: number, measured: boolean): Promise<void> {
  const budget = measured ? opts.maxScenarioMs - lane.elapsedMs : opts.maxScenarioMs;
  if (budget <= 0) {
    lane.stoppedByDeadline = true;
    return;
  }
  lane.t0 ??= measured ? Date.now() : null;
  if (measured) await lane.bot.child.request('reset-counters');
  const r = await measureChatScenario({
    botUrl: lane.bot.child.ready.url,
    serviceUrl: connector.url,
    tracker,
    scenario: lane.scenario,
    users: opts.users,
    requestsPerUser: perUser,
    maxDurationMs: budget,
  });
  if (!measured) {
    if (r.errors.length > 0) {
      log(
        `  warm-up of ${lane.scenario.name} on ${lane.bot.label}: ${r.errors.length} errors, e.g. ${r.errors[0]!.message}`,
      );
    }
    return;
  }
  const stats = await lane.bot.child.request<BotStats>('stats', { resetCounters: true });
  lane.samples.push(...r.samples);
  lane.errors.push(...r.errors);
  lane.issued += r.issued;
  lane.elapsedMs += r.elapsedMs;
  lane.cpuMs += stats.cpuMs;
  lane.stoppedByDeadline ||= r.stoppedByDeadline;
  addInto(lane.upstream, stats.upstream);
  addInto(lane.sqlite, stats.sqlite);
  for (const [at, route, ms] of stats.upstreamEvents) lane.upstreamEvents.push([at - lane.t0!, route, ms]);
}

/** Upstream calls per question when one user asks alone: nothing to share (with cache 0). */
async function measureSerialCost(bot: Bot, scenario: ChatScenario): Promise<number | null> {
  await bot.child.request('stats', { resetCounters: true });
  const r = await measureChatScenario({
    botUrl: bot.child.ready.url,
    serviceUrl: connector.url,
    tracker,
    scenario,
    users: 1,
    requestsPerUser: 5,
    maxDurationMs: opts.maxScenarioMs,
  });
  const stats = await bot.child.request<BotStats>('stats', { resetCounters: true });
  const calls = Object.values(stats.upstream).reduce((n, s) => n + s.calls, 0);
  return r.issued > 0 ? calls / r.issued : null;
}

function resultOf(lane: Lane, devices: number, loop: BotStats['eventLoopDelayMs'] | null): ScenarioResult {
  const latency = summarizeLatencies(lane.samples.map((x) => x.latencyMs));
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const perQuestion = (x: number) => (lane.issued > 0 ? x / lane.issued : null);
  const sqlite = [...lane.sqlite.values()];
  const upstreamCalls = [...lane.upstream.values()].reduce((n, s) => n + s.calls, 0);
  return {
    scenario: lane.scenario.name,
    text: lane.scenario.text,
    devices,
    bot: lane.bot.mode,
    statusCacheSeconds: lane.bot.statusCacheSeconds,
    users: opts.users,
    requestsPerUser: opts.requestsPerUser,
    n: lane.samples.length,
    errors: lane.errors.length,
    errorExamples: [...new Set(lane.errors.map((e) => e.message))].slice(0, 5),
    stoppedByDeadline: lane.stoppedByDeadline,
    elapsedMs: lane.elapsedMs,
    latencyMs: latency,
    echoP95Ms: null,
    ratioToEchoP95: null,
    targetRatio: null,
    result: 'info',
    cpuMsPerQuestion: perQuestion(lane.cpuMs),
    cpuRatioToEcho: null,
    upstreamCallsPerQuestion: perQuestion(upstreamCalls),
    upstream: Object.fromEntries(
      [...lane.upstream].map(([route, s]) => [route, { ...s, meanMs: s.totalMs / s.calls }]),
    ),
    sqliteMsPerQuestion: perQuestion(sqlite.reduce((n, s) => n + s.totalMs, 0)),
    sqliteCallsPerQuestion: perQuestion(sqlite.reduce((n, s) => n + s.calls, 0)),
    sqlite: Object.fromEntries(lane.sqlite),
    eventLoopDelayMs: loop,
    samples: lane.samples.map((x) => [round1(x.startedAt - (lane.t0 ?? x.startedAt)), round1(x.latencyMs)]),
    upstreamEvents: lane.upstreamEvents,
  };
}

async function measureDevices(devices: number): Promise<void> {
  log(`devices ${devices}: starting the simulator and the bots`);
  const sim = await forkTsChild<{ url: string }>(join(here, 'sim-process.ts'), {
    args: [String(devices), '20240215', opts.estate === 'land' ? 'land' : 'feb-2024'],
  });
  const bots: Bot[] = [];
  try {
    const simUrl = sim.ready.url;
    bots.push(await startBot('echo', null, simUrl, devices));
    bots.push(await startBot('lagebot', null, simUrl, devices));
    if (opts.uncached) bots.push(await startBot('lagebot', 0, simUrl, devices));
    const lanes: Lane[] = bots.flatMap((bot) =>
      (bot.mode === 'echo' ? [echoScenario] : statusScenarios).map((scenario) => ({
        bot,
        scenario,
        t0: null,
        samples: [],
        errors: [],
        issued: 0,
        elapsedMs: 0,
        cpuMs: 0,
        stoppedByDeadline: false,
        upstream: new Map(),
        upstreamEvents: [],
        sqlite: new Map(),
      })),
    );

    for (const lane of lanes) await runBatch(lane, opts.warmupPerUser, false);
    for (const bot of bots) {
      await bot.child.request('reset-stats');
      if (opts.cpuProf) await bot.child.request('profile-start');
    }
    const rounds = Math.ceil(opts.requestsPerUser / opts.batchPerUser);
    for (let round = 0; round < rounds; round++) {
      const perUser = Math.min(opts.batchPerUser, opts.requestsPerUser - round * opts.batchPerUser);
      // Rotate the order so no scenario always follows the same one.
      for (let i = 0; i < lanes.length; i++) await runBatch(lanes[(i + round) % lanes.length]!, perUser, true);
    }

    const loops = new Map<Bot, BotStats['eventLoopDelayMs']>();
    for (const bot of bots) {
      if (opts.cpuProf) {
        const file = join(profileDir, `${bot.label}.cpuprofile`);
        await bot.child.request('profile-stop', file);
        profiles.push({
          file,
          devices,
          bot: bot.mode,
          statusCacheSeconds: bot.statusCacheSeconds,
          summary: summarizeCpuProfile(file, 12),
        });
      }
      const stats = await bot.child.request<BotStats>('stats', { collect: true });
      loops.set(bot, stats.eventLoopDelayMs);
      const m = stats.memory;
      const isTarget = bot.mode === 'lagebot' && devices >= BIG_FLEET;
      const peak = Math.max(m.peakSampledBytes, m.peakKernelBytes ?? 0);
      memory.push({
        devices,
        bot: bot.mode,
        statusCacheSeconds: bot.statusCacheSeconds,
        currentBytes: m.currentBytes,
        peakSampledBytes: m.peakSampledBytes,
        peakKernelBytes: m.peakKernelBytes,
        heapUsedBytes: m.heapUsedBytes,
        heapTotalAtPeakBytes: m.heapTotalAtPeakBytes,
        v8: stats.v8,
        liveHeapBytes: m.liveHeapBytes,
        targetBytes: isTarget ? RSS_TARGET_BYTES : null,
        result: isTarget ? (peak <= RSS_TARGET_BYTES ? 'ok' : 'MISSED') : 'info',
      });
    }

    const results = lanes.map((lane) => resultOf(lane, devices, loops.get(lane.bot) ?? null));
    const echo = results.find((r) => r.bot === 'echo');
    const echoP95 = echo?.latencyMs?.p95 ?? null;
    const echoCpu = echo?.cpuMsPerQuestion ?? null;
    for (const r of results) {
      if (r.bot === 'echo') continue;
      r.echoP95Ms = echoP95;
      r.cpuRatioToEcho = echoCpu && r.cpuMsPerQuestion !== null ? r.cpuMsPerQuestion / echoCpu : null;
      r.ratioToEchoP95 = echoP95 && r.latencyMs ? r.latencyMs.p95 / echoP95 : null;
      if (r.statusCacheSeconds === null) {
        r.targetRatio = targetRatioFor(devices);
        const ok = r.ratioToEchoP95 !== null && r.errors === 0 && r.ratioToEchoP95 <= r.targetRatio;
        r.result = ok ? 'ok' : 'MISSED';
      }
    }
    for (const r of results) {
      log(
        `  ${r.scenario.padEnd(18)} ${r.bot === 'echo' ? ''.padEnd(16) : `cache ${r.statusCacheSeconds ?? 'default'}`.padEnd(16)}` +
          `n ${r.n} err ${r.errors} p50 ${formatMs(r.latencyMs?.p50)} p95 ${formatMs(r.latencyMs?.p95)} ` +
          `p99 ${formatMs(r.latencyMs?.p99)} ms, cpu ${formatMs(r.cpuMsPerQuestion, 2)} ms/q` +
          `${r.stoppedByDeadline ? ' (time bound hit)' : ''}`,
      );
      for (const e of r.errorExamples) log(`    error: ${e}`);
    }
    runs.push(...results);

    for (const bot of bots.filter((b) => b.statusCacheSeconds === 0)) {
      for (const scenario of statusScenarios) {
        singleFlight.push({
          devices,
          scenario: scenario.name,
          serialCallsPerQuestion: await measureSerialCost(bot, scenario),
          concurrentCallsPerQuestion: results.find((r) => r.statusCacheSeconds === 0 && r.scenario === scenario.name)!
            .upstreamCallsPerQuestion,
        });
      }
    }
  } finally {
    for (const bot of bots) await bot.child.stop();
    await sim.stop();
  }
}

try {
  for (const devices of opts.devices) await measureDevices(devices);
} finally {
  tracker.dispose();
  await connector.close();
}

const missed = findMissedTargets(runs, memory);
const report = {
  users: opts.users,
  botRuntime,
  runs,
  memory,
  singleFlight,
  profiles,
  loadAverage: { before: loadBefore, after: loadavg()[0]!, cpus: cpus().length },
  missed,
};
console.log(`\n${formatStatusReport(report)}`);
const cards = Object.fromEntries(largestCard);
const cardsOk = [...largestCard.values()].every((bytes) => bytes <= CARD_LIMIT_BYTES);
console.log(
  `Largest status card (the whole reply activity): ${[...largestCard].map(([q, b]) => `${q}: ${(b / 1000).toFixed(1)} KB`).join(', ')} ` +
    `(limit ${CARD_LIMIT_BYTES / 1000} KB: ${cardsOk ? 'met' : 'MISSED'}); estate ${opts.estate}`,
);
const file = await writeJsonResult(opts.out, 'status', {
  options: opts,
  targets: {
    statusP95VsEchoP95: opts.estate === 'land' ? { any: 1.5 } : { below100k: 1.5, atOrAbove100k: 2 },
    rssBytesAt100k: RSS_TARGET_BYTES,
    latency: 'from starting POST /api/messages to the reply arriving at the fake connector',
  },
  durationMs: performance.now() - startedAt,
  estate: opts.estate,
  largestCardBytes: cards,
  cardLimitBytes: CARD_LIMIT_BYTES,
  ...report,
});
if (opts.cpuProf) console.log('Note: CPU profiling was on; its latencies are not the reference numbers.');
console.log(`JSON: ${file}  (${((performance.now() - startedAt) / 1000).toFixed(0)} s)`);
