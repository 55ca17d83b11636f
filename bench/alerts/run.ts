import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TurnContext } from 'botbuilder';
import { GatewayHttpClient } from '../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../src/adapters/inventory-http-client.ts';
import { createSendQueue, defaultTenantCeilingPerSecond, defaultTenantLimit } from '../../src/adapters/send-queue.ts';
import { createStore } from '../../src/adapters/store/create-store.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/domain/logger.ts';
import type { ProactiveSender } from '../../src/domain/ports.ts';
import { buildRegionIndex, type RegionIndex } from '../../src/domain/region-index.ts';
import type { SpikeAlert } from '../../src/domain/spike-detector.ts';
import { type TokenBucketSpec, teamsTenantLimit } from '../../src/domain/token-bucket.ts';
import { createAlertDelivery } from '../../src/services/deliver-alerts.ts';
import { createSpamWatcher, type SpamWatcher } from '../../src/services/watch-spam.ts';
import { createBotAdapter } from '../../src/teams/create-bot-adapter.ts';
import { LocalConnector } from '../../src/teams/local-connector.ts';
import { TeamsNotifier } from '../../src/teams/teams-notifier.ts';
import { buildAlertCard } from '../../src/teams/views/alert-card.ts';
import { collectGarbage } from '../lib/collect-garbage.ts';
import { forkTsChild, type TsChild } from '../lib/fork-ts-child.ts';
import { formatMs, formatTable } from '../lib/format-table.ts';
import { maxInWindow } from '../lib/max-in-window.ts';
import { type LatencySummary, summarizeLatencies } from '../lib/percentile.ts';
import { startCpuProfile } from '../lib/start-cpu-profile.ts';
import { type CpuProfileSummary, summarizeCpuProfile } from '../lib/summarize-cpu-profile.ts';
import { type GcSummary, watchGc } from '../lib/watch-gc.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';

// How fast the spam alerts are (docs/decisions/performance-targets.md).
//   1. detection delay on the simulator: buckets from the first spiking minute to the alert;
//      and false alarms over a quiet simulated day;
//   2. time to deliver one alert to 500 conversations: the real alert delivery, send queue,
//      TeamsNotifier and botbuilder against a fake Bot Connector that enforces Teams' ceilings
//      (per conversation 7 in any second, per tenant 30 in any second) by answering 429;
//   3. the watcher's CPU time per poll (process.cpuUsage of this process; the simulator runs in its
//      own) for the default estate (64 domains) and 10,000 simulated domains, in steady state: after a
//      warm-up whose garbage is collected before the polls (its CPU counts as the warm-up's) and after
//      the first regular polls (reported on their own), with the collections during the polls beside it.
//
//   npx tsx bench/alerts/run.ts [--quick] [--parts detection,delivery,polls] [--out bench/results/alerts.json]
//   npx tsx bench/alerts/run.ts --estate land [--parts delivery,polls] [--cpu-prof]
//
// --estate land: the simulator's state-wide scenario (SIM_SCENARIO=land): the polls at its 2,500
// domains and at 10,000 (7,500 synthetic ones added), and one alert to 2,000 conversations. The
// detection delays stay on Südwestfalen's Kreise (their spikes are the calibrated ones).
//
// --cpu-prof: a CPU profile of the measured polls (not the warm-up) per estate size, written beside the
// JSON under profiles/ and summarised in it; the profiler costs CPU, so those runs' numbers are not the
// reference ones.
//
// Prints a table and writes JSON; exits 0 even when a target is missed (it is printed as MISSED).

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    parts: { type: 'string', default: 'detection,delivery,polls' },
    out: { type: 'string', default: 'bench/results/alerts.json' },
    estate: { type: 'string', default: 'suedwestfalen' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
if (args.estate !== 'suedwestfalen' && args.estate !== 'land') {
  console.error(`--estate expects suedwestfalen or land, got ${args.estate}`);
  process.exit(2);
}
const land = args.estate === 'land';
const quick = args.quick === true;
const parts = new Set(String(args.parts).split(','));
const cpuProf = args['cpu-prof'] === true;

// "Teams: per conversation 7 msg/s, per tenant 30 req/s" (docs/decisions/spam-alerts.md); the target: 1.2 × 500/30 s.
const CONVERSATIONS = land ? 2_000 : 500;
const TENANT_PER_SECOND = 30;
const CONVERSATION_PER_SECOND = 7;
const DELIVERY_TARGET_S = (1.2 * CONVERSATIONS) / TENANT_PER_SECOND;

interface SimChild extends TsChild<{ url: string; domains: number }> {}

async function startSim(extraDomains: number, scenario = 'feb-2024'): Promise<SimChild> {
  return forkTsChild(join(here, 'sim-process.ts'), { args: [String(extraDomains), '42', '400', scenario] });
}

async function simPost(sim: SimChild, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${sim.ready.url}/sim/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST /sim/v1/${path}: ${res.status} ${await res.text()}`);
}

async function simNow(sim: SimChild): Promise<number> {
  const res = await fetch(`${sim.ready.url}/sim/v1/clock`);
  return Date.parse(((await res.json()) as { now: string }).now);
}

const nullSender: ProactiveSender = {
  send: async () => ({ activityId: 'x' }),
  update: async () => {},
};

interface WatcherRig {
  watcher: SpamWatcher;
  clock: { ms: number };
  store: Awaited<ReturnType<typeof createStore>>;
  close(): Promise<void>;
}

// A watcher against the simulator's HTTP APIs, on the simulator's clock (mirrored locally: the
// bench advances both together, so reading the clock costs no request).
async function watcherRig(sim: SimChild, backfillMinutes: number): Promise<WatcherRig> {
  const clock = { ms: await simNow(sim) };
  const now = () => new Date(clock.ms);
  const store = await createStore({ dataDir: ':memory:' });
  const gateway = new GatewayHttpClient({
    baseUrl: `${sim.ready.url}/gateway/v1`,
    timeoutMs: 60_000,
    logger: silentLogger,
  });
  const inventory = new InventoryHttpClient({
    baseUrl: `${sim.ready.url}/inventory/v1`,
    timeoutMs: 60_000,
    logger: silentLogger,
  });
  const regions = await inventory.listRegions();
  const index: RegionIndex = buildRegionIndex(regions.items, regions.levels);
  const delivery = createAlertDelivery({
    store,
    sender: createSendQueue({ sender: nullSender }),
    render: buildAlertCard,
    now,
    logger: silentLogger,
  });
  const watcher = createSpamWatcher({
    store,
    gateway,
    regions: async () => index,
    delivery,
    now,
    intervalMs: 60_000,
    holder: 'bench',
    logger: silentLogger,
    backfillMinutes,
  });
  return {
    watcher,
    clock,
    store,
    async close() {
      await watcher.stop();
      await delivery.drain(10_000);
      await store.close();
    },
  };
}

async function advance(sim: SimChild, rig: WatcherRig, minutes: number): Promise<void> {
  await simPost(sim, 'clock', { advanceMinutes: minutes });
  rig.clock.ms += minutes * 60_000;
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

// ---------------------------------------------------------------------------------------------
// 1. Detection delay

interface DelayScenario {
  name: string;
  spam: { region?: string; domain?: string; factor: number; minutes: number };
  // The alert that counts: its scope.
  scope: string;
}
interface DelayResult extends DelayScenario {
  buckets: number | null;
  alertScope: string | null;
}

async function measureDetection(sim: SimChild) {
  const backfillMinutes = quick ? 24 * 60 : 3 * 24 * 60;
  const rig = await watcherRig(sim, backfillMinutes);
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await rig.watcher.pollOnce();
    const warmUp = { minutes: backfillMinutes, wallMs: performance.now() - started, cpuMs: cpuMs(cpu) };

    const scenarios: DelayScenario[] = [
      { name: 'Kreis Olpe ×10 (8 domains)', spam: { region: 'kr-olpe', factor: 10, minutes: 30 }, scope: 'kr-olpe' },
      { name: 'Kreis Soest ×5 (15 domains)', spam: { region: 'kr-soest', factor: 5, minutes: 30 }, scope: 'kr-soest' },
      { name: 'Hochsauerlandkreis ×4', spam: { region: 'kr-hsk', factor: 4, minutes: 30 }, scope: 'kr-hsk' },
      {
        name: 'lippstadt.de ×10 (one domain)',
        spam: { domain: 'lippstadt.de', factor: 10, minutes: 30 },
        scope: 'lippstadt.de',
      },
      {
        name: 'arnsberg.de ×6 (one domain)',
        spam: { domain: 'arnsberg.de', factor: 6, minutes: 30 },
        scope: 'arnsberg.de',
      },
    ];
    const delays: DelayResult[] = [];
    for (const s of scenarios) {
      await simPost(sim, 'spam', s.spam);
      let found: DelayResult = { ...s, buckets: null, alertScope: null };
      for (let k = 1; k <= 15; k++) {
        await advance(sim, rig, 1);
        const r = await rig.watcher.pollOnce();
        const event = r.events.find((e) => e.type === 'opened');
        if (event) {
          found = { ...s, buckets: k, alertScope: event.alert.scope.id };
          break;
        }
      }
      delays.push(found);
      // Let it end and the cooldown pass before the next one.
      for (let m = 0; m < 75; m += 5) {
        await advance(sim, rig, 5);
        await rig.watcher.pollOnce();
      }
    }

    // A quiet simulated day polled every five minutes: every alert is a false alarm.
    let falseAlarms = 0;
    const quietHours = quick ? 6 : 24;
    for (let m = 0; m < quietHours * 60; m += 5) {
      await advance(sim, rig, 5);
      falseAlarms += (await rig.watcher.pollOnce()).events.filter((e) => e.type === 'opened').length;
    }
    return { warmUp, delays, quiet: { hours: quietHours, falseAlarms } };
  } finally {
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Delivery to 500 conversations

interface DeliveryRun {
  tenantLimit: TokenBucketSpec;
  label: string;
  seconds: number;
  delivered: number;
  refused429: number;
  maxTenantPerSecond: number;
  maxConversationPerSecond: number;
}

async function measureDelivery(label: string, tenantLimit: TokenBucketSpec): Promise<DeliveryRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-bench-alerts-'));
  const connector = await new LocalConnector().start();
  const store = await createStore({ dataDir });
  try {
    // The fake Bot Connector with Teams' ceilings: over them, 429 with Retry-After.
    const accepted: number[] = [];
    const perConversation = new Map<string, number[]>();
    let refused = 0;
    connector.responder = (call) => {
      if (call.method !== 'POST') return null;
      const t = Date.now();
      const recent = (list: number[]) => list.filter((x) => t - x < 1000).length;
      const mine = perConversation.get(call.conversationId) ?? [];
      if (recent(accepted) >= TENANT_PER_SECOND || recent(mine) >= CONVERSATION_PER_SECOND) {
        refused++;
        return { status: 429, headers: { 'Retry-After': '1' } };
      }
      accepted.push(t);
      mine.push(t);
      perConversation.set(call.conversationId, mine);
      return null;
    };

    const now = () => new Date();
    const at = now().toISOString();
    for (let i = 0; i < CONVERSATIONS; i++) {
      const conversationId = `19:bench-${i}@thread.tacv2`;
      const activity = {
        type: 'message',
        id: `m-${i}`,
        channelId: 'msteams',
        serviceUrl: connector.url,
        from: { id: '29:user' },
        recipient: { id: '28:lagebot', name: 'Lagebot' },
        conversation: { id: conversationId, conversationType: 'channel', tenantId: 't' },
      };
      await store.upsertConversation({
        conversationId,
        tenantId: 't',
        serviceUrl: connector.url,
        kind: 'channel',
        reference: TurnContext.getConversationReference(activity as never),
        updatedAt: at,
      });
      // The alert's own group: in its audience whatever the region list (the bench passes an empty one,
      // so a subscription to a region above the group would not reach it).
      await store.subscribe(conversationId, 'kr-olpe', at);
    }
    const adapter = createBotAdapter(loadConfig({ LOG_LEVEL: 'silent' }));
    const queue = createSendQueue({ sender: new TeamsNotifier(adapter, undefined, store, []), tenantLimit });
    const delivery = createAlertDelivery({ store, sender: queue, render: buildAlertCard, now, logger: silentLogger });
    const sim = createSpikeAlert();
    const index = buildRegionIndex([]);

    const started = performance.now();
    const stored = await delivery.recordEvent({ type: 'opened', alert: sim }, { index, domains: new Map() });
    await delivery.fanOut(stored);
    await delivery.drain(120_000);
    const seconds = (performance.now() - started) / 1000;
    const delivered = (await store.listDeliveries({ status: 'sent' })).length;
    return {
      tenantLimit,
      label,
      seconds,
      delivered,
      refused429: refused,
      maxTenantPerSecond: maxInWindow(accepted, 1000),
      maxConversationPerSecond: Math.max(...[...perConversation.values()].map((l) => maxInWindow(l, 1000))),
    };
  } finally {
    await store.close();
    await connector.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function createSpikeAlert(): SpikeAlert {
  const start = Date.UTC(2024, 1, 15, 17, 0);
  return {
    id: `spike:group:kr-olpe:${new Date(start).toISOString()}`,
    scope: { kind: 'group', id: 'kr-olpe' },
    group: 'kr-olpe',
    domains: ['attendorn.de', 'olpe.de', 'wenden.de'],
    startedAt: new Date(start).toISOString(),
    endedAt: null,
    currentRate: 180,
    baselineRate: 20,
    factor: 9,
    peakFactor: 9.5,
    foldedInto: null,
    series: Array.from({ length: 120 }, (_, i) => ({
      at: new Date(start - (118 - i) * 60_000).toISOString(),
      value: i > 117 ? 180 : 20,
      baseline: 20,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Watcher CPU per poll

interface PollCost {
  domains: number;
  warmUp: { minutes: number; wallMs: number; cpuMs: number };
  cpuMs: LatencySummary;
  // Each poll's CPU time in order: the mean hides whether a few polls (a collection of the old
  // generation) or all of them carry the cost.
  cpuMsPerPoll: number[];
  firstPollsCpuMs: number[];
  // Collections while the polls ran (and between them, while the simulator's clock moved).
  gc: GcSummary;
  wallMs: LatencySummary;
  stateBytes: number;
  cpuProfile: { file: string; summary: CpuProfileSummary } | null;
}

const FIRST_POLLS = 5;
const polls = quick ? 10 : 30;

async function measurePolls(extraDomains: number, polls: number, scenario = 'feb-2024'): Promise<PollCost> {
  const sim = await startSim(extraDomains, scenario);
  try {
    const rig = await watcherRig(sim, 120);
    try {
      let cpu = process.cpuUsage();
      let started = performance.now();
      await rig.watcher.pollOnce();
      // The warm-up's garbage on its own account (bench/lib/collect-garbage.ts).
      collectGarbage();
      const warmUp = { minutes: 120, wallMs: performance.now() - started, cpuMs: cpuMs(cpu) };
      // The first regular polls after the warm-up run the per-domain path V8 has not compiled for one
      // bucket per domain yet (the warm-up fed it 120 at a time): they cost two to three times a later
      // poll. Measured, reported on their own, and not part of the steady state the target is about.
      const firstPollsCpuMs: number[] = [];
      for (let i = 0; i < FIRST_POLLS; i++) {
        await advance(sim, rig, 1);
        cpu = process.cpuUsage();
        await rig.watcher.pollOnce();
        firstPollsCpuMs.push(Math.round(cpuMs(cpu) * 10) / 10);
      }
      const cpuSamples: number[] = [];
      const wallSamples: number[] = [];
      let domains = 0;
      const profile = cpuProf ? await startCpuProfile() : null;
      const gcWatch = watchGc();
      for (let i = 0; i < polls; i++) {
        await advance(sim, rig, 1);
        cpu = process.cpuUsage();
        started = performance.now();
        const r = await rig.watcher.pollOnce();
        wallSamples.push(performance.now() - started);
        cpuSamples.push(cpuMs(cpu));
        domains = r.domains;
      }
      const gc = await gcWatch.stop();
      let cpuProfile: PollCost['cpuProfile'] = null;
      if (profile) {
        const file = join(dirname(args.out!), 'profiles', `alerts-polls-${domains}.cpuprofile`);
        mkdirSync(dirname(file), { recursive: true });
        await profile.stop(file);
        cpuProfile = { file, summary: summarizeCpuProfile(file, 20) };
      }
      // The head and every shard, as a successor reads them.
      const state = await rig.store.readSpamDetectorState();
      const shards = await rig.store.readSpamDetectorShards();
      const stateBytes =
        Buffer.byteLength(JSON.stringify(state?.data ?? null)) +
        shards.reduce((n, s) => n + Buffer.byteLength(s.data), 0);
      return {
        domains,
        warmUp,
        cpuMs: summarizeLatencies(cpuSamples)!,
        cpuMsPerPoll: cpuSamples.map((ms) => Math.round(ms * 10) / 10),
        firstPollsCpuMs,
        gc,
        wallMs: summarizeLatencies(wallSamples)!,
        stateBytes,
        cpuProfile,
      };
    } finally {
      await rig.close();
    }
  } finally {
    await sim.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let detection: Awaited<ReturnType<typeof measureDetection>> | null = null;
  if (parts.has('detection')) {
    console.log('1/3 detection delay on the simulator …');
    const sim = await startSim(0);
    try {
      detection = await measureDetection(sim);
    } finally {
      await sim.stop();
    }
  }

  const deliveries: DeliveryRun[] = [];
  if (parts.has('delivery')) {
    console.log(
      `2/3 one alert to ${CONVERSATIONS} conversations through the real queue (takes ~${Math.round((CONVERSATIONS / 30) * 2.7)} s) …`,
    );
    deliveries.push(await measureDelivery('teamsTenantLimit: burst 10 + 20/s', teamsTenantLimit));
    deliveries.push(
      await measureDelivery(
        `send queue default: ${defaultTenantLimit.capacity} + ${defaultTenantLimit.refillPerSecond}/s, ≤ ${defaultTenantCeilingPerSecond} in any s`,
        defaultTenantLimit,
      ),
    );
  }

  const costs: PollCost[] = [];
  if (parts.has('polls')) {
    console.log('3/3 watcher CPU per poll …');
    if (land) costs.push(await measurePolls(0, polls, 'land'), await measurePolls(10_000 - 2_500, polls, 'land'));
    else costs.push(await measurePolls(0, polls), await measurePolls(10_000 - 64, polls));
  }

  if (detection) {
    console.log('\nDetection delay (buckets = polled minutes from the first spiking minute to the alert)');
    console.log(
      formatTable(
        ['spike', 'first alert', { header: 'buckets', align: 'right' }],
        detection.delays.map((d) => [d.name, d.alertScope ?? 'none within 15 min', d.buckets ?? '—']),
      ),
    );
    console.log(
      `warm-up: ${detection.warmUp.minutes / 60} h of history for 64 domains in ${formatMs(detection.warmUp.wallMs, 0)} ms ` +
        `(CPU ${formatMs(detection.warmUp.cpuMs, 0)} ms); false alarms over ${detection.quiet.hours} quiet hours: ${detection.quiet.falseAlarms}`,
    );
  }

  if (deliveries.length > 0) {
    console.log(`\nOne alert to ${CONVERSATIONS} conversations (target ≤ ${DELIVERY_TARGET_S.toFixed(1)} s)`);
    console.log(
      formatTable(
        [
          'tenant bucket',
          { header: 'seconds', align: 'right' },
          { header: 'delivered', align: 'right' },
          { header: '429s', align: 'right' },
          { header: 'max/s tenant', align: 'right' },
          { header: 'max/s conv', align: 'right' },
          'target',
        ],
        deliveries.map((d) => [
          d.label,
          d.seconds.toFixed(1),
          d.delivered,
          d.refused429,
          d.maxTenantPerSecond,
          d.maxConversationPerSecond,
          d.seconds <= DELIVERY_TARGET_S ? 'met' : 'MISSED',
        ]),
      ),
    );
  }

  if (costs.length > 0) {
    console.log(
      `\nWatcher cost per poll (one simulated minute each, no spike; ${polls} polls after the first ${FIRST_POLLS})`,
    );
    console.log(
      formatTable(
        [
          { header: 'domains', align: 'right' },
          { header: 'CPU mean ms', align: 'right' },
          { header: 'CPU p95 ms', align: 'right' },
          { header: 'GC ms/poll (scavenge / full)', align: 'right' },
          { header: 'wall mean ms', align: 'right' },
          { header: 'wall p95 ms', align: 'right' },
          { header: 'state MB', align: 'right' },
          { header: 'warm-up 2 h ms', align: 'right' },
          { header: `first ${FIRST_POLLS} polls CPU ms`, align: 'left' },
        ],
        costs.map((c) => [
          c.domains,
          formatMs(c.cpuMs.mean),
          formatMs(c.cpuMs.p95),
          `${formatMs(c.gc.minor.ms / c.cpuMs.n)} / ${formatMs(c.gc.major.ms / c.cpuMs.n)}`,
          formatMs(c.wallMs.mean),
          formatMs(c.wallMs.p95),
          (c.stateBytes / 1e6).toFixed(2),
          formatMs(c.warmUp.wallMs, 0),
          c.firstPollsCpuMs.map((ms) => ms.toFixed(0)).join(' '),
        ]),
      ),
    );
  }

  for (const c of costs) {
    if (!c.cpuProfile) continue;
    const { file, summary } = c.cpuProfile;
    console.log(`\nCPU profile of the polls at ${c.domains} domains (${file}), self time:`);
    console.log(
      formatTable(
        ['function', { header: 'ms', align: 'right' }, { header: 'share', align: 'right' }],
        summary.topFunctions.map((f) => [f.name, formatMs(f.selfMs, 0), `${(f.share * 100).toFixed(1)} %`]),
      ),
    );
  }
  if (cpuProf) console.log("Note: CPU profiling was on; these polls' times are not the reference numbers.");

  const path = await writeJsonResult(args.out!, 'alerts', {
    quick,
    estate: args.estate,
    detection,
    delivery: { conversations: CONVERSATIONS, targetSeconds: DELIVERY_TARGET_S, runs: deliveries },
    polls: costs,
  });
  console.log(`\nJSON: ${path}`);
}

await main();
