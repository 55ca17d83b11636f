import { formatMB, formatMs, formatTable } from '../lib/format-table.ts';
import type { SqlCallStats } from '../lib/instrument-sqlite.ts';
import type { LatencySummary } from '../lib/percentile.ts';
import type { CpuProfileSummary } from '../lib/summarize-cpu-profile.ts';

// The result of bench/status (also its JSON) and the text report printed at the end of a run.

export type BotMode = 'lagebot' | 'echo';
export type Verdict = 'ok' | 'MISSED' | 'info';

export interface UpstreamRoute {
  calls: number;
  failed: number;
  totalMs: number;
  maxMs: number;
}

export interface ScenarioResult {
  scenario: string;
  text: string;
  devices: number;
  bot: BotMode;
  /** null: the bot's default (what users get). */
  statusCacheSeconds: number | null;
  users: number;
  requestsPerUser: number;
  n: number;
  errors: number;
  errorExamples: string[];
  stoppedByDeadline: boolean;
  /** Time spent in this scenario's batches (they are interleaved with the other scenarios'). */
  elapsedMs: number;
  latencyMs: LatencySummary | null;
  echoP95Ms: number | null;
  ratioToEchoP95: number | null;
  targetRatio: number | null;
  result: Verdict;
  /** CPU time of the bot process per question: unlike latency, hardly moved by other processes. */
  cpuMsPerQuestion: number | null;
  cpuRatioToEcho: number | null;
  upstreamCallsPerQuestion: number | null;
  upstream: Record<string, UpstreamRoute & { meanMs: number }>;
  /** Time the bot's event loop stood inside SQLite, per question. */
  sqliteMsPerQuestion: number | null;
  sqliteCallsPerQuestion: number | null;
  sqlite: Record<string, SqlCallStats>;
  /** Of the bot process over the whole measured phase (shared by the scenarios on that bot). */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  /** Every sample: [ms after the scenario's first request, latency ms]. */
  samples: Array<[offsetMs: number, latencyMs: number]>;
  /** Upstream calls during the scenario's batches: [ms after its first request, route, ms]. */
  upstreamEvents: Array<[offsetMs: number, route: string, ms: number]>;
}

export interface MemoryResult {
  devices: number;
  bot: BotMode;
  statusCacheSeconds: number | null;
  currentBytes: number;
  peakSampledBytes: number;
  peakKernelBytes: number | null;
  heapUsedBytes: number;
  heapTotalAtPeakBytes: number;
  /** JSON only: V8's malloc (now and peak), array buffers, heap spaces (physical bytes) at the end of the run. */
  v8: { mallocedBytes: number; peakMallocedBytes: number; arrayBufferBytes: number; spaces: Record<string, number> };
  liveHeapBytes: number | null;
  targetBytes: number | null;
  result: Verdict;
}

export interface SingleFlightResult {
  devices: number;
  scenario: string;
  /** One user at a time: what one question costs when nobody shares its fetches. */
  serialCallsPerQuestion: number | null;
  /** All users at once, the same question: the fetches they shared. */
  concurrentCallsPerQuestion: number | null;
}

export interface ProfileResult {
  file: string;
  devices: number;
  bot: BotMode;
  statusCacheSeconds: number | null;
  summary: CpuProfileSummary;
}

export interface StatusBenchReport {
  users: number;
  /** How the bot processes ran: the production build or the sources, and their Node flags. */
  botRuntime: { build: string; nodeFlags: string[] };
  runs: ScenarioResult[];
  memory: MemoryResult[];
  singleFlight: SingleFlightResult[];
  profiles: ProfileResult[];
  /** 1-minute load average of the machine before and after: above the CPU count means noisy numbers. */
  loadAverage: { before: number; after: number; cpus: number };
  missed: string[];
}

const cacheLabel = (r: { bot: BotMode; statusCacheSeconds: number | null }) =>
  r.bot === 'echo' ? '—' : r.statusCacheSeconds === null ? '15 (default)' : String(r.statusCacheSeconds);

export function findMissedTargets(runs: ScenarioResult[], memory: MemoryResult[]): string[] {
  const missed: string[] = [];
  for (const r of runs) {
    if (r.result !== 'MISSED') continue;
    missed.push(
      `MISSED: ${r.scenario} at ${r.devices} devices: p95 ${formatMs(r.latencyMs?.p95)} ms = ` +
        `${r.ratioToEchoP95?.toFixed(2) ?? '—'} × echo p95 (target ≤ ${r.targetRatio} ×)` +
        `${r.errors ? `, ${r.errors} errors` : ''}`,
    );
  }
  for (const m of memory) {
    if (m.result !== 'MISSED') continue;
    missed.push(
      `MISSED: Lagebot peak RSS at ${m.devices} devices (cache ${cacheLabel(m)}): ` +
        `${formatMB(Math.max(m.peakSampledBytes, m.peakKernelBytes ?? 0))} MB (target ≤ ${formatMB(m.targetBytes, 0)} MB)`,
    );
  }
  return missed;
}

export function formatStatusReport(r: StatusBenchReport): string {
  const out: string[] = [];
  out.push(
    `Bots: ${r.botRuntime.build}, Node flags ${r.botRuntime.nodeFlags.join(' ') || '(none)'}`,
    '',
    'Latency from POST /api/messages to the reply at the fake connector (ms)',
    'ratio: p95 / echo p95 at the same devices; cpu ms/q: CPU time of the bot process per question (and × echo);',
    "upstream/q: back-end calls per question; sqlite ms/q: time the bot's event loop stood in SQLite per question;",
    "loop p99: the bot's event-loop delay p99 (ms)",
    '',
    formatTable(
      [
        'scenario',
        { header: 'devices', align: 'right' },
        'cache s',
        'n',
        'err',
        'p50',
        'p95',
        'p99',
        'ratio',
        'target',
        'result',
        'cpu ms/q',
        'upstream/q',
        'sqlite ms/q',
        'loop p99',
      ],
      r.runs.map((x) => [
        x.scenario,
        x.devices,
        cacheLabel(x),
        x.n,
        x.errors,
        formatMs(x.latencyMs?.p50),
        formatMs(x.latencyMs?.p95),
        formatMs(x.latencyMs?.p99),
        x.ratioToEchoP95 === null ? '—' : `${x.ratioToEchoP95.toFixed(2)}×`,
        x.targetRatio === null ? '—' : `≤ ${x.targetRatio}×`,
        x.result,
        `${formatMs(x.cpuMsPerQuestion, 2)}${x.cpuRatioToEcho === null ? '' : ` (${x.cpuRatioToEcho.toFixed(1)}×)`}`,
        x.upstreamCallsPerQuestion === null ? '—' : x.upstreamCallsPerQuestion.toFixed(2),
        formatMs(x.sqliteMsPerQuestion, 2),
        formatMs(x.eventLoopDelayMs?.p99, 0),
      ]),
    ),
    '',
    'Bot process memory (MB = 10^6 bytes; peak = max of 50 ms sampling and the kernel high-water mark)',
    '',
    formatTable(
      [
        'bot',
        { header: 'devices', align: 'right' },
        'cache s',
        'rss after',
        'peak sampled',
        'peak kernel',
        'heap at peak',
        'heap used',
        'live heap',
        'target',
        'result',
      ],
      r.memory.map((m) => [
        m.bot,
        m.devices,
        cacheLabel(m),
        formatMB(m.currentBytes),
        formatMB(m.peakSampledBytes),
        formatMB(m.peakKernelBytes),
        formatMB(m.heapTotalAtPeakBytes),
        formatMB(m.heapUsedBytes),
        formatMB(m.liveHeapBytes),
        m.targetBytes === null ? '—' : `≤ ${formatMB(m.targetBytes, 0)}`,
        m.result,
      ]),
    ),
  );
  if (r.singleFlight.length > 0) {
    out.push(
      '',
      'Single flight (STATUS_CACHE_SECONDS=0): upstream calls per question',
      '',
      formatTable(
        ['scenario', { header: 'devices', align: 'right' }, 'one user alone', `${r.users} users at once`],
        r.singleFlight.map((s) => [
          s.scenario,
          s.devices,
          s.serialCallsPerQuestion?.toFixed(2),
          s.concurrentCallsPerQuestion?.toFixed(2),
        ]),
      ),
    );
  }
  for (const p of r.profiles) {
    out.push(
      '',
      `CPU profile of ${p.bot} (${p.devices} devices, cache ${cacheLabel(p)}) over the measured phase: ${p.file}`,
      `busy ${p.summary.busyMs.toFixed(0)} ms of ${p.summary.totalMs.toFixed(0)} ms`,
      '',
      formatTable(
        ['package / folder', 'self ms', 'share'],
        p.summary.byPackage.map((s) => [s.name, s.selfMs.toFixed(0), `${(s.share * 100).toFixed(1)} %`]),
      ),
      '',
      formatTable(
        ['function', 'self ms', 'share'],
        p.summary.topFunctions.map((s) => [s.name, s.selfMs.toFixed(0), `${(s.share * 100).toFixed(1)} %`]),
      ),
    );
  }
  out.push('');
  const { before, after, cpus } = r.loadAverage;
  if (Math.max(before, after) > cpus) {
    out.push(
      `WARNING: the machine was busy (load average ${before.toFixed(1)} before, ${after.toFixed(1)} after, ${cpus} CPUs): ` +
        'other processes competed for the CPU, the latencies are noisy.',
    );
  }
  out.push(...r.missed);
  if (r.missed.length === 0) out.push('All targets met.');
  return out.join('\n');
}
