import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createSendQueue } from '../../../src/adapters/send-queue.ts';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { ProactiveSender } from '../../../src/domain/ports.ts';
import { buildRegionIndex } from '../../../src/domain/region-index.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { type AlertDelivery, type AlertSender, createAlertDelivery } from '../../../src/services/deliver-alerts.ts';
import { buildAlertCard } from '../../../src/teams/views/alert-card.ts';
import { olpeSpike } from '../../fixtures/olpe-spike.ts';

// Two replicas delivering alerts from one store (docs/decisions/spam-alerts.md, "Delivered once"): two
// store instances on one SQLite file, each with its own alert delivery, holder and sender, and one log of
// every card that reached Teams. Whoever resumes, re-fans or stalls, a card is posted once per conversation;
// only a replica that stopped after Teams took its card and before recording it leaves a second post.

const NOW = Date.parse('2024-02-15T17:10:00.000Z');
const root = mkdtempSync(join(tmpdir(), 'lagebot-deliveries-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Post {
  replica: string;
  conversationId: string;
  activityId: string;
}

// Teams as the replicas see it: every card posted, by whom.
class RecordingTeams implements ProactiveSender {
  private n = 0;
  constructor(
    private readonly replica: string,
    private readonly posts: Post[],
  ) {}
  async send(conversationId: string) {
    const activityId = `${this.replica}-${++this.n}`;
    this.posts.push({ replica: this.replica, conversationId, activityId });
    return { activityId };
  }
  async update() {}
}

// A replica whose queue has cards waiting but does not get to send them (a starved machine) until release().
class StalledQueue implements AlertSender {
  private held: Array<{
    conversationId: string;
    card: () => unknown;
    done: (r: { activityId: string }) => void;
    fail: (e: unknown) => void;
  }> = [];
  constructor(private readonly teams: RecordingTeams) {}
  send(conversationId: string, card: unknown) {
    return new Promise<{ activityId: string }>((done, fail) => {
      this.held.push({ conversationId, card: card as () => unknown, done, fail });
    });
  }
  async update() {}
  depth() {
    return this.held.length;
  }
  async release(): Promise<void> {
    await this.takeTurns();
    await this.answer();
  }
  // The cards' turns come (each delivery is claimed and rendered) and the requests go to Teams...
  async takeTurns(): Promise<void> {
    for (const job of this.held) {
      try {
        await job.card();
        this.sending.push(job);
      } catch (error) {
        job.fail(error);
      }
    }
    this.held = [];
  }
  // ...whose answers come back only now.
  async answer(): Promise<void> {
    for (const job of this.sending.splice(0)) job.done(await this.teams.send(job.conversationId));
  }
  private sending: typeof this.held = [];
}

const conversations = Array.from({ length: 12 }, (_, i) => `19:channel-${i}@thread.tacv2`);

interface Replica {
  delivery: AlertDelivery;
  store: Store;
}

interface Rig {
  posts: Post[];
  clock: { t: number };
  // A replica on its own store instance (connection) to the one database.
  replica(name: string, sender?: (teams: RecordingTeams) => AlertSender): Promise<Replica>;
  // The alert with a pending delivery for every conversation, as a leader's fan-out leaves it.
  pendingAlert(): Promise<string>;
  close(): Promise<void>;
}

/** A replica whose sends to Teams wait until the test lets them go, with the pending deliveries resumed. */
async function slowReplica(r: Rig): Promise<{ slow: Replica; stalled: StalledQueue }> {
  let stalled!: StalledQueue;
  const slow = await r.replica('replica-slow', (teams) => {
    stalled = new StalledQueue(teams);
    return stalled;
  });
  await slow.delivery.resumePending();
  return { slow, stalled };
}

async function rig(): Promise<Rig> {
  const dataDir = mkdtempSync(join(root, 'db-'));
  const posts: Post[] = [];
  const clock = { t: NOW };
  const now = () => new Date(clock.t);
  const stores: Store[] = [];
  const open = async () => {
    const store = await createStore({ dataDir });
    stores.push(store);
    return store;
  };
  return {
    posts,
    clock,
    async replica(name, sender) {
      const teams = new RecordingTeams(name, posts);
      const store = await open();
      const delivery = createAlertDelivery({
        store,
        // No pacing to wait for: the queue's tenant bucket would only stretch the test.
        sender: sender
          ? sender(teams)
          : createSendQueue({ sender: teams, tenantLimit: { capacity: 100, refillPerSecond: 1000 } }),
        render: buildAlertCard,
        now,
        holder: name,
        logger: silentLogger,
      });
      return { delivery, store };
    },
    async pendingAlert() {
      const store = await open();
      const leader = createAlertDelivery({
        store,
        sender: createSendQueue({ sender: new RecordingTeams('unused', posts) }),
        render: buildAlertCard,
        now,
        logger: silentLogger,
      });
      const event = { type: 'opened' as const, alert: olpeSpike(NOW) };
      const stored = await leader.recordEvent(event, { index: buildRegionIndex([]), domains: new Map() });
      for (const c of conversations) await store.ensureDelivery(stored.id, c, now().toISOString());
      return stored.id;
    },
    async close() {
      for (const s of stores) await s.close();
    },
  };
}

function postsPerConversation(posts: Post[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const p of posts) n.set(p.conversationId, (n.get(p.conversationId) ?? 0) + 1);
  return n;
}

describe('alert deliveries across replicas', () => {
  test('two replicas resuming the same pending deliveries post each card once', async () => {
    const r = await rig();
    try {
      const alertId = await r.pendingAlert();
      const a = await r.replica('replica-a');
      const b = await r.replica('replica-b');
      await Promise.all([a.delivery.resumePending(), b.delivery.resumePending()]);
      assert.ok(await a.delivery.drain(10_000));
      assert.ok(await b.delivery.drain(10_000));
      assert.deepEqual(
        [...postsPerConversation(r.posts).values()],
        conversations.map(() => 1),
      );
      const deliveries = await a.store.listDeliveries({ alertId });
      assert.deepEqual(
        deliveries.map((d) => [d.status, d.claimedBy]),
        conversations.map(() => ['sent', null]),
      );
      // Each recorded activity is the card that replica posted, so updates in place reach the one copy.
      for (const d of deliveries) {
        assert.ok(r.posts.some((p) => p.conversationId === d.conversationId && p.activityId === d.activityId));
      }
    } finally {
      await r.close();
    }
  });

  test("an old leader's queued cards are not posted once the new leader has sent them", async () => {
    const r = await rig();
    try {
      const alertId = await r.pendingAlert();
      let stalled!: StalledQueue;
      // The old leader queued every card, then its machine starved (its watcher lease ran out meanwhile).
      const old = await r.replica('replica-old', (teams) => {
        stalled = new StalledQueue(teams);
        return stalled;
      });
      assert.equal(await old.delivery.resumePending(), conversations.length);
      const next = await r.replica('replica-new');
      assert.equal(await next.delivery.resumePending(), conversations.length);
      assert.ok(await next.delivery.drain(10_000));
      // The old leader gets the CPU back and works off its queue.
      await stalled.release();
      assert.ok(await old.delivery.drain(10_000));
      assert.deepEqual(
        r.posts.map((p) => p.replica),
        conversations.map(() => 'replica-new'),
      );
      assert.deepEqual(
        (await next.store.listDeliveries({ alertId })).map((d) => d.status),
        conversations.map(() => 'sent'),
      );
    } finally {
      await r.close();
    }
  });

  test('a delivery claimed by a replica that stopped is resumed once its claim has expired, not before', async () => {
    const r = await rig();
    try {
      const alertId = await r.pendingAlert();
      const [c0, c1] = conversations;
      const dead = await r.replica('replica-dead');
      // Killed after claiming two cards (whether Teams got them, nobody can know) and before recording them.
      const at = new Date(r.clock.t).toISOString();
      await dead.store.claimDelivery(alertId, c0!, 'replica-dead', at, 60_000);
      await dead.store.claimDelivery(alertId, c1!, 'replica-dead', at, 60_000);
      const next = await r.replica('replica-new');
      r.clock.t += 59_000;
      assert.equal(await next.delivery.resumePending(), conversations.length - 2);
      assert.ok(await next.delivery.drain(10_000));
      assert.equal(r.posts.filter((p) => p.conversationId === c0 || p.conversationId === c1).length, 0);
      r.clock.t += 1_000;
      assert.equal(await next.delivery.resumePending(), 2);
      assert.ok(await next.delivery.drain(10_000));
      assert.deepEqual(
        [...postsPerConversation(r.posts).values()],
        conversations.map(() => 1),
      );
      const taken = (await next.store.listDeliveries({ alertId })).filter((d) => d.conversationId === c0);
      assert.deepEqual(
        taken.map((d) => [d.status, d.attempts, d.claimedBy]),
        [['sent', 2, null]],
      );
    } finally {
      await r.close();
    }
  });

  test('a replica that stalled holding a claim posts nothing once another replica took the delivery over', async () => {
    const r = await rig();
    try {
      const alertId = await r.pendingAlert();
      const { slow, stalled } = await slowReplica(r);
      // The slow replica claims the first card, then stalls past its claim; the next one takes it over.
      const [c0] = conversations;
      await slow.store.claimDelivery(alertId, c0!, 'replica-slow', new Date(r.clock.t).toISOString(), 60_000);
      r.clock.t += 61_000;
      const next = await r.replica('replica-new');
      await next.delivery.resumePending();
      assert.ok(await next.delivery.drain(10_000));
      await stalled.release();
      assert.ok(await slow.delivery.drain(10_000));
      const [d] = (await next.store.listDeliveries({ alertId })).filter((x) => x.conversationId === c0);
      const own = r.posts.find((p) => p.conversationId === c0 && p.replica === 'replica-new')!;
      assert.equal(d!.activityId, own.activityId);
      assert.equal(r.posts.filter((p) => p.conversationId === c0).length, 1);
    } finally {
      await r.close();
    }
  });

  test('the window that stays: a replica stalled past its claim while Teams took its card; both post, the record is one', async () => {
    const r = await rig();
    try {
      const alertId = await r.pendingAlert();
      const { slow, stalled } = await slowReplica(r);
      // Claimed and on its way to Teams, then the machine starves for longer than the claim.
      await stalled.takeTurns();
      r.clock.t += 61_000;
      const next = await r.replica('replica-new');
      assert.equal(await next.delivery.resumePending(), conversations.length);
      assert.ok(await next.delivery.drain(10_000));
      await stalled.answer();
      assert.ok(await slow.delivery.drain(10_000));
      // Teams has no idempotency key: each card twice. The store keeps the copy of the replica that held the
      // claim when it recorded, so updates in place reach that one.
      assert.deepEqual(
        [...postsPerConversation(r.posts).values()],
        conversations.map(() => 2),
      );
      for (const d of await next.store.listDeliveries({ alertId })) {
        const own = r.posts.find((p) => p.conversationId === d.conversationId && p.replica === 'replica-new')!;
        assert.deepEqual([d.status, d.activityId], ['sent', own.activityId]);
      }
    } finally {
      await r.close();
    }
  });
});
