import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { type RunningLagebot, startLagebot } from '../../src/start-lagebot.ts';
import { invoke, message, post, users } from '../fakes/activities.ts';
import { cardOf, FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { advanceToMondayAfternoon, gatewayAudit, gatewayDomains, writeTestRoles } from '../helpers/release-helpers.ts';
import type { TestBot } from '../helpers/start-test-bot.ts';
import { adminQuery, skipUnlessPostgres, testDatabaseUrlFor } from '../helpers/test-postgres.ts';

// Two replicas behind one Teams registration share one PostgreSQL and behave as one bot: a request
// made through one is decided through the other and executed exactly once (docs/decisions/store.md).

describe('two replicas on one PostgreSQL', { skip: await skipUnlessPostgres('two replicas on one PostgreSQL') }, () => {
  const dbName = `lagebot_t_${process.pid}_${Date.now().toString(36)}`;
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let connector: FakeBotConnector;
  let a: RunningLagebot;
  let b: RunningLagebot;

  before(async () => {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    const dbUrl = testDatabaseUrlFor(dbName);
    sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
    connector = await new FakeBotConnector().start();
    const roles = writeTestRoles();
    const env = (replica: string) =>
      loadConfig({
        PORT: '0',
        DATABASE_URL: dbUrl,
        INVENTORY_API_URL: `${sim.url}/inventory/v1`,
        GATEWAY_API_URL: `${sim.url}/gateway/v1`,
        ROLES_FILE: roles,
        REPLICA_ID: replica,
        STATUS_CACHE_SECONDS: '0',
        USER_RATE_LIMIT_BURST: '10000',
        LOG_LEVEL: 'silent',
      });
    // Both start at once: migrations must run exactly once (advisory lock).
    [a, b] = await Promise.all([
      startLagebot(env('replica-a'), { logger: createLogger('silent') }),
      startLagebot(env('replica-b'), { logger: createLogger('silent') }),
    ]);
    await advanceToMondayAfternoon({ simUrl: sim.url });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await connector?.close();
    await sim?.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });

  test('requested on one replica, confirmed on the other, executed exactly once', async () => {
    await post(
      a.url,
      message('freigabe Kreis Soest eingehend Alles gepatcht', { serviceUrl: connector.url, user: users.operator }),
    );
    // The first POST may be the typing indicator of a slow turn; the request card is the one with a card.
    const calls = await connector.waitFor((c) => c.some((x) => x.method === 'POST' && cardOf(x.activity)));
    const card = cardOf(calls.find((c) => c.method === 'POST' && cardOf(c.activity))!.activity)!;
    const ref = (card.actions as Array<{ data: { requestId: string; version: number } }>)[0]!.data;

    // Both replicas see the request; two approvers click at once on different replicas.
    assert.equal((await b.release.get(ref.requestId))?.request.state, 'pending');
    const [ra, rb] = await Promise.all([
      post(a.url, invoke('request.confirm', ref, { serviceUrl: connector.url, user: users.approver1 })),
      post(b.url, invoke('request.confirm', ref, { serviceUrl: connector.url, user: users.approver2 })),
    ]);
    const texts = [JSON.stringify(ra.body), JSON.stringify(rb.body)];
    assert.equal(texts.filter((x) => /bereits entschieden|jemand anderes/.test(x)).length, 1, texts.join('\n'));

    // Both replicas try to resume: the outbox claims and idempotency keys keep it to one change.
    await Promise.all([a.executor.resumeAll(), b.executor.resumeAll()]);
    await Promise.all([a.executor.idle(30_000), b.executor.idle(30_000)]);
    const request = (await a.release.get(ref.requestId))!.request;
    assert.equal(request.state, 'executed');
    const soest = (await gatewayDomains({ simUrl: sim.url } as TestBot, 'vb-nord')).filter((d) =>
      request.scope.domains.includes(d.domain),
    );
    assert.ok(soest.every((d) => d.inbound === 'open'));
    const audit = await gatewayAudit({ simUrl: sim.url } as TestBot);
    for (const domain of request.scope.domains) {
      assert.equal(
        audit.filter((x) => x.domain === domain && x.idempotencyKey?.startsWith(ref.requestId)).length,
        1,
        domain,
      );
    }
    assert.deepEqual(await b.store.verifyAuditChain(), await a.store.verifyAuditChain());
    assert.equal((await a.store.verifyAuditChain()).ok, true);
  });
});
