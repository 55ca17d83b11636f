import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { type RunningLagebot, startLagebot } from '../../src/start-lagebot.ts';
import { invoke, message, post, users } from '../fakes/activities.ts';
import { cardOf, FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { advanceToMondayAfternoon, gatewayAudit, gatewayDomains, writeTestRoles } from '../helpers/release-helpers.ts';
import type { TestBot } from '../helpers/start-test-bot.ts';

// Two replicas behind one Teams registration share one PostgreSQL and behave as one bot: a request
// made through one is decided through the other and executed exactly once (docs/decisions/store.md).

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const unreachable = await reachable();
const skip =
  unreachable && process.env.CI !== 'true'
    ? `PostgreSQL not reachable at ${adminUrl} (${unreachable}): set TEST_DATABASE_URL`
    : false;
if (skip) console.log(`# skipped: two replicas on one PostgreSQL — ${skip}`);

describe('two replicas on one PostgreSQL', { skip }, () => {
  const dbName = `lagebot_t_${process.pid}_${Date.now().toString(36)}`;
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let connector: FakeBotConnector;
  let a: RunningLagebot;
  let b: RunningLagebot;

  before(async () => {
    if (unreachable) assert.fail(`PostgreSQL not reachable at ${adminUrl} (${unreachable}); CI requires it`);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const dbUrl = new URL(adminUrl);
    dbUrl.pathname = `/${dbName}`;
    sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
    connector = await new FakeBotConnector().start();
    const roles = writeTestRoles();
    const env = (replica: string) =>
      loadConfig({
        PORT: '0',
        DATABASE_URL: dbUrl.toString(),
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
    await advanceToMondayAfternoon({ simUrl: sim.url } as TestBot);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await connector?.close();
    await sim?.close();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
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
