import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createStore } from '../../src/adapters/store/create-store.ts';
import type { ReleaseRequest } from '../../src/domain/release-request.ts';
import type { Store } from '../../src/domain/store-port.ts';
import { SPAM_WATCHER_LEASE, spamWatcherLeaseTtlMs } from '../../src/services/watch-spam.ts';
import { mulberry32 } from '../../src/sim/prng.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { collectText, LocalConnector } from '../../src/teams/local-connector.ts';
import { type ConversationSpec, channel, invoke, message, type TestUser, users } from '../../test/fakes/activities.ts';
import { clearSimFaults, type SimFault, setSimFault } from '../../test/fakes/set-sim-fault.ts';
import { type BotChild, spawnReplicaChild } from '../../test/fakes/spawn-bot-child.ts';
import { advanceToMondayAfternoon, writeTestRoles } from '../../test/helpers/release-helpers.ts';
import type { TestBot } from '../../test/helpers/start-test-bot.ts';
import { waitUntil } from '../../test/helpers/wait-until.ts';
import { type AlertAnomalies, type AlertPost, countAlertAnomalies } from './count-alert-anomalies.ts';
import { type Anomalies, countAnomalies, type DecisionView, type StoredRequestView } from './count-anomalies.ts';

// One chaos round: a simulator and a fake Bot Connector in this process, the bot in `replicas` child
// processes on one store (a SQLite DATA_DIR for one replica, a fresh PostgreSQL database for any
// number). Every activity goes to a replica picked at random, as the Bot Service spreads them.
// Workers ask for releases and blocks and decide them (sometimes two approvers at once, sometimes a
// double click) while the gateway misbehaves (errors, lost answers, no answers, slowness, refusals)
// and a replica is SIGKILLed and started again — the first kill hits the spam watcher's leaseholder,
// and the time until another replica polls is measured. Two channels subscribe to spam alerts; a
// spam wave hits a random Kreis during the run. Then the faults are cleared, a replica is killed and
// restarted one last time (what it left must be finished), and once nothing is executing and every
// alert is delivered the store, the gateway's audit and the alert cards received are compared.
//
// The replicas run their spam watchers on the simulator's clock (test/helpers/replica-child.ts): it
// stands still while the first leader warms the detector up and then runs at `simSpeed`, so the
// lease's TTL (30 s of watcher time) is 30 s / simSpeed of real time.

export interface RoundOptions {
  seed: number;
  workers: number;
  chaosMs: number;
  /** How long the restarted bot gets to finish every execution before the rest counts as stuck. */
  settleMs: number;
  kills: number;
  devices: number;
  replicas: number;
  store: 'sqlite' | 'postgres';
  /** PostgreSQL server for store 'postgres': each round creates a database on it and drops it after. */
  databaseUrl: string;
  /** Simulated minutes per real minute during the round (the spam watchers' clock). */
  simSpeed: number;
  log: (line: string) => void;
}

export interface TakeoverResult {
  victim: string;
  /** The replica that polled next, null if none did within 4 × TTL. */
  by: string | null;
  realMs: number | null;
  /** The same in the watcher's clock (realMs × simSpeed), to compare with the lease's TTL. */
  watcherMs: number | null;
}

export interface RoundResult {
  seed: number;
  durationMs: number;
  settleMs: number | null;
  posts: { ok: number; failed: number };
  flows: Record<string, number>;
  faults: Record<string, number>;
  kills: number;
  replicas: number;
  store: 'sqlite' | 'postgres';
  requests: { created: number; acknowledged: number; byState: Record<string, number> };
  anomalies: Anomalies;
  alertAnomalies: AlertAnomalies;
  alerts: {
    waves: string[];
    opened: number;
    cardsPosted: number;
    watcherWarmUpMs: number;
    /** Every alert card posted, ms after the round started, next to the kills. */
    posts: Array<AlertPost & { atMs: number }>;
    kills: Array<{ victim: string; atMs: number; heldLease: boolean }>;
  };
  /** Kills of the spam watcher's leaseholder and who took over how fast; leaseTtlMs in the watcher's clock. */
  takeovers: TakeoverResult[];
  leaseTtlMs: number;
  counts: {
    lost: number;
    duplicated: number;
    stuck: number;
    misrecorded: number;
    lostDecisions: number;
    refusedAfterApplied: number;
    changedWithoutDecision: number;
    alertsTwice: number;
    alertsMissing: number;
  };
  auditChain: { ok: boolean; count: number };
}

const WATCH_INTERVAL_SECONDS = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaosRound(o: RoundOptions): Promise<RoundResult> {
  const started = Date.now();
  const rng = mulberry32(o.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

  if (o.store === 'sqlite' && o.replicas > 1) throw new Error('several replicas need --store postgres');
  const sim = await startSimServer({ port: 0, speed: 0, seed: o.seed, devices: o.devices });
  await advanceToMondayAfternoon({ simUrl: sim.url } as TestBot);
  const connector = await new LocalConnector().start();
  // Index replies by the activity they answer, note every alert card posted; drop the captured calls
  // so a long round stays small.
  const replies = new Map<string, Record<string, unknown>>();
  const alertPosts: Array<AlertPost & { at: number }> = [];
  connector.responder = (call) => {
    if (call.method === 'POST' && call.activity.type === 'message' && typeof call.activity.replyToId === 'string') {
      replies.set(call.activity.replyToId, call.activity);
    }
    if (call.method === 'POST') {
      const attachments = (call.activity.attachments as Array<{ content?: Record<string, unknown> }>) ?? [];
      const actions = (attachments[0]?.content?.actions as Array<{ verb?: string; data?: { alertId?: string } }>) ?? [];
      const ack = actions.find((a) => a.verb === 'alert.ack' && typeof a.data?.alertId === 'string');
      if (ack) alertPosts.push({ alertId: ack.data!.alertId!, conversationId: call.conversationId, at: Date.now() });
    }
    connector.calls.length = 0;
    return null;
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-chaos-'));
  const dbName = `lagebot_chaos_${process.pid}_${o.seed}_${Date.now().toString(36)}`;
  let dbUrl: string | null = null;
  if (o.store === 'postgres') {
    const admin = new pg.Client({ connectionString: o.databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(o.databaseUrl);
    url.pathname = `/${dbName}`;
    dbUrl = url.toString();
  }
  const env = {
    ...(dbUrl ? { DATABASE_URL: dbUrl } : { DATA_DIR: dataDir }),
    ROLES_FILE: writeTestRoles(),
    UPSTREAM_TIMEOUT_MS: '1000',
    SPAM_WATCH_INTERVAL_SECONDS: String(WATCH_INTERVAL_SECONDS),
  };
  const leaseTtlMs = spamWatcherLeaseTtlMs(WATCH_INTERVAL_SECONDS * 1000);
  // Restarts keep their claims: the same replica id, as a restarted pod with the same name has.
  const ids = Array.from({ length: o.replicas }, (_, i) => `chaos-${i + 1}`);
  const spawn = (id: string) => spawnReplicaChild(sim.url, { ...env, REPLICA_ID: id });
  const simControl = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}/sim/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST /sim/v1/${path}: ${res.status} ${await res.text()}`);
  };

  const domains = (await (await fetch(`${sim.url}/gateway/v1/domains`)).json()) as {
    items: Array<{ domain: string; kreis: string; verband: string }>;
  };
  const nordDomains = domains.items.filter((d) => d.verband === 'vb-nord').map((d) => d.domain);
  const allDomains = domains.items.map((d) => d.domain);
  const nordScopes = ['Kreis Soest', 'Hochsauerlandkreis', 'Märkischer Kreis'];
  const suedScopes = ['Kreis Olpe', 'Kreis Siegen-Wittgenstein'];
  const directions = ['eingehend', 'ausgehend', 'beides'];

  const bots = new Map<string, BotChild | null>();
  for (const [i, child] of (await Promise.all(ids.map(spawn))).entries()) bots.set(ids[i]!, child);
  const store: Store = await createStore(dbUrl ? { databaseUrl: dbUrl } : { dataDir });
  const alive = () => [...bots.values()].filter((b): b is BotChild => b?.isAlive() === true);
  let kills = 0;
  const posts = { ok: 0, failed: 0 };
  const flows: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const created = new Set<string>();
  const acknowledged = new Set<string>();

  async function postTo(activity: Record<string, unknown>): Promise<unknown | null> {
    // Whichever replica the Bot Service would pick; one being restarted gets nothing.
    const up = alive();
    const url = up.length > 0 ? pick(up).url : null;
    if (!url) {
      posts.failed++;
      return null;
    }
    try {
      const res = await fetch(`${url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(activity),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      if (res.status !== 200) {
        posts.failed++;
        return null;
      }
      posts.ok++;
      return text ? JSON.parse(text) : {};
    } catch {
      posts.failed++; // the bot was killed under us, or it is starting
      return null;
    }
  }

  /** A chat message; the card of the reply, or null. */
  async function say(
    text: string,
    user: TestUser,
    conversation?: ConversationSpec,
  ): Promise<Record<string, unknown> | null> {
    const activity = message(text, { serviceUrl: connector.url, user, ...(conversation ? { conversation } : {}) });
    if ((await postTo(activity)) === null) return null;
    const reply = replies.get(activity.id);
    replies.delete(activity.id);
    const attachments = (reply?.attachments as Array<{ content?: Record<string, unknown> }> | undefined) ?? [];
    return attachments[0]?.content ?? null;
  }

  /** A card button; the card Teams would show the clicker, or null. */
  async function click(verb: string, data: Record<string, unknown>, user: TestUser) {
    const body = (await postTo(invoke(verb, data, { serviceUrl: connector.url, user }))) as {
      value?: Record<string, unknown>;
    } | null;
    return body?.value ?? null;
  }

  const textOf = (card: Record<string, unknown> | null) => {
    const parts: string[] = [];
    collectText(card, parts);
    return parts.join('\n');
  };
  const refOf = (card: Record<string, unknown> | null, verb?: string) => {
    const actions = (card?.actions as Array<{ verb?: string; data?: { requestId?: string; version?: number } }>) ?? [];
    const a = actions.find((x) => x.data?.requestId && (!verb || x.verb === verb));
    return a?.data?.requestId && typeof a.data.version === 'number'
      ? { requestId: a.data.requestId, version: a.data.version }
      : null;
  };
  const accepted = (card: Record<string, unknown> | null) =>
    /wird ausgeführt|ausgeführt|teilweise fehlgeschlagen/.test(textOf(card)) &&
    !/bereits entschieden|jemand anderes|Rolle|nicht erreichbar|schiefgegangen/.test(textOf(card));
  const decide = async (verb: string, data: Record<string, unknown>, user: TestUser) => {
    const card = await click(verb, data, user);
    if (accepted(card)) acknowledged.add(String(data.requestId));
    return card;
  };

  async function create(text: string): Promise<{ requestId: string; version: number } | null> {
    const card = await say(text, users.operator);
    const ref = refOf(card);
    if (ref) created.add(ref.requestId);
    return ref;
  }

  const flowsByName: Record<string, () => Promise<void>> = {
    async release() {
      const scope = rng() < 0.5 ? pick(nordScopes) : pick(nordDomains);
      const ref = await create(`freigabe ${scope} ${pick(directions)} Chaos ${randomUUID().slice(0, 6)}`);
      if (!ref) return;
      const r = rng();
      if (r < 0.6) await decide('request.confirm', ref, pick([users.approver1, users.approver2]));
      else if (r < 0.8) {
        // Two approvers at the same moment: one decision, one "bereits entschieden".
        await Promise.all([
          decide('request.confirm', ref, users.approver1),
          decide('request.confirm', ref, users.approver2),
        ]);
      } else if (r < 0.95) {
        // A double click.
        const who = pick([users.approver1, users.approver2]);
        await Promise.all([decide('request.confirm', ref, who), decide('request.confirm', ref, who)]);
      } // else: left pending
    },
    async releaseBelowPolicy() {
      const ref = await create(`freigabe ${pick(suedScopes)} eingehend Chaos ${randomUUID().slice(0, 6)}`);
      if (!ref) return;
      const justification = 'Lagebesprechung: Restrisiko akzeptiert (Chaos-Test)';
      await decide('request.confirm', { ...ref, justification }, users.approver1);
      const view = await click('request.view', ref, users.approver2);
      const current = refOf(view, 'request.confirm');
      if (current) await decide('request.confirm', { ...current, justification }, users.approver2);
    },
    async block() {
      const ref = await create(`sperren ${pick(allDomains)} ${pick(directions)} Chaos ${randomUUID().slice(0, 6)}`);
      if (!ref) return;
      if (rng() < 0.25) {
        await Promise.all([
          decide('request.confirm_block', ref, users.operator),
          decide('request.confirm_block', ref, users.operator),
        ]);
      } else {
        await decide('request.confirm_block', ref, users.operator);
      }
    },
    async retry() {
      if (created.size === 0) return;
      const requestId = pick([...created]);
      const view = await click('request.view', { requestId, version: 1 }, users.operator);
      const ref = refOf(view, 'request.retry');
      if (!ref) return;
      const asked = await decide('request.retry', ref, users.operator);
      // Below the policy or after the lifetime a retry waits for four eyes again: sometimes given.
      if (!/Wiederholung wartet auf Genehmigung/.test(textOf(asked)) || rng() < 0.3) return;
      const justification = 'Wiederholung geprüft: Restrisiko akzeptiert (Chaos-Test)';
      for (const who of [users.approver1, users.approver2]) {
        const current = refOf(await click('request.view', ref, who), 'request.approve');
        if (current) await decide('request.confirm', { ...current, justification }, who);
      }
    },
    async status() {
      await say(`status ${pick([...nordScopes, ...suedScopes])}`, users.viewer);
    },
  };
  const flowWeights: Array<[string, number]> = [
    ['release', 45],
    ['block', 25],
    ['releaseBelowPolicy', 10],
    ['retry', 10],
    ['status', 10],
  ];
  const pickFlow = () => {
    let x = rng() * 100;
    for (const [name, w] of flowWeights) {
      x -= w;
      if (x < 0) return name;
    }
    return 'status';
  };

  // Gateway behaviour; 409 only before applying (a gateway does not apply a change and then refuse it).
  const faultKinds: Array<[string, () => SimFault]> = [
    ['none', () => ({ target: 'gateway', mode: 'none' })],
    ['error_503', () => ({ target: 'gateway', mode: 'error', status: 503, rate: 0.3 + rng() * 0.6 })],
    ['error_500_after', () => ({ target: 'gateway', mode: 'error', status: 500, rate: 0.5, phase: 'after' })],
    ['lost_answer', () => ({ target: 'gateway', mode: 'timeout', ms: 1500, rate: 0.3 + rng() * 0.3, phase: 'after' })],
    ['no_answer', () => ({ target: 'gateway', mode: 'timeout', ms: 1500, rate: 0.5 })],
    ['slow', () => ({ target: 'gateway', mode: 'latency', ms: between(200, 1400) })],
    ['refused_409', () => ({ target: 'gateway', mode: 'error', status: 409, count: between(1, 3) })],
  ];

  // Two channels subscribe to spam alerts; the first leader warms its detector up on the frozen clock.
  const alertChannels = new Map<string, ConversationSpec>([
    ['vb-nord', channel('chaos-nord')],
    ['vb-sued', channel('chaos-sued')],
  ]);
  for (const [verband, conversation] of alertChannels) {
    const name = verband === 'vb-nord' ? 'Nordverband' : 'Südverband';
    // No faults yet, but a replica may still be starting: ask again until the store has it.
    for (let attempt = 0; attempt < 5; attempt++) {
      await say(`alarme an ${name}`, users.operator, conversation);
      if ((await store.listSubscriptions(conversation.id)).length > 0) break;
    }
  }
  const warmUpStart = Date.now();
  await waitUntil(
    async () => (await store.readSpamDetectorState()) !== null,
    'the spam detector warmed up',
    300_000,
    200,
  );
  const watcherWarmUpMs = Date.now() - warmUpStart;
  await simControl('clock', { speed: o.simSpeed });
  const waves: Array<{ regionId: string; conversationIds: string[] }> = [];
  const kreise = [...new Map(domains.items.map((d) => [d.kreis, d.verband])).entries()];

  const chaosEnd = Date.now() + o.chaosMs;
  const workers = Array.from({ length: o.workers }, async () => {
    while (Date.now() < chaosEnd) {
      if (alive().length === 0) {
        await sleep(200);
        continue;
      }
      const name = pickFlow();
      flows[name] = (flows[name] ?? 0) + 1;
      await flowsByName[name]!().catch(() => {
        posts.failed++;
      });
    }
  });
  const faulter = (async () => {
    while (Date.now() < chaosEnd) {
      const [name, make] = pick(faultKinds);
      faults[name] = (faults[name] ?? 0) + 1;
      await setSimFault(sim.url, make()).catch(() => {});
      await sleep(between(800, 2500));
    }
  })();
  // A spam wave on a random Kreis, early enough in the chaos phase to be alerted in it.
  const waver = (async () => {
    await sleep(between(0, Math.floor(o.chaosMs / 3)));
    const [kreis, verband] = pick(kreise);
    await simControl('spam', { region: kreis, factor: 10, minutes: 30 });
    waves.push({ regionId: kreis, conversationIds: [alertChannels.get(verband)!.id] });
  })();
  const takeovers: TakeoverResult[] = [];
  // When each replica was killed and whether it held the watcher's lease: to line alert posts up with.
  const killLog: Array<{ victim: string; at: number; heldLease: boolean }> = [];
  const killOne = async (victimId: string, restartAfterMs: number) => {
    const victim = bots.get(victimId);
    bots.set(victimId, null);
    const holder = (await store.getLease(SPAM_WATCHER_LEASE).catch(() => null))?.holder;
    await victim?.kill();
    const killedAt = Date.now();
    kills++;
    killLog.push({ victim: victimId, at: killedAt, heldLease: holder === victimId });
    if (holder === victimId && o.replicas > 1) {
      // Until another replica holds the lease: it acquires it at the start of its poll.
      let by: string | null = null;
      const deadline = killedAt + (4 * leaseTtlMs) / o.simSpeed;
      while (by === null && Date.now() < deadline) {
        const lease = await store.getLease(SPAM_WATCHER_LEASE).catch(() => null);
        if (lease && lease.holder !== victimId && bots.get(lease.holder)?.isAlive()) by = lease.holder;
        else await sleep(25);
      }
      const realMs = by === null ? null : Date.now() - killedAt;
      takeovers.push({ victim: victimId, by, realMs, watcherMs: realMs === null ? null : realMs * o.simSpeed });
    }
    await sleep(restartAfterMs);
    bots.set(victimId, await spawn(victimId));
  };
  const killer = (async () => {
    // One kill in each of `kills` equal slices of the chaos phase, so restarts do not bunch up. The
    // first one hits the spam watcher's leaseholder, the others a replica picked at random.
    const chaosStart = chaosEnd - o.chaosMs;
    const at = Array.from({ length: o.kills }, (_, i) => chaosStart + ((i + 0.1 + 0.7 * rng()) / o.kills) * o.chaosMs);
    for (const [n, when] of at.entries()) {
      await sleep(Math.max(0, when - Date.now()));
      if (Date.now() >= chaosEnd) break;
      const holder = (await store.getLease(SPAM_WATCHER_LEASE).catch(() => null))?.holder;
      const victimId = n === 0 && holder !== undefined && bots.has(holder) ? holder : pick(ids);
      await killOne(victimId, between(200, 1000));
    }
  })();
  await Promise.all([...workers, faulter, killer, waver]);

  // Faults off; the last restart must finish what the killed processes left.
  await clearSimFaults(sim.url);
  await killOne(pick(ids), 0);
  const settleStart = Date.now();
  let settleMs: number | null = null;
  const channelIds = new Set([...alertChannels.values()].map((c) => c.id));
  const settled = async () => {
    if ((await store.listRequests({ states: ['executing'], limit: 1 })).length > 0) return false;
    // Every wave alerted in its channel, and every delivery out of pending.
    const alerts = await store.listAlerts({ limit: 1000 });
    for (const wave of waves) {
      const ids = new Set(alerts.filter((a) => groupOf(a.data) === wave.regionId).map((a) => a.id));
      if (!alertPosts.some((p) => ids.has(p.alertId) && wave.conversationIds.includes(p.conversationId))) return false;
    }
    const deliveries = await store.listDeliveries();
    return deliveries.every((d) => !channelIds.has(d.conversationId) || d.status !== 'pending');
  };
  while (Date.now() - settleStart < o.settleMs) {
    if (await settled()) {
      settleMs = Date.now() - settleStart;
      break;
    }
    await sleep(250);
  }
  await Promise.all(alive().map((b) => b.stop()));

  const stored = await store.listRequests({ limit: 100_000 });
  const requests: StoredRequestView[] = stored.map((s) => {
    type Execution = { domains: Record<string, { status: string; error: string | null }> };
    const execution = (s.data as { request: { execution?: Execution | null } }).request.execution;
    const entries = execution ? Object.entries(execution.domains) : [];
    return {
      id: s.id,
      state: s.state,
      domains: execution ? Object.fromEntries(entries.map(([d, x]) => [d, x.status])) : null,
      errors: Object.fromEntries(entries.map(([d, x]) => [d, x.error])),
      decision: decisionOf((s.data as { request: ReleaseRequest }).request),
    };
  });
  const changes = [];
  let cursor: string | undefined;
  do {
    const page = sim.sim.audit({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const a of page.items) if (a.action === 'domain.change') changes.push(a);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const anomalies = countAnomalies({
    created: [...created],
    acknowledged: [...acknowledged],
    requests,
    changes,
    // Only the injected 409s of `refused_409` give this code (the bot sends no If-Match).
    refusalCodes: ['UPSTREAM_CONFLICT'],
  });
  const storedAlerts = await store.listAlerts({ limit: 1000 });
  const alertAnomalies = countAlertAnomalies({
    posts: alertPosts,
    deliveries: (await store.listDeliveries())
      .filter((d) => channelIds.has(d.conversationId))
      .map((d) => ({ alertId: d.alertId, conversationId: d.conversationId })),
    alerts: storedAlerts.map((a) => ({ id: a.id, groupId: groupOf(a.data) })),
    waves,
  });
  const auditChain = await store.verifyAuditChain();
  await store.close();
  await connector.close();
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (o.store === 'postgres') {
    const admin = new pg.Client({ connectionString: o.databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }

  const byState: Record<string, number> = {};
  for (const r of requests) byState[r.state] = (byState[r.state] ?? 0) + 1;
  const result: RoundResult = {
    seed: o.seed,
    durationMs: Date.now() - started,
    settleMs,
    posts,
    flows,
    faults,
    kills,
    replicas: o.replicas,
    store: o.store,
    requests: { created: created.size, acknowledged: acknowledged.size, byState },
    anomalies,
    alertAnomalies,
    alerts: {
      waves: waves.map((w) => w.regionId),
      opened: storedAlerts.length,
      cardsPosted: alertPosts.length,
      watcherWarmUpMs,
      posts: alertPosts.map(({ at, ...p }) => ({ ...p, atMs: at - started })),
      kills: killLog.map(({ at, ...k }) => ({ ...k, atMs: at - started })),
    },
    takeovers,
    leaseTtlMs,
    counts: {
      lost: anomalies.lost.length,
      duplicated: anomalies.duplicated.length,
      stuck: anomalies.stuck.length,
      misrecorded: anomalies.misrecorded.length,
      lostDecisions: anomalies.lostDecisions.length,
      refusedAfterApplied: anomalies.refusedAfterApplied.length,
      changedWithoutDecision: anomalies.changedWithoutDecision.length,
      alertsTwice: alertAnomalies.twice.length,
      alertsMissing: alertAnomalies.missing.length,
    },
    auditChain: { ok: auditChain.ok, count: auditChain.count },
  };
  o.log(
    `run seed ${o.seed}: ${created.size} requests, ${kills} kills, ` +
      `lost ${result.counts.lost}, duplicated ${result.counts.duplicated}, stuck ${result.counts.stuck}, ` +
      `alerts twice ${result.counts.alertsTwice}, missing ${result.counts.alertsMissing}, ` +
      `takeover ${takeovers.map((t) => (t.watcherMs === null ? 'none' : `${t.watcherMs / 1000} s`)).join(', ') || '-'}`,
  );
  return result;
}

/** Who decided a stored request, as the anomaly count checks it. */
function decisionOf(r: ReleaseRequest): DecisionView {
  const execution = 'execution' in r ? r.execution : null;
  const retry = execution?.retry;
  return {
    kind: r.kind,
    requesterId: r.requester.id,
    requiredApprovals: r.requiredApprovals,
    approvers: r.approvals.map((a) => a.by.id),
    confirmed: r.confirmation !== null,
    retry: retry
      ? {
          round: execution?.round ?? 1,
          by: retry.by.id,
          required: retry.requiredApprovals,
          approvers: retry.approvals.map((a) => a.by.id),
        }
      : null,
    lateRetries:
      r.kind === 'release' ? r.history.filter((h) => h.what === 'retry_started' && h.at >= r.expiresAt).length : 0,
  };
}

/** The region an alert is told for (StoredAlert.data, src/services/alert-data.ts). */
function groupOf(data: unknown): string {
  const group = (data as { group?: { id?: unknown }; kreis?: { id?: unknown } } | null) ?? {};
  return String(group.group?.id ?? group.kreis?.id ?? '');
}
