import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startLagebot } from '../../src/start-lagebot.ts';
import { instrumentSqlite } from '../lib/instrument-sqlite.ts';
import { startRssSampler } from '../lib/sample-rss.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';
import { type RunningCpuProfile, startCpuProfile } from '../lib/start-cpu-profile.ts';
import { startEchoBot } from './start-echo-bot.ts';

// The bot under measurement, alone in its process so its RSS and event loop are its own.
// Usage (forked by run.ts): bot-process.ts lagebot|echo; env SIM_URL and STATUS_CACHE_SECONDS.
// Requests from the parent: 'stats' (CPU time, memory, upstream and SQLite calls, event-loop delay),
// 'reset-counters', 'reset-stats',
// 'profile-start', 'profile-stop' (file), 'stop'.

type Mode = 'lagebot' | 'echo';
const mode = process.argv[2] as Mode;
if (mode !== 'lagebot' && mode !== 'echo') throw new Error(`usage: bot-process.ts lagebot|echo (got ${mode})`);
const simUrl = process.env.SIM_URL ?? '';

// Upstream calls as the bot makes them: the HTTP clients take globalThis.fetch when they are
// constructed, so wrapping it before startLagebot sees every call. Time is to the response
// headers (the bodies are a few KB on loopback).
interface RouteStats {
  calls: number;
  failed: number;
  totalMs: number;
  maxMs: number;
}
let upstream = new Map<string, RouteStats>();
// When each upstream call started (Date.now()) and how long it took: lines cache refreshes up with
// latency spikes. Capped so a long run cannot grow the bot's memory by much.
const MAX_EVENTS = 5000;
let upstreamEvents: Array<[startedAt: number, route: string, ms: number]> = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!simUrl || !url.startsWith(simUrl)) return realFetch(input, init);
  const route = `${init?.method ?? 'GET'} ${new URL(url).pathname}`;
  const startedAt = Date.now();
  const started = performance.now();
  let ok = false;
  try {
    const res = await realFetch(input, init);
    ok = res.ok;
    return res;
  } finally {
    const ms = performance.now() - started;
    const s = upstream.get(route) ?? { calls: 0, failed: 0, totalMs: 0, maxMs: 0 };
    s.calls++;
    if (!ok) s.failed++;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    upstream.set(route, s);
    if (upstreamEvents.length < MAX_EVENTS) upstreamEvents.push([startedAt, route, Math.round(ms * 10) / 10]);
  }
};

// The store's SQLite calls block the event loop; their time per turn is part of the answer.
const sqlite = instrumentSqlite();

const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-bench-'));
let close: () => Promise<void>;
let url: string;
if (mode === 'echo') {
  const echo = await startEchoBot({ logger });
  url = echo.url;
  close = () => echo.close();
} else {
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    INVENTORY_API_URL: `${simUrl}/inventory/v1`,
    GATEWAY_API_URL: `${simUrl}/gateway/v1`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...(process.env.STATUS_CACHE_SECONDS ? { STATUS_CACHE_SECONDS: process.env.STATUS_CACHE_SECONDS } : {}),
  });
  const bot = await startLagebot(config, { logger });
  url = bot.url;
  close = () => bot.close();
}

const rss = startRssSampler(50);
const eventLoop = monitorEventLoopDelay({ resolution: 10 });
eventLoop.enable();

let profile: RunningCpuProfile | null = null;
// CPU time of this process (all threads: user + system) since the counters were reset.
let cpuAtReset = process.cpuUsage();
function resetCounters() {
  cpuAtReset = process.cpuUsage();
  upstream = new Map();
  upstreamEvents = [];
  sqlite.reset();
}

serveParent({
  'profile-start': async () => {
    profile = await startCpuProfile();
  },
  'profile-stop': async (file) => {
    if (typeof file !== 'string') throw new Error('profile-stop needs a file name');
    await profile?.stop(file);
    profile = null;
  },
  // Counters (upstream, SQLite) can be read and reset per batch; the event-loop delay and the RSS
  // peak span the whole measured phase (reset-stats) and the whole process.
  stats: (payload) => {
    const o = (payload ?? {}) as { collect?: boolean; resetCounters?: boolean };
    const cpu = process.cpuUsage(cpuAtReset);
    const heap = getHeapStatistics();
    const stats = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      // Where the RSS goes besides the JS heap (read before a collection): V8's own malloc
      // (parser and compiler zones; its peak), array buffers, and each heap space's physical size.
      v8: {
        mallocedBytes: heap.malloced_memory,
        peakMallocedBytes: heap.peak_malloced_memory,
        arrayBufferBytes: process.memoryUsage().arrayBuffers,
        spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.physical_space_size])),
      },
      memory: rss.read(o.collect === true),
      upstream: Object.fromEntries(upstream),
      upstreamEvents,
      sqlite: sqlite.stats(),
      eventLoopDelayMs: {
        p50: eventLoop.percentile(50) / 1e6,
        p99: eventLoop.percentile(99) / 1e6,
        max: eventLoop.max / 1e6,
      },
    };
    if (o.resetCounters) resetCounters();
    return stats;
  },
  'reset-counters': () => resetCounters(),
  'reset-stats': () => {
    resetCounters();
    eventLoop.reset();
  },
  stop: async () => {
    rss.stop();
    eventLoop.disable();
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  },
});
announceReady({ url, mode, pid: process.pid });
