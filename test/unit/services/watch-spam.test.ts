import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSendQueue } from '../../../src/adapters/send-queue.ts';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import { DETECTOR_SHARDS, decodeDetector } from '../../../src/domain/detector-shards.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { ProactiveSender } from '../../../src/domain/ports.ts';
import { buildRegionIndex } from '../../../src/domain/region-index.ts';
import type { DetectorState } from '../../../src/domain/spike-detector.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { type AlertDelivery, createAlertDelivery } from '../../../src/services/deliver-alerts.ts';
import {
  createSpamWatcher,
  type PollResult,
  SPAM_WATCHER_LEASE,
  type SpamWatcher,
} from '../../../src/services/watch-spam.ts';
import { createSimulator, type Simulator } from '../../../src/sim/simulator.ts';
import { collectText } from '../../../src/teams/local-connector.ts';
import { buildAlertCard } from '../../../src/teams/views/alert-card.ts';
import { FakeGateway } from '../../fakes/fake-gateway.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// The watcher against the in-process simulator (its real traffic, a spike injected into Kreis Olpe),
// a real SQLite store in memory, the real send queue and a recording sender in place of Teams.

interface Sent {
  method: 'send' | 'update';
  conversationId: string;
  activityId: string;
  card: Record<string, unknown>;
}

class RecordingSender implements ProactiveSender {
  readonly calls: Sent[] = [];
  // Conversations whose sends never finish (a process that dies mid-send).
  hang = new Set<string>();
  private ids = 0;
  constructor(private readonly prefix = 'act') {}
  async send(conversationId: string, card: Record<string, unknown>) {
    if (this.hang.has(conversationId)) return new Promise<never>(() => {});
    const activityId = `${this.prefix}-${++this.ids}`;
    this.calls.push({ method: 'send', conversationId, activityId, card });
    return { activityId };
  }
  async update(conversationId: string, activityId: string, card: Record<string, unknown>) {
    this.calls.push({ method: 'update', conversationId, activityId, card });
  }
  sends(conversationId?: string) {
    return this.calls.filter((c) => c.method === 'send' && (!conversationId || c.conversationId === conversationId));
  }
  updates(conversationId?: string) {
    return this.calls.filter((c) => c.method === 'update' && (!conversationId || c.conversationId === conversationId));
  }
}

function textOf(card: Record<string, unknown>): string {
  const parts: string[] = [];
  collectText(card, parts);
  return parts.join('\n');
}

interface Replica {
  watcher: SpamWatcher;
  delivery: AlertDelivery;
  sender: RecordingSender;
}

function replica(
  store: Store,
  sim: Simulator,
  gateway: FakeGateway,
  holder: string,
  wrap: (d: AlertDelivery) => AlertDelivery = (d) => d,
  options: { maxPollMinutes?: number } = {},
): Replica {
  const sender = new RecordingSender(holder);
  const now = () => new Date(sim.now());
  const index = buildRegionIndex(sim.regions());
  const delivery = wrap(
    createAlertDelivery({
      store,
      sender: createSendQueue({ sender }),
      render: buildAlertCard,
      now,
      logger: silentLogger,
    }),
  );
  const watcher = createSpamWatcher({
    store,
    gateway,
    regions: async () => index,
    delivery,
    now,
    intervalMs: 60_000,
    holder,
    logger: silentLogger,
    backfillMinutes: 120,
    ...options,
  });
  return { watcher, delivery, sender };
}

async function setup() {
  const sim = createSimulator({ speed: 0, seed: 42, devices: 200 });
  const gateway = new FakeGateway(sim);
  const store = await createStore({ dataDir: ':memory:' });
  const main = replica(store, sim, gateway, 'replica-a');
  return { sim, gateway, store, ...main };
}

// Advances the simulator a minute at a time, polling each minute, until `until` holds for a poll.
async function pollMinutes(
  sim: Simulator,
  r: Replica,
  until: (result: PollResult) => boolean,
  maxMinutes: number,
): Promise<PollResult[]> {
  const results: PollResult[] = [];
  for (let i = 0; i < maxMinutes; i++) {
    sim.advance(1);
    const result = await r.watcher.pollOnce();
    results.push(result);
    if (until(result)) {
      await r.delivery.drain(5000);
      return results;
    }
  }
  throw new Error(`condition not met within ${maxMinutes} simulated minutes`);
}

// The detector state as a successor would load it: the head and every shard.
async function storedDetector(store: Store): Promise<DetectorState> {
  const shards = await store.readSpamDetectorShards();
  const head = (await store.readSpamDetectorState())?.data as { v: number; polledTo: string; detector: unknown };
  assert.equal(head.v, 2);
  const decoded = decodeDetector(head.detector, head.polledTo, shards);
  assert.ok(decoded, 'the stored state decodes');
  return decoded.detector;
}

const opened = (r: PollResult) => r.events.some((e) => e.type === 'opened');
const closed = (r: PollResult) => r.events.some((e) => e.type === 'closed' && e.alert.foldedInto === null);

const channels = {
  sued: '19:sued@thread.tacv2',
  nord: '19:nord@thread.tacv2',
  attendorn: '19:attendorn@thread.tacv2',
  soest: '19:soest@thread.tacv2',
  olpeDomain: '19:olpe-domain@thread.tacv2',
  all: 'a:personal-all',
};

describe('spam watcher: a spike in Kreis Olpe from start to end', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  let alertId = '';
  before(async () => {
    env = await setup();
    const at = new Date(env.sim.now()).toISOString();
    await env.store.subscribe(channels.sued, 'vb-sued', at);
    await env.store.subscribe(channels.nord, 'vb-nord', at);
    await env.store.subscribe(channels.attendorn, 'ko-attendorn', at);
    await env.store.subscribe(channels.soest, 'kr-soest', at);
    await env.store.subscribe(channels.olpeDomain, 'domain:olpe.de', at);
    await env.store.subscribe(channels.all, 'all', at);
  });
  after(async () => {
    await env.watcher.stop();
    await env.store.close();
  });

  test('the first poll warms the detector up with history, in few batched requests, and alerts nothing', async () => {
    const result = await env.watcher.pollOnce();
    assert.equal(result.role, 'leader');
    assert.equal(result.backfilled, true);
    assert.deepEqual(result.events, []);
    assert.equal(result.domains, 64);
    // 64 domains, two hours of warm-up and the last minutes: two requests, not one per domain.
    assert.equal(env.gateway.spamRequests().length, 2);
    assert.ok(await env.store.readSpamDetectorState(), 'the detector state is persisted after the warm-up');
    assert.equal((await env.store.getLease(SPAM_WATCHER_LEASE))?.holder, 'replica-a');
  });

  test('the alert reaches every channel that follows the Kreis, a place above or inside it — once', async () => {
    env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
    const results = await pollMinutes(env.sim, env, opened, 10);
    // Two anomalous buckets open it (the detector's openAfterBuckets).
    assert.equal(results.length, 2);
    const event = results.at(-1)!.events.find((e) => e.type === 'opened')!;
    assert.equal(event.alert.scope.kind, 'group');
    assert.equal(event.alert.scope.id, 'kr-olpe');
    alertId = event.alert.id;

    for (const c of [channels.sued, channels.attendorn, channels.olpeDomain, channels.all]) {
      assert.equal(env.sender.sends(c).length, 1, `one card to ${c}`);
    }
    for (const c of [channels.nord, channels.soest]) assert.equal(env.sender.sends(c).length, 0, `nothing to ${c}`);

    const card = env.sender.sends(channels.sued)[0]!.card;
    assertValidCard(card);
    const text = textOf(card);
    assert.match(text, /Spam-Welle: Kreis Olpe/);
    assert.match(text, /Läuft seit 18:00/);
    assert.match(text, /Südverband/);
    assert.match(text, /×\d+,\d gegenüber normal \d+\/min/);
    assert.match(text, /Bestätigen/);
    const actions = card.actions as Array<{ verb: string; data: Record<string, unknown> }>;
    assert.deepEqual(
      actions.map((x) => x.verb),
      ['alert.ack', 'alert.mute', 'alert.mute', 'alert.block', 'alert.block_group'],
    );
    for (const x of actions) assert.equal(x.data.alertId, alertId);

    const stored = await env.store.getAlert(alertId);
    assert.equal(stored?.status, 'open');
    assert.equal(stored?.scopeId, 'kr-olpe');
    const deliveries = await env.store.listDeliveries({ alertId });
    assert.equal(deliveries.length, 4);
    for (const d of deliveries) {
      assert.equal(d.status, 'sent');
      assert.equal(d.activityId, env.sender.sends(d.conversationId)[0]!.activityId);
    }
  });

  test('while it runs, the cards are updated in place and nobody gets a second one', async () => {
    const before = env.sender.sends().length;
    await pollMinutes(env.sim, env, (r) => r.events.some((e) => e.type === 'updated'), 10);
    assert.equal(env.sender.sends().length, before, 'no new cards');
    const sued = env.sender.sends(channels.sued)[0]!;
    const updates = env.sender.updates(channels.sued);
    assert.ok(updates.length >= 1, 'the card was updated');
    assert.ok(
      updates.every((u) => u.activityId === sued.activityId),
      'every update targets the delivered card',
    );
    assertValidCard(updates.at(-1)!.card);
  });

  test('when the spike ends, every card says when, how long and the peak', async () => {
    await pollMinutes(env.sim, env, closed, 40);
    const stored = await env.store.getAlert(alertId);
    assert.equal(stored?.status, 'closed');
    assert.equal(stored?.closedAt, '2024-02-15T17:30:00.000Z');
    for (const c of [channels.sued, channels.attendorn, channels.olpeDomain, channels.all]) {
      assert.equal(env.sender.sends(c).length, 1, `still one card in ${c}`);
      const last = env.sender.updates(c).at(-1)!;
      assert.equal(last.activityId, env.sender.sends(c)[0]!.activityId);
      assertValidCard(last.card);
      assert.match(textOf(last.card), /Beendet 18:30 · Dauer 30 min · Spitze ×\d+,\d/);
      // A finished spike offers no block any more.
      const verbs = (last.card.actions as Array<{ verb: string }>).map((x) => x.verb);
      assert.ok(!verbs.includes('alert.block'), `verbs ${verbs.join(',')}`);
    }
  });

  test('a new spike after the cooldown posts a new card', async () => {
    env.sim.advance(31);
    await env.watcher.pollOnce();
    env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 20 });
    const results = await pollMinutes(env.sim, env, opened, 10);
    const next = results.at(-1)!.events.find((e) => e.type === 'opened')!;
    assert.notEqual(next.alert.id, alertId);
    assert.equal(env.sender.sends(channels.sued).length, 2);
    assert.equal(env.sender.sends(channels.nord).length, 0);
  });
});

describe('spam watcher: mutes, restarts and replicas', () => {
  test('a channel that muted the Kreis gets no card; another channel in the same Verband does', async () => {
    const env = await setup();
    try {
      const at = new Date(env.sim.now()).toISOString();
      await env.store.subscribe(channels.sued, 'vb-sued', at);
      await env.store.subscribe(channels.attendorn, 'ko-attendorn', at);
      await env.store.muteScope(channels.sued, 'kr-olpe', new Date(env.sim.now() + 3_600_000).toISOString());
      await env.watcher.pollOnce();
      env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
      await pollMinutes(env.sim, env, opened, 10);
      assert.equal(env.sender.sends(channels.sued).length, 0);
      assert.equal(env.sender.sends(channels.attendorn).length, 1);
      const [delivery] = await env.store.listDeliveries();
      assert.equal(delivery?.conversationId, channels.attendorn, 'no delivery row for the muted channel');
    } finally {
      await env.watcher.stop();
      await env.store.close();
    }
  });

  test('a replica that dies mid-send: its successor neither loses nor repeats a card', async () => {
    const env = await setup();
    try {
      const at = new Date(env.sim.now()).toISOString();
      await env.store.subscribe(channels.sued, 'vb-sued', at);
      await env.store.subscribe(channels.attendorn, 'ko-attendorn', at);
      env.sender.hang.add(channels.attendorn);
      await env.watcher.pollOnce();
      env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
      for (let i = 0; i < 2; i++) {
        env.sim.advance(1);
        await env.watcher.pollOnce();
      }
      await env.delivery.drain(200);
      assert.equal(env.sender.sends(channels.sued).length, 1);
      const pending = await env.store.listDeliveries({ status: 'pending' });
      assert.deepEqual(
        pending.map((d) => d.conversationId),
        [channels.attendorn],
      );
      // Replica A is gone (no stop, no lease release). B stands by until A's lease expires.
      const b = replica(env.store, env.sim, env.gateway, 'replica-b');
      env.sim.advance(1);
      assert.equal((await b.watcher.pollOnce()).role, 'standby');
      env.sim.advance(3);
      const takeover = await b.watcher.pollOnce();
      await b.delivery.drain(5000);
      assert.equal(takeover.role, 'leader');
      assert.equal(takeover.backfilled, false, 'B continues from the persisted state, no warm-up');
      assert.equal(b.sender.sends(channels.attendorn).length, 1, 'the pending card is delivered by B');
      assert.equal(b.sender.sends(channels.sued).length, 0, 'the delivered one is not repeated');
      assert.deepEqual(
        (await env.store.listDeliveries()).map((d) => d.status),
        ['sent', 'sent'],
      );
      // The spike goes on under B: the cards are updated, including A's.
      await pollMinutes(env.sim, b, closed, 40);
      assert.equal(b.sender.sends().length, 1);
      const suedActivity = env.sender.sends(channels.sued)[0]!.activityId;
      assert.ok(
        b.sender.updates(channels.sued).some((u) => u.activityId === suedActivity),
        'B updates the card A delivered',
      );
      await b.watcher.stop();
    } finally {
      await env.store.close();
    }
  });

  test('two replicas: only the lease holder asks the gateway; after it stops the other takes over', async () => {
    const env = await setup();
    try {
      const b = replica(env.store, env.sim, env.gateway, 'replica-b');
      assert.equal((await env.watcher.pollOnce()).role, 'leader');
      const requests = env.gateway.spamRequests().length;
      env.sim.advance(1);
      assert.equal((await b.watcher.pollOnce()).role, 'standby');
      assert.equal(env.gateway.spamRequests().length, requests, 'the standby replica asked nothing');
      assert.equal(b.watcher.isLeader(), false);

      await env.watcher.stop();
      assert.equal(await env.store.getLease(SPAM_WATCHER_LEASE), null, 'released on stop');
      const result = await b.watcher.pollOnce();
      assert.equal(result.role, 'leader');
      assert.equal(result.backfilled, false);
      assert.equal(env.gateway.spamRequests().length, requests + 1, 'one poll, no second warm-up');
      await b.watcher.stop();
    } finally {
      await env.store.close();
    }
  });

  test('a store failure while recording an alert loses nothing: the next poll replays it', async () => {
    const sim = createSimulator({ speed: 0, seed: 42, devices: 200 });
    const gateway = new FakeGateway(sim);
    const store = await createStore({ dataDir: ':memory:' });
    let failures = 1;
    const r = replica(store, sim, gateway, 'replica-a', (d) => ({
      ...d,
      recordEvent: async (event, context) => {
        if (failures-- > 0) throw new Error('store unavailable');
        return d.recordEvent(event, context);
      },
    }));
    try {
      await store.subscribe(channels.sued, 'vb-sued', new Date(sim.now()).toISOString());
      await r.watcher.pollOnce();
      sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
      sim.advance(1);
      await r.watcher.pollOnce();
      sim.advance(1);
      await assert.rejects(r.watcher.pollOnce(), /store unavailable/);
      sim.advance(1);
      const replay = await r.watcher.pollOnce();
      await r.delivery.drain(5000);
      assert.ok(
        replay.events.some((e) => e.type === 'opened' && e.alert.scope.id === 'kr-olpe'),
        'the alert opens again from the persisted state',
      );
      assert.equal(r.sender.sends(channels.sued).length, 1);
      assert.equal((await store.listAlerts()).length, 1);
    } finally {
      await r.watcher.stop();
      await store.close();
    }
  });

  test('a stored state it cannot read is replaced by a fresh warm-up, not trusted', async () => {
    const env = await setup();
    try {
      const polledTo = new Date(env.sim.now()).toISOString();
      const head = { v: 2, polledTo, detector: { version: 2, alerts: {}, cooldowns: {} } };
      for (const [n, [data, shards]] of (
        [
          [{ v: 1, polledTo: 'yesterday', detectorJson: '{}' }, []],
          [{ v: 1, polledTo, detectorJson: '{"version":9}' }, []],
          ['x', []],
          // A head whose shards are not all there, or one of them is not a shard.
          [head, [{ shard: 3, data: 'not json' }]],
          [{ ...head, polledTo: 'yesterday' }, []],
        ] as const
      ).entries()) {
        const current = await env.store.readSpamDetectorState();
        assert.ok((await env.store.writeSpamDetectorState(data, current?.etag ?? null, shards)).ok);
        const w = replica(env.store, env.sim, env.gateway, `replica-${n}`);
        await env.store.releaseLease(SPAM_WATCHER_LEASE, (await env.store.getLease(SPAM_WATCHER_LEASE))?.holder ?? '');
        const result = await w.watcher.pollOnce();
        assert.equal(result.backfilled, true, JSON.stringify(data));
        await w.watcher.stop();
      }
    } finally {
      await env.store.close();
    }
  });

  // The leader polls for 20 minutes (a spike alerted), dies without a word, and B takes over once the
  // lease has run out; a reference watcher polls the same traffic every minute and never stops.
  async function takeOverAfterSilentDeath(options: { maxPollMinutes?: number }) {
    const env = await setup();
    const refStore = await createStore({ dataDir: ':memory:' });
    const ref = replica(refStore, env.sim, new FakeGateway(env.sim), 'reference');
    try {
      const both = async () => [await env.watcher.pollOnce(), await ref.watcher.pollOnce()];
      await both();
      for (let i = 0; i < 20; i++) {
        env.sim.advance(1);
        if (i === 12) env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
        await both();
      }
      const open = (await env.store.listAlerts()).map((a) => a.id);
      assert.equal(open.length, 1, 'the spike is alerted before the leader dies');
      const shardMinutes = (await env.store.readSpamDetectorShards()).map(
        (s) => (JSON.parse(s.data) as { polledTo: string }).polledTo,
      );
      assert.ok(new Set(shardMinutes).size > 10, 'the shards were taken at different minutes');

      const b = replica(env.store, env.sim, env.gateway, 'replica-b', undefined, options);
      for (let i = 0; i < 4; i++) {
        env.sim.advance(1);
        await ref.watcher.pollOnce();
      }
      const asked = env.gateway.spamRequests().length;
      const takeover = await b.watcher.pollOnce();
      assert.equal(takeover.role, 'leader');
      assert.ok(!takeover.events.some((e) => e.type === 'opened'), 'the running alert is not opened again');
      assert.deepEqual(
        (await env.store.listAlerts()).map((a) => a.id),
        open,
      );
      await b.watcher.stop();
      await ref.watcher.stop();
      const resumed = await storedDetector(env.store);
      const reference = await storedDetector(refStore);
      assert.deepEqual(Object.keys(resumed.domains).sort(), Object.keys(reference.domains).sort());
      assert.deepEqual(resumed.domains, reference.domains, 'every track as if nobody had stopped');
      return { takeover, oldestShard: shardMinutes.sort()[0], requests: env.gateway.spamRequests().slice(asked) };
    } finally {
      await env.store.close();
      await refStore.close();
    }
  }

  test('a successor replays each domain from its shard and ends where a watcher that never stopped is', async () => {
    const { takeover, oldestShard, requests } = await takeOverAfterSilentDeath({ maxPollMinutes: 180 });
    assert.equal(takeover.backfilled, false);
    assert.equal(takeover.from, oldestShard, 'asks from the oldest shard on');
    assert.equal(requests.length, 1, 'in one request for all domains');
  });

  test('a successor whose oldest shard is older than one poll may hold catches up in batches of domains', async () => {
    // The default: a poll holds at most 20 minutes of every domain in memory.
    const { takeover, oldestShard, requests } = await takeOverAfterSilentDeath({});
    assert.equal(takeover.backfilled, true);
    assert.ok(Date.parse(takeover.to!) - Date.parse(oldestShard!) > 20 * 60_000, 'the oldest shard is older than that');
    const batches = requests.filter((r) => r.domains !== undefined);
    assert.ok(batches.length >= 1 && batches.every((r) => r.from === oldestShard), 'from the oldest shard on');
    assert.deepEqual(
      requests.filter((r) => r.domains === undefined).map((r) => r.from),
      [takeover.from],
      'then the last minutes for all domains',
    );
  });

  test('a state in the old one-document format is taken over without a warm-up and written as shards', async () => {
    const env = await setup();
    try {
      await env.watcher.pollOnce();
      env.sim.advance(1);
      await env.watcher.pollOnce();
      const detector = await storedDetector(env.store);
      const head = (await env.store.readSpamDetectorState())!;
      const polledTo = (head.data as { polledTo: string }).polledTo;
      // What the watcher wrote before the shards: the whole detector as one JSON string, no shards used.
      const v1 = { v: 1, polledTo, detectorJson: JSON.stringify(detector) };
      assert.ok((await env.store.writeSpamDetectorState(v1, head.etag)).ok);
      await env.store.releaseLease(SPAM_WATCHER_LEASE, 'replica-a');

      const b = replica(env.store, env.sim, env.gateway, 'replica-b');
      env.sim.advance(1);
      const result = await b.watcher.pollOnce();
      assert.equal(result.role, 'leader');
      assert.equal(result.backfilled, false, 'the old state is used, not warmed up again');
      assert.equal(result.from, polledTo);
      const after = (await env.store.readSpamDetectorState())!.data as { v: number; polledTo: string };
      assert.equal(after.v, 2);
      const shards = await env.store.readSpamDetectorShards();
      assert.equal(shards.length, DETECTOR_SHARDS);
      for (const shard of shards) {
        assert.equal((JSON.parse(shard.data) as { polledTo: string }).polledTo, after.polledTo, 'every shard written');
      }
      assert.deepEqual(
        Object.keys((await storedDetector(env.store)).domains).sort(),
        Object.keys(detector.domains).sort(),
      );
      await b.watcher.stop();
    } finally {
      await env.store.close();
    }
  });

  test('a second writer of the state is noticed: the watcher stands by and its shards do not land', async () => {
    const env = await setup();
    try {
      await env.watcher.pollOnce();
      env.sim.advance(1);
      assert.equal((await env.watcher.pollOnce()).persisted, true);
      const current = await env.store.readSpamDetectorState();
      const foreign = { v: 2, polledTo: new Date(env.sim.now()).toISOString(), detector: { foreign: true } };
      const shards = Array.from({ length: DETECTOR_SHARDS }, (_, shard) => ({ shard, data: `foreign ${shard}` }));
      assert.ok((await env.store.writeSpamDetectorState(foreign, current!.etag, shards)).ok);
      env.sim.advance(1);
      const result = await env.watcher.pollOnce();
      assert.equal(result.persisted, false);
      assert.equal(env.watcher.isLeader(), false, 'stands by');
      assert.deepEqual((await env.store.readSpamDetectorState())?.data, foreign);
      assert.deepEqual(await env.store.readSpamDetectorShards(), shards);
    } finally {
      await env.store.close();
    }
  });

  test('a failed gateway call fails that poll; the next one asks again from where it stopped', async () => {
    const env = await setup();
    try {
      await env.watcher.pollOnce();
      const before = env.gateway.spamRequests().at(-1)!;
      env.sim.advance(5);
      env.gateway.failures.getSpamMetrics = 1;
      await assert.rejects(env.watcher.pollOnce(), /fake gateway/);
      env.sim.advance(5);
      const result = await env.watcher.pollOnce();
      assert.equal(result.role, 'leader');
      // Re-asks from the first bucket it does not have, covering the failed poll's minutes.
      assert.equal(result.from, before.to);
      assert.equal(result.to, new Date(env.sim.now()).toISOString());
    } finally {
      await env.watcher.stop();
      await env.store.close();
    }
  });

  test('a domain whose answer lacks the newest minute gets it in the next poll', async () => {
    const env = await setup();
    try {
      await env.watcher.pollOnce();
      env.sim.advance(3);
      // As if olpe.de's page had been cut by the gateway a minute before the others.
      env.gateway.reshapeSpam = (series) =>
        series.map((s) => (s.domain === 'olpe.de' ? { ...s, points: s.points.slice(0, -1) } : s));
      const first = await env.watcher.pollOnce();
      env.sim.advance(1);
      const second = await env.watcher.pollOnce();
      assert.equal(Date.parse(second.from!), Date.parse(first.to!) - 60_000, 'asks again from the missing minute');
      const state = await env.store.readSpamDetectorState();
      await env.watcher.stop(); // persists
      const after = await env.store.readSpamDetectorState();
      assert.ok(after, 'persisted on stop');
      assert.notEqual(after.etag, state?.etag);
      const tracks = (await storedDetector(env.store)).domains as unknown as Record<
        string,
        { last: number; recV: number[] }
      >;
      assert.equal(tracks['olpe.de']!.last, tracks['attendorn.de']!.last, 'olpe.de is as far as the others');
      assert.ok(!tracks['olpe.de']!.recV.includes(-1), 'without a gap');
    } finally {
      await env.store.close();
    }
  });

  test('after a long outage it catches up in backfill batches and alerts only what still runs', async () => {
    const env = await setup();
    try {
      const at = new Date(env.sim.now()).toISOString();
      await env.store.subscribe(channels.sued, 'vb-sued', at);
      await env.store.subscribe(channels.nord, 'vb-nord', at);
      await env.watcher.pollOnce();
      // While nobody watches: a spike in Kreis Olpe starts and ends; one in Kreis Soest starts and goes on.
      env.sim.injectSpam({ region: 'kr-olpe', factor: 10, minutes: 30 });
      env.sim.advance(5 * 60);
      env.sim.injectSpam({ region: 'kr-soest', factor: 10, minutes: 180 });
      env.sim.advance(60);
      const requests = env.gateway.spamRequests().length;
      const result = await env.watcher.pollOnce();
      await env.delivery.drain(5000);
      assert.equal(result.backfilled, true);
      assert.equal(env.gateway.spamRequests().length - requests, 2, 'one catch-up batch and the recent minutes');
      assert.deepEqual(
        result.events.map((e) => `${e.type} ${e.alert.scope.id}`),
        ['opened kr-soest'],
      );
      assert.equal(env.sender.sends(channels.sued).length, 0, 'the Olpe spike that ended unseen is not alerted');
      assert.equal(env.sender.sends(channels.nord).length, 1);
      assert.match(textOf(env.sender.sends(channels.nord)[0]!.card), /Läuft seit 23:00/);
    } finally {
      await env.watcher.stop();
      await env.store.close();
    }
  });
});
