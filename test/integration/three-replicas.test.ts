import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createStore } from '../../src/adapters/store/create-store.ts';
import type { Store } from '../../src/domain/store-port.ts';
import { SPAM_WATCHER_LEASE } from '../../src/services/watch-spam.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { type ConversationSpec, channel, invoke, message, post, type TestUser, users } from '../fakes/activities.ts';
import { type CapturedCall, cardOf, FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import { type BotChild, spawnReplicaChild } from '../fakes/spawn-bot-child.ts';
import { advanceToMondayAfternoon, gatewayAudit, writeTestRoles } from '../helpers/release-helpers.ts';
import type { TestBot } from '../helpers/start-test-bot.ts';
import { adminQuery, skipUnlessPostgres, testDatabaseUrlFor } from '../helpers/test-postgres.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// Three replicas in three processes on one PostgreSQL, as behind the Bot Service, each activity sent
// to whichever replica the test picks (docs/decisions/store.md): a release requested on one,
// approved on the second and confirmed on the third is executed exactly once; SIGKILL the replica
// holding the spam watcher's lease and another one takes the watch over within twice the lease's
// TTL, and every subscribed channel gets each alert once — the one opened before the kill and the
// one that starts while nobody watches.
//
// The watchers run on the simulator's clock (test/helpers/replica-child.ts); the lease's TTL is in
// that clock: max(3 × interval, 30 s) = 30 s. The clock stands still while the first leader warms
// its detector up and runs at SPEED sim-seconds per second afterwards.

const SPEED = 10;
const LEASE_TTL_SIM_MS = 30_000;

const sued = channel('lage-sued-3r');
const nord = channel('lage-nord-3r');

describe('three replicas on one PostgreSQL, one SIGKILLed', {
  skip: await skipUnlessPostgres('three replicas on one PostgreSQL, one SIGKILLed'),
}, () => {
  const dbName = `lagebot_t3_${process.pid}_${Date.now().toString(36)}`;
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let connector: FakeBotConnector;
  let store: Store;
  const replicas = new Map<string, BotChild>();
  let env: (id: string) => Record<string, string>;

  const simPost = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}/sim/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  };
  const replica = (id: string) => replicas.get(id)!;

  async function say(to: string, text: string, user: TestUser, conversation?: ConversationSpec) {
    const before = connector.calls.length;
    const activity = message(text, { serviceUrl: connector.url, user, ...(conversation ? { conversation } : {}) });
    assert.equal((await post(replica(to).url, activity)).status, 200);
    const answer = (c: CapturedCall[]) =>
      c.slice(before).find((x) => x.method === 'POST' && x.conversationId === activity.conversation.id);
    return answer(await connector.waitFor((c) => answer(c) !== undefined))!.activity;
  }
  async function click(to: string, verb: string, data: Record<string, unknown>, user: TestUser) {
    const res = await post(replica(to).url, invoke(verb, data, { serviceUrl: connector.url, user }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body as { value: Record<string, unknown> }).value;
  }
  const buttons = (card: Record<string, unknown> | undefined) =>
    (card?.actions as Array<{ verb: string; data: Record<string, unknown> }> | undefined) ?? [];
  // The alert cards posted (not updated) into a conversation, by alert id.
  const alertPosts = (conversation: ConversationSpec) => {
    const by = new Map<string, CapturedCall[]>();
    for (const call of connector.calls) {
      if (call.method !== 'POST' || call.conversationId !== conversation.id) continue;
      const ack = buttons(cardOf(call.activity)).find((b) => b.verb === 'alert.ack');
      if (!ack) continue;
      const id = String(ack.data.alertId);
      by.set(id, [...(by.get(id) ?? []), call]);
    }
    return by;
  };

  // Every poll of the leader renews the lease: n renewals are n polls.
  async function pollsPass(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const seen = (await store.getLease(SPAM_WATCHER_LEASE))?.expiresAt ?? '';
      await waitUntil(
        async () => ((await store.getLease(SPAM_WATCHER_LEASE))?.expiresAt ?? '') > seen,
        'the watcher polled again',
        30_000,
        50,
      );
    }
  }

  before(async () => {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    const dbUrl = testDatabaseUrlFor(dbName);
    sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
    await advanceToMondayAfternoon({ simUrl: sim.url });
    connector = await new FakeBotConnector().start();
    const roles = writeTestRoles();
    env = (id: string) => ({
      DATABASE_URL: dbUrl,
      ROLES_FILE: roles,
      REPLICA_ID: id,
      STATUS_CACHE_SECONDS: '0',
      USER_RATE_LIMIT_BURST: '10000',
      SPAM_WATCH_INTERVAL_SECONDS: '1',
      UPSTREAM_TIMEOUT_MS: '10000',
    });
    // All three at once: the migrations run exactly once (advisory lock).
    const started = await Promise.all(['r1', 'r2', 'r3'].map((id) => spawnReplicaChild(sim.url, env(id))));
    for (const [i, child] of started.entries()) replicas.set(`r${i + 1}`, child);
    store = await createStore({ databaseUrl: dbUrl });
    // One of them warms the detector up on the frozen clock and persists it.
    await waitUntil(async () => (await store.readSpamDetectorState()) !== null, 'the detector warmed up', 120_000, 200);
  });

  after(async () => {
    await Promise.all([...replicas.values()].map((r) => r.kill()));
    await store?.close();
    await connector?.close();
    await sim?.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  test('requested on r1, approved on r2, confirmed on r3: executed exactly once', async () => {
    const reply = await say('r1', 'freigabe Kreis Soest eingehend Alles gepatcht', users.operator);
    const ref = buttons(cardOf(reply)).find((b) => b.data?.requestId)!.data;
    // The approver's own view of the card (Teams refreshes it per user) offers Approve.
    const view = await click('r2', 'request.view', ref, users.approver1);
    const approve = buttons(view).find((b) => b.verb === 'request.approve');
    assert.ok(approve, JSON.stringify(view).slice(0, 400));
    const confirmCard = await click('r2', 'request.approve', approve.data, users.approver1);
    const confirm = buttons(confirmCard).find((b) => b.verb === 'request.confirm');
    assert.ok(confirm, JSON.stringify(confirmCard).slice(0, 400));
    const done = await click('r3', 'request.confirm', confirm.data, users.approver1);
    assert.match(JSON.stringify(done), /wird ausgeführt|ausgeführt/);

    const requestId = String(confirm.data.requestId);
    await waitUntil(
      async () => (await store.getRequest(requestId))?.state === 'executed',
      'the request executed',
      30_000,
      100,
    );
    const stored = await store.getRequest(requestId);
    const domains = (stored!.data as { request: { scope: { domains: string[] } } }).request.scope.domains;
    assert.ok(domains.length > 1);
    const audit = await gatewayAudit({ simUrl: sim.url } as TestBot);
    for (const domain of domains) {
      assert.equal(
        audit.filter((x) => x.domain === domain && x.idempotencyKey?.startsWith(requestId)).length,
        1,
        `${domain} changed exactly once`,
      );
    }
    assert.equal((await store.verifyAuditChain()).ok, true);
  });

  test('the leaseholder SIGKILLed: another replica watches within 2 × TTL; each alert reaches each channel once', async () => {
    assert.match(replyText(await say('r2', 'alarme an Südverband', users.operator, sued)), /Spam-Alarme/);
    assert.match(replyText(await say('r3', 'alarme an Nordverband', users.operator, nord)), /Spam-Alarme/);
    await simPost('clock', { speed: SPEED });

    // A wave in Kreis Olpe, alerted by the first leader.
    await simPost('spam', { region: 'kr-olpe', factor: 10, minutes: 30 });
    await waitUntil(() => alertPosts(sued).size === 1, 'the Olpe alert in the Südverband channel', 90_000, 100);

    const lease = await store.getLease(SPAM_WATCHER_LEASE);
    assert.ok(lease && replicas.has(lease.holder), `a replica holds the lease: ${JSON.stringify(lease)}`);
    const victim = lease.holder;
    // SIGKILL, and at once a second wave in Kreis Soest that nobody is watching yet.
    const killedAt = Date.now();
    await replica(victim).kill();
    await simPost('spam', { region: 'kr-soest', factor: 10, minutes: 30 });
    let takeover: string | null = null;
    await waitUntil(
      async () => {
        const now = await store.getLease(SPAM_WATCHER_LEASE);
        if (now && now.holder !== victim) takeover = now.holder;
        return takeover !== null;
      },
      'another replica holds the lease',
      60_000,
      25,
    );
    const takeoverSimMs = (Date.now() - killedAt) * SPEED;
    assert.ok(
      takeoverSimMs <= 2 * LEASE_TTL_SIM_MS,
      `took over after ${takeoverSimMs} ms of watcher time, bound ${2 * LEASE_TTL_SIM_MS}`,
    );
    assert.ok(takeover && replica(takeover).isAlive());

    await waitUntil(() => alertPosts(nord).size === 1, 'the Soest alert in the Nordverband channel', 90_000, 100);
    // The killed replica comes back under its name, as a restarted pod does; a few more polls pass.
    replicas.set(victim, await spawnReplicaChild(sim.url, env(victim)));
    await pollsPass(3);

    // Each alert exactly once per subscribed channel, none in the wrong one.
    for (const [conversation, scope] of [
      [sued, /Kreis Olpe/],
      [nord, /Kreis Soest/],
    ] as const) {
      const posts = alertPosts(conversation);
      assert.equal(posts.size, 1, `${conversation.id}: ${[...posts.keys()].join(', ')}`);
      const [[alertId, calls]] = [...posts];
      assert.equal(calls.length, 1, `${alertId} posted ${calls.length} times into ${conversation.id}`);
      assert.match(replyText(calls[0]!.activity), scope);
      const deliveries = (await store.listDeliveries({ alertId })).filter((d) => d.conversationId === conversation.id);
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0]!.status, 'sent');
    }
    console.log(
      `# leaseholder ${victim} killed; ${takeover} took the watch over after ${takeoverSimMs / 1000} s of watcher time (TTL ${LEASE_TTL_SIM_MS / 1000} s)`,
    );
  });
});
