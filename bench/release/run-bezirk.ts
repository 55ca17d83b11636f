import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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
//   npx tsx bench/release/run-bezirk.ts [--latency-ms 100] [--concurrency 16] [--devices 30000]
//                                       [--bezirk ags:171] [--out bench/results/release-bezirk.json]
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
const bot = await forkTsChild<{ url: string; pid: number }>(join(here, 'bot-process.ts'), {
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

  await simPost(
    '/gateway/v1/changes',
    {
      selector: { verband: bezirk.id },
      inbound: 'held',
      outbound: 'held',
      reason: 'Benchmark: Sperre',
      actor: 'bench',
    },
    { 'idempotency-key': `bench-hold-${Date.now()}` },
  );

  const created = await say(`freigabe ${bezirk.name} beides ${JUSTIFICATION}`, users.operator);
  const ref = buttonRefOf(adaptiveCardOf(created));
  if (!ref) throw new Error(`no request: ${describeReply(created)}`);
  const first = await click('request.confirm', { ...ref, justification: JUSTIFICATION }, users.approver1);
  const view = await click('request.view', { ...ref }, users.approver2);
  const second = buttonRefOf(view);
  if (!second) throw new Error(`no second approval offered: ${JSON.stringify(first).slice(0, 300)}`);

  await simPost('/sim/v1/faults', { target: 'gateway', mode: 'latency', ms: latencyMs, rate: 1 });
  await sim.request('drain-changes');
  await bot.request('reset-stats');
  const rssBefore = rssOf();
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
    targetMs,
    cardUpdates: cardUpdates.length,
    finalCardState: cardUpdates.at(-1)?.state ?? null,
    rssBytes: { before: rssBefore, peak: rssPeak, after: rssAfter },
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
