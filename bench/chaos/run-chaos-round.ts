import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../src/adapters/store/create-store.ts';
import type { ReleaseRequest } from '../../src/domain/release-request.ts';
import { mulberry32 } from '../../src/sim/prng.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { collectText, LocalConnector } from '../../src/teams/local-connector.ts';
import { invoke, message, type TestUser, users } from '../../test/fakes/activities.ts';
import { clearSimFaults, type SimFault, setSimFault } from '../../test/fakes/set-sim-fault.ts';
import { type BotChild, spawnBotChild } from '../../test/fakes/spawn-bot-child.ts';
import { advanceToMondayAfternoon, writeTestRoles } from '../../test/helpers/release-helpers.ts';
import type { TestBot } from '../../test/helpers/start-test-bot.ts';
import { type Anomalies, countAnomalies, type DecisionView, type StoredRequestView } from './count-anomalies.ts';

// One chaos round: a simulator and a fake Bot Connector in this process, the bot in a child process
// on its own SQLite DATA_DIR. Workers ask for releases and blocks and decide them (sometimes two
// approvers at once, sometimes a double click) while the gateway misbehaves (errors, lost answers,
// no answers, slowness, refusals) and the bot is SIGKILLed and started again. Then the faults are
// cleared, the bot is killed and restarted one last time (it must resume what it left), and once
// nothing is executing any more the store and the gateway's audit are compared.

export interface RoundOptions {
  seed: number;
  workers: number;
  chaosMs: number;
  /** How long the restarted bot gets to finish every execution before the rest counts as stuck. */
  settleMs: number;
  kills: number;
  devices: number;
  log: (line: string) => void;
}

export interface RoundResult {
  seed: number;
  durationMs: number;
  settleMs: number | null;
  posts: { ok: number; failed: number };
  flows: Record<string, number>;
  faults: Record<string, number>;
  kills: number;
  requests: { created: number; acknowledged: number; byState: Record<string, number> };
  anomalies: Anomalies;
  counts: {
    lost: number;
    duplicated: number;
    stuck: number;
    misrecorded: number;
    lostDecisions: number;
    refusedAfterApplied: number;
    changedWithoutDecision: number;
  };
  auditChain: { ok: boolean; count: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaosRound(o: RoundOptions): Promise<RoundResult> {
  const started = Date.now();
  const rng = mulberry32(o.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

  const sim = await startSimServer({ port: 0, speed: 0, seed: o.seed, devices: o.devices });
  await advanceToMondayAfternoon({ simUrl: sim.url } as TestBot);
  const connector = await new LocalConnector().start();
  // Index replies by the activity they answer; drop the captured calls so a long round stays small.
  const replies = new Map<string, Record<string, unknown>>();
  connector.responder = (call) => {
    if (call.method === 'POST' && call.activity.type === 'message' && typeof call.activity.replyToId === 'string') {
      replies.set(call.activity.replyToId, call.activity);
    }
    connector.calls.length = 0;
    return null;
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-chaos-'));
  const env = {
    DATA_DIR: dataDir,
    INVENTORY_API_URL: `${sim.url}/inventory/v1`,
    GATEWAY_API_URL: `${sim.url}/gateway/v1`,
    ROLES_FILE: writeTestRoles(),
    UPSTREAM_TIMEOUT_MS: '1000',
    // Restarts keep their claims: the same replica id, as a restarted pod with the same name has.
    REPLICA_ID: 'chaos',
  };

  const domains = (await (await fetch(`${sim.url}/gateway/v1/domains`)).json()) as {
    items: Array<{ domain: string; verband: string }>;
  };
  const nordDomains = domains.items.filter((d) => d.verband === 'vb-nord').map((d) => d.domain);
  const allDomains = domains.items.map((d) => d.domain);
  const nordScopes = ['Kreis Soest', 'Hochsauerlandkreis', 'Märkischer Kreis'];
  const suedScopes = ['Kreis Olpe', 'Kreis Siegen-Wittgenstein'];
  const directions = ['eingehend', 'ausgehend', 'beides'];

  let bot: BotChild | null = await spawnBotChild(env);
  let kills = 0;
  const posts = { ok: 0, failed: 0 };
  const flows: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const created = new Set<string>();
  const acknowledged = new Set<string>();

  async function postTo(activity: Record<string, unknown>): Promise<unknown | null> {
    const url = bot?.isAlive() ? bot.url : null;
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
  async function say(text: string, user: TestUser): Promise<Record<string, unknown> | null> {
    const activity = message(text, { serviceUrl: connector.url, user });
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

  const chaosEnd = Date.now() + o.chaosMs;
  const workers = Array.from({ length: o.workers }, async () => {
    while (Date.now() < chaosEnd) {
      if (!bot?.isAlive()) {
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
  const killer = (async () => {
    // One kill in each of `kills` equal slices of the chaos phase, so restarts do not bunch up.
    const chaosStart = chaosEnd - o.chaosMs;
    const at = Array.from({ length: o.kills }, (_, i) => chaosStart + ((i + 0.1 + 0.7 * rng()) / o.kills) * o.chaosMs);
    for (const when of at) {
      await sleep(Math.max(0, when - Date.now()));
      if (Date.now() >= chaosEnd) break;
      const victim = bot;
      bot = null;
      await victim?.kill();
      kills++;
      await sleep(between(200, 1000));
      bot = await spawnBotChild(env);
    }
  })();
  await Promise.all([...workers, faulter, killer]);

  // Faults off; the last restart must finish what the killed processes left.
  await clearSimFaults(sim.url);
  await bot?.kill();
  kills++;
  bot = await spawnBotChild(env);
  const store = await createStore({ dataDir });
  const settleStart = Date.now();
  let settleMs: number | null = null;
  while (Date.now() - settleStart < o.settleMs) {
    const executing = await store.listRequests({ states: ['executing'], limit: 1 });
    if (executing.length === 0) {
      settleMs = Date.now() - settleStart;
      break;
    }
    await sleep(250);
  }
  await bot.stop();

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
  const auditChain = await store.verifyAuditChain();
  await store.close();
  await connector.close();
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });

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
    requests: { created: created.size, acknowledged: acknowledged.size, byState },
    anomalies,
    counts: {
      lost: anomalies.lost.length,
      duplicated: anomalies.duplicated.length,
      stuck: anomalies.stuck.length,
      misrecorded: anomalies.misrecorded.length,
      lostDecisions: anomalies.lostDecisions.length,
      refusedAfterApplied: anomalies.refusedAfterApplied.length,
      changedWithoutDecision: anomalies.changedWithoutDecision.length,
    },
    auditChain: { ok: auditChain.ok, count: auditChain.count },
  };
  o.log(
    `run seed ${o.seed}: ${created.size} requests, ${kills} kills, ` +
      `lost ${result.counts.lost}, duplicated ${result.counts.duplicated}, stuck ${result.counts.stuck}`,
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
