import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PRODUCTION_NODE_FLAGS } from '../../scripts/build-bundle.ts';
import { LocalConnector } from '../../src/teams/local-connector.ts';
import { invoke, message, personal, post, type TestUser, users } from '../../test/fakes/activities.ts';
import { writeTestRoles } from '../../test/helpers/release-helpers.ts';
import { forkTsChild } from '../lib/fork-ts-child.ts';
import { formatTable } from '../lib/format-table.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';
import { adaptiveCardOf, buttonRefOf, describeReply, STATE_EXECUTED, stateLineOf } from './read-request-card.ts';
import type { GatewayApplication } from './summarize-gateway-changes.ts';
import { wallNow } from './watch-connector.ts';

// A release of a whole Regierungsbezirk of the state-wide estate (SIM_SCENARIO=land, ~500 domains)
// through a gateway that answers every call after `--latency-ms` (100): from the approver's last
// click until the simulator applied the last domain's change, against
// 1.3 × (domains × latency / the executor's gateway concurrency); how often the requester's card was
// updated meanwhile (it must stay bounded, not one update per domain); and the bot's RSS before,
// during (peak) and after the execution (it must stay flat).
//
//   npx tsx bench/release/run-bezirk.ts [--latency-ms 100] [--concurrency 16] [--production-flags]
//                                       [--devices 30000] [--bezirk ags:171] [--out bench/results/release-bezirk.json]
//
// The bot runs from source under tsx; `--production-flags` gives it the production heap flags
// (PRODUCTION_NODE_FLAGS, as `npm run serve` and the Docker image), without them V8 lets garbage grow
// before it collects. Either way it runs with --expose-gc, so that the live heap before and after the
// release (after a full collection) tells retained memory from garbage not yet collected. Before the
// measured release another Regierungsbezirk is released the same way without latency (a warm-up:
// the code paths compiled, the caches filled), so that "before" is a bot that has released before;
// `--warm-ups 3` releases three others first (the live heap after each shows whether releases leave
// memory behind), `--cold` none.
//
// The executor sends at most GATEWAY_CONCURRENCY changes at once (`--concurrency`, the bot's default
// 16); the target is computed with it, and the observed maximum of calls in flight is printed next to
// it. The Regierungsbezirk's domains are put on hold through the
// gateway API first; the scope is below the release policy on the scenario's first day, so the
// release takes a justification and two approvers (docs/decisions/release-workflow.md).

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    'production-flags': { type: 'boolean', default: false },
    cold: { type: 'boolean', default: false },
    'warm-ups': { type: 'string', default: '1' },
    devices: { type: 'string', default: '30000' },
    bezirk: { type: 'string' },
    out: { type: 'string', default: 'bench/results/release-bezirk.json' },
  },
});
const latencyMs = Number(values['latency-ms']);
const concurrency = Number(values.concurrency);
const devices = Number(values.devices);
const JUSTIFICATION = 'Benchmark: Freigabe eines ganzen Regierungsbezirks, Restrisiko akzeptiert';
const loadBefore = loadavg()[0]!;

const sim = await forkTsChild<{ url: string }>(join(here, 'sim-process.ts'), {
  args: [String(devices), '20240215', 'land'],
});
const simUrl = sim.ready.url;
const connector = await new LocalConnector().start();
// Replies by the activity they answer; every card update (PUT) with its arrival time.
const replies = new Map<string, Record<string, unknown>>();
const updates: Array<{ at: number; state: string | null }> = [];
connector.responder = (call) => {
  if (call.method === 'POST' && typeof call.activity.replyToId === 'string' && call.activity.type === 'message') {
    replies.set(call.activity.replyToId, call.activity);
  }
  if (call.method === 'PUT') updates.push({ at: wallNow(), state: stateLineOf(adaptiveCardOf(call.activity)) });
  connector.calls.length = 0;
  return null;
};
const nodeFlags = [...(values['production-flags'] ? PRODUCTION_NODE_FLAGS : []), '--expose-gc'];
const bot = await forkTsChild<{ url: string; pid: number }>(join(here, 'bot-process.ts'), {
  nodeFlags,
  env: { SIM_URL: simUrl, ROLES_FILE: writeTestRoles(), LOG_LEVEL: 'error', GATEWAY_CONCURRENCY: String(concurrency) },
});

async function simPost(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${simUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function say(text: string, user: TestUser) {
  const activity = message(text, { serviceUrl: connector.url, user, conversation: personal(user) });
  const res = await post(bot.ready.url, activity);
  if (res.status !== 200) throw new Error(`"${text}": ${res.status}`);
  for (let i = 0; i < 600 && !replies.has(activity.id); i++) await new Promise((r) => setTimeout(r, 100));
  const reply = replies.get(activity.id);
  if (!reply) throw new Error(`"${text}": no reply within 60 s`);
  return reply;
}

async function click(verb: string, data: Record<string, unknown>, user: TestUser) {
  const res = await post(bot.ready.url, invoke(verb, data, { serviceUrl: connector.url, user }));
  const body = res.body as { value?: Record<string, unknown> } | null;
  return body?.value ?? null;
}

// The bot's resident set, from the kernel, every 100 ms.
const rssOf = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${bot.ready.pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};

try {
  const regions =
    await sim.request<Array<{ id: string; kind: string; name: string; parentId: string | null }>>('regions');
  const domains = await sim.request<Array<{ domain: string; kreis: string }>>('domains');
  const parentOf = new Map(regions.map((r) => [r.id, r.parentId]));
  const bezirke = regions.filter((r) => r.kind === 'regierungsbezirk');
  const domainsOf = (id: string) => domains.filter((d) => parentOf.get(d.kreis) === id).map((d) => d.domain);
  // The one nearest 500 domains unless one is named.
  const bezirk =
    bezirke.find((b) => b.id === values.bezirk) ??
    [...bezirke].sort((a, b) => Math.abs(domainsOf(a.id).length - 500) - Math.abs(domainsOf(b.id).length - 500))[0]!;
  const scope = domainsOf(bezirk.id);
  console.error(`${bezirk.name} (${bezirk.id}): ${scope.length} domains; gateway latency ${latencyMs} ms`);

  // Holds the Regierungsbezirk's mail, asks for its release and gives the first approval; resolves
  // with the second approver's confirmation button, or null when the first approval executed it.
  async function prepareRelease(region: { id: string; name: string }) {
    await simPost(
      '/gateway/v1/changes',
      {
        selector: { verband: region.id },
        inbound: 'held',
        outbound: 'held',
        reason: 'Benchmark: Sperre',
        actor: 'bench',
      },
      { 'idempotency-key': `bench-hold-${region.id}-${Date.now()}` },
    );
    const created = await say(`freigabe ${region.name} beides ${JUSTIFICATION}`, users.operator);
    const ref = buttonRefOf(adaptiveCardOf(created));
    if (!ref) throw new Error(`no request: ${describeReply(created)}`);
    await click('request.confirm', { ...ref, justification: JUSTIFICATION }, users.approver1);
    const view = await click('request.view', { ...ref }, users.approver2);
    return buttonRefOf(view);
  }

  type Memory = { rss: number; heapUsed: number; liveHeap: number | null; spaces: Record<string, number> };
  const warmUps: Array<{ bezirk: string; domains: number; liveHeapAfter: number | null; rssAfterGc: number }> = [];
  const others = bezirke.filter((b) => b.id !== bezirk.id).slice(0, values.cold ? 0 : Number(values['warm-ups']));
  for (const other of others) {
    const second = await prepareRelease(other);
    if (second) await click('request.confirm', { ...second, justification: JUSTIFICATION }, users.approver2);
    await bot.request('idle', 120_000);
    const { liveHeap } = await bot.request<Memory>('memory');
    warmUps.push({
      bezirk: other.id,
      domains: domainsOf(other.id).length,
      liveHeapAfter: liveHeap,
      rssAfterGc: rssOf(),
    });
    console.error(
      `warm-up: ${other.name} (${domainsOf(other.id).length} domains) released; live heap ${((liveHeap ?? 0) / 1e6).toFixed(1)} MB, RSS ${(rssOf() / 1e6).toFixed(0)} MB`,
    );
  }

  const second = await prepareRelease(bezirk);
  if (!second) throw new Error(`${bezirk.name}: no second approval offered`);

  await simPost('/sim/v1/faults', { target: 'gateway', mode: 'latency', ms: latencyMs, rate: 1 });
  await sim.request('drain-changes');
  await bot.request('reset-stats');
  const rssBefore = rssOf();
  const memoryBefore = await bot.request<Memory>('memory');
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssOf());
  }, 100);

  const updatesBefore = updates.length;
  const clickAt = wallNow();
  const answer = await click('request.confirm', { ...second, justification: JUSTIFICATION }, users.approver2);
  const invokeMs = wallNow() - clickAt;
  const applied: GatewayApplication[] = [];
  const done = new Set<string>();
  const deadline = Date.now() + 600_000;
  while (done.size < scope.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    for (const a of await sim.request<GatewayApplication[]>('drain-changes')) {
      applied.push(a);
      if (a.changed) done.add(a.domain);
    }
  }
  const lastAppliedAt = Math.max(...applied.filter((a) => a.changed).map((a) => a.at));
  await bot.request('idle', 120_000);
  for (let i = 0; i < 100 && updates.at(-1)?.state !== STATE_EXECUTED; i++)
    await new Promise((r) => setTimeout(r, 100));
  clearInterval(sampler);
  const rssAfter = rssOf();
  const memoryAfter = await bot.request<Memory>('memory');
  const rssAfterGc = rssOf();

  const stats = await bot.request<{
    changeCalls: Array<[string, number, number, number]>;
    sqlite: Record<string, { calls: number; totalMs: number; maxMs: number }>;
    eventLoopDelayMs: { p50: number; p99: number; max: number };
  }>('stats');
  // Gateway calls in flight at once, from the bot's own start times and durations.
  const edges = stats.changeCalls.flatMap(([, start, ms]) => [
    [start, 1],
    [start + ms, -1],
  ]) as Array<[number, number]>;
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let inFlight = 0;
  let maxInFlight = 0;
  for (const [, d] of edges) {
    inFlight += d;
    maxInFlight = Math.max(maxInFlight, inFlight);
  }

  const targetMs = (1.3 * scope.length * latencyMs) / concurrency;
  // Where the time between click and last change went: until the first call, the calls themselves
  // (latency plus the simulator's and the loaded machine's share), and the executor between calls.
  const callMs = stats.changeCalls.map(([, , ms]) => ms).sort((a, b) => a - b);
  const firstCallAt = Math.min(...stats.changeCalls.map(([, start]) => start));
  const gatewayCallMs = {
    mean: callMs.reduce((n, x) => n + x, 0) / Math.max(1, callMs.length),
    p50: callMs[Math.floor(callMs.length * 0.5)] ?? 0,
    p95: callMs[Math.floor(callMs.length * 0.95)] ?? 0,
  };
  const clickToAllMs = lastAppliedAt - clickAt;
  const cardUpdates = updates.slice(updatesBefore);
  const result = {
    bezirk: bezirk.id,
    name: bezirk.name,
    domains: scope.length,
    applied: done.size,
    duplicateChanges: applied.filter((a) => a.changed).length - done.size,
    latencyMs,
    invokeMs,
    invokeState: stateLineOf(answer),
    clickToAllAppliedMs: clickToAllMs,
    executorConcurrency: concurrency,
    maxGatewayCallsInFlight: maxInFlight,
    gatewayCalls: stats.changeCalls.length,
    clickToFirstCallMs: firstCallAt - clickAt,
    gatewayCallMs,
    // The least the calls could take at this concurrency with the calls as slow as they were.
    callBoundMs: (scope.length * gatewayCallMs.mean) / concurrency,
    targetMs,
    cardUpdates: cardUpdates.length,
    finalCardState: cardUpdates.at(-1)?.state ?? null,
    nodeFlags,
    warmUps,
    // after: when the card said "ausgeführt"; afterGc: right after the full GC of the live-heap reading.
    rssBytes: { before: rssBefore, peak: rssPeak, after: rssAfter, afterGc: rssAfterGc },
    // The live heap after a full GC, before the click and after the card said "ausgeführt".
    liveHeapBytes: { before: memoryBefore.liveHeap, after: memoryAfter.liveHeap },
    heapSpacesBytes: { before: memoryBefore.spaces, after: memoryAfter.spaces },
    // Where the bot's time went: SQLite per statement (better-sqlite3 blocks the event loop), loop delay.
    sqliteMs: Object.values(stats.sqlite).reduce((n, x) => n + x.totalMs, 0),
    sqliteTop: Object.entries(stats.sqlite)
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .slice(0, 5)
      .map(([sql, x]) => ({ sql: sql.slice(0, 120), ...x })),
    eventLoopDelayMs: stats.eventLoopDelayMs,
    loadAverage: { before: loadBefore, after: loadavg()[0]!, cpus: cpus().length },
  };
  console.log(
    formatTable(
      [
        'scope',
        'domains',
        'applied',
        'latency',
        'invoke ms',
        'click → all applied',
        'target',
        'in flight max',
        'card updates',
        'RSS MB before / peak / after',
      ],
      [
        [
          `${bezirk.name}`,
          scope.length,
          done.size,
          `${latencyMs} ms`,
          invokeMs.toFixed(0),
          `${(clickToAllMs / 1000).toFixed(2)} s`,
          `${(targetMs / 1000).toFixed(2)} s ${clickToAllMs <= targetMs ? 'met' : 'MISSED'}`,
          maxInFlight,
          cardUpdates.length,
          [rssBefore, rssPeak, rssAfter].map((b) => (b / 1e6).toFixed(0)).join(' / '),
        ],
      ],
    ),
  );
  console.log(
    `gateway calls: mean ${gatewayCallMs.mean.toFixed(0)} ms, p50 ${gatewayCallMs.p50.toFixed(0)} ms, p95 ${gatewayCallMs.p95.toFixed(0)} ms (${latencyMs} ms of it injected); first call ${result.clickToFirstCallMs.toFixed(0)} ms after the click; ${scope.length} × mean / ${concurrency} = ${(result.callBoundMs / 1000).toFixed(2)} s`,
  );
  const mb = (b: number | null) => (b === null ? '–' : (b / 1e6).toFixed(1));
  console.log(
    `live heap after a full GC: ${mb(memoryBefore.liveHeap)} MB before, ${mb(memoryAfter.liveHeap)} MB after; RSS after that GC ${mb(rssAfterGc)} MB; node flags: ${nodeFlags.join(' ')}`,
  );
  console.log(
    `SQLite: ${(result.sqliteMs / 1000).toFixed(1)} s of the bot's event loop; event-loop delay p99 ${stats.eventLoopDelayMs.p99.toFixed(0)} ms, max ${stats.eventLoopDelayMs.max.toFixed(0)} ms`,
  );
  console.log(
    `executor gateway concurrency: ${concurrency} (observed at most ${maxInFlight} in flight); load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
  );
  console.log(`JSON: ${await writeJsonResult(values.out!, 'release-bezirk', result)}`);
} finally {
  await bot.stop();
  await connector.close();
  await sim.stop();
}
