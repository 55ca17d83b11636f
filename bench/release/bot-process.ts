import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startLagebot } from '../../src/start-lagebot.ts';
import { instrumentSqlite } from '../lib/instrument-sqlite.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';
import { type RunningCpuProfile, startCpuProfile } from '../lib/start-cpu-profile.ts';

// Lagebot under measurement, alone in its process so its event loop is its own. Usage (forked by
// run.ts): env SIM_URL, ROLES_FILE, GATEWAY_CONCURRENCY (optional), DATA_PARENT (where its SQLite file goes; default the OS temp
// folder). Requests: 'stats' (upstream calls per route, each gateway change
// call with its idempotency key, SQLite time, event-loop delay), 'reset-stats', 'idle' (waits for the
// executor), 'memory' (RSS, heap, live heap after a GC with --expose-gc), 'profile-start', 'profile-stop' (file), 'stop'.

const simUrl = process.env.SIM_URL ?? '';
const rolesFile = process.env.ROLES_FILE ?? '';
if (!simUrl || !rolesFile) throw new Error('bot-process.ts needs SIM_URL and ROLES_FILE');
const wallNow = () => performance.timeOrigin + performance.now();

interface RouteStats {
  calls: number;
  failed: number;
  totalMs: number;
  maxMs: number;
}
/** One gateway change call as the bot made it: [key, started (wall ms), ms to the response headers, status]. */
type ChangeCall = [key: string, startedAt: number, ms: number, status: number];

let upstream = new Map<string, RouteStats>();
let changeCalls: ChangeCall[] = [];
const MAX_CHANGE_CALLS = 20_000;
// The HTTP clients take globalThis.fetch when they are constructed: wrapped before startLagebot, it
// sees every call to the simulator.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith(simUrl)) return realFetch(input, init);
  const method = init?.method ?? 'GET';
  // One route per operation, not per domain.
  const route = `${method} ${new URL(url).pathname.replace(/^(\/gateway\/v1\/domains\/)[^/]+$/, '$1{domain}')}`;
  const key = (init?.headers as Record<string, string> | undefined)?.['idempotency-key'];
  const startedAt = wallNow();
  let status = 0;
  try {
    const res = await realFetch(input, init);
    status = res.status;
    return res;
  } finally {
    const ms = wallNow() - startedAt;
    const s = upstream.get(route) ?? { calls: 0, failed: 0, totalMs: 0, maxMs: 0 };
    s.calls++;
    if (status < 200 || status >= 300) s.failed++;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    upstream.set(route, s);
    if (key && method === 'PATCH' && changeCalls.length < MAX_CHANGE_CALLS) {
      changeCalls.push([key, startedAt, ms, status]);
    }
  }
};

// better-sqlite3 is synchronous: its time is time every other turn waits for.
const sqlite = instrumentSqlite();
const dataDir = mkdtempSync(join(process.env.DATA_PARENT || tmpdir(), 'lagebot-bench-release-'));
const config = loadConfig({
  PORT: '0',
  DATA_DIR: dataDir,
  INVENTORY_API_URL: `${simUrl}/inventory/v1`,
  GATEWAY_API_URL: `${simUrl}/gateway/v1`,
  ROLES_FILE: rolesFile,
  GATEWAY_CONCURRENCY: process.env.GATEWAY_CONCURRENCY,
  // The bench's few synthetic operators and approvers act far faster than people; the per-user limit
  // (docs/decisions/hardening.md) would answer them "zu viele Anfragen", and it is not what this benchmark measures.
  USER_RATE_LIMIT_BURST: '100000',
  USER_RATE_LIMIT_PER_MINUTE: '100000',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
});
const bot = await startLagebot(config, { logger: createLogger(config.logLevel) });
const eventLoop = monitorEventLoopDelay({ resolution: 10 });
eventLoop.enable();
let profile: RunningCpuProfile | null = null;

serveParent({
  stats: () => ({
    upstream: Object.fromEntries(upstream),
    changeCalls,
    sqlite: sqlite.stats(),
    eventLoopDelayMs: {
      p50: eventLoop.percentile(50) / 1e6,
      p99: eventLoop.percentile(99) / 1e6,
      max: eventLoop.max / 1e6,
    },
  }),
  'reset-stats': () => {
    upstream = new Map();
    changeCalls = [];
    sqlite.reset();
    eventLoop.reset();
  },
  idle: (timeoutMs) => bot.executor.idle(typeof timeoutMs === 'number' ? timeoutMs : 30_000),
  // RSS and heap now, then (run with --expose-gc) the live heap after a full collection: what a release
  // left behind, apart from garbage V8 has not collected yet.
  memory: () => {
    const { rss, heapUsed } = process.memoryUsage();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    return {
      rss,
      heapUsed,
      liveHeap: gc ? process.memoryUsage().heapUsed : null,
      // Per space after the collection: compiled code and old objects tell apart what grew.
      spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_used_size])),
    };
  },
  'profile-start': async () => {
    profile = await startCpuProfile();
  },
  'profile-stop': async (file) => {
    if (typeof file !== 'string') throw new Error('profile-stop needs a file name');
    await profile?.stop(file);
    profile = null;
  },
  stop: async () => {
    eventLoop.disable();
    await bot.close();
    rmSync(dataDir, { recursive: true, force: true });
  },
});
announceReady({ url: bot.url, pid: process.pid });
