import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { type RunningLagebot, startLagebot } from '../../src/start-lagebot.ts';
import { invoke, message, post, users } from '../fakes/activities.ts';
import { createCaptureStream } from '../fakes/capture-stream.ts';
import { FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { clearSimFaults, setSimFault } from '../fakes/set-sim-fault.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import { advanceToMondayAfternoon, type CardRef, writeTestRoles } from '../helpers/release-helpers.ts';
import type { TestBot } from '../helpers/start-test-bot.ts';

// docs/decisions/hardening.md: the whole bot at debug level, with back-end tokens and an app password configured, run
// through normal turns and through faults (retries, timeouts, stale answers, failed turns): its JSON
// log, captured, never contains a secret, and neither does anything it sends to the chat.

const secrets = {
  inventoryToken: 'inv-tok-4f1c9e27b3',
  gatewayToken: 'gw-tok-a83d0c5e91',
  appPassword: 'app-pw-77e2b9d4c0',
  // The audit log's key (issue 13): the database never holds it, and neither may the log.
  auditKey: 'audit-secret-5d1f0e9a2b7c4d3e8f6a1b0c',
};

describe('the running bot logs no secrets', () => {
  const out = createCaptureStream();
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let bot: RunningLagebot;
  let connector: FakeBotConnector;
  let dataDir: string;
  let t: TestBot;

  before(async () => {
    sim = await startSimServer({
      port: 0,
      speed: 0,
      seed: 42,
      devices: 2000,
      tokens: { inventory: secrets.inventoryToken, gateway: secrets.gatewayToken },
    });
    dataDir = mkdtempSync(join(tmpdir(), 'lagebot-logs-'));
    const config = loadConfig({
      PORT: '0',
      DATA_DIR: dataDir,
      INVENTORY_API_URL: `${sim.url}/inventory/v1`,
      INVENTORY_API_TOKEN: secrets.inventoryToken,
      GATEWAY_API_URL: `${sim.url}/gateway/v1`,
      GATEWAY_API_TOKEN: secrets.gatewayToken,
      // Without MicrosoftAppId the bot stays in local mode; the password is configured all the same.
      MicrosoftAppPassword: secrets.appPassword,
      AUDIT_KEY: `logs-test:${secrets.auditKey}`,
      ROLES_FILE: writeTestRoles(),
      UPSTREAM_TIMEOUT_MS: '500',
      STATUS_CACHE_SECONDS: '0',
      LOG_LEVEL: 'debug',
    });
    bot = await startLagebot(config, {
      logger: createLogger('debug', out.stream),
      executorRetry: { baseMs: 20, maxMs: 200 },
      // The clients log each retry before they wait for it; the waits themselves are only recorded.
      upstreamSleep: recordedWaits().sleep,
    });
    connector = await new FakeBotConnector().start();
    t = { bot, botUrl: bot.url, simUrl: sim.url, connector, sim: sim.sim, close: async () => {} };
    await advanceToMondayAfternoon(t);
  });
  after(async () => {
    // The bot first: the card updates it flushes while closing still reach the connector (closed first,
    // the flush waited its full ten seconds for them).
    await bot?.close();
    await connector?.close();
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function say(text: string, user = users.operator) {
    const res = await post(bot.url, message(text, { serviceUrl: connector.url, user }));
    assert.equal(res.status, 200);
  }

  test('normal turns, back-end faults, retries and failed turns', async () => {
    await say('status Kreis Olpe', users.viewer);
    await setSimFault(sim.url, { target: 'inventory', mode: 'timeout', ms: 0 });
    await say('status Kreis Olpe', users.viewer); // stale, after logged retries of dropped connections
    await setSimFault(sim.url, { target: 'inventory', mode: 'timeout', ms: 2000 });
    await say('status Kreis Soest', users.viewer); // unavailable, after logged timeouts
    await clearSimFaults(sim.url);

    const before = connector.calls.length;
    await say('freigabe Kreis Soest eingehend Alle Geräte gepatcht');
    const card = connector.calls.slice(before).find((c) => c.activity.type === 'message')!.activity;
    const ref = JSON.stringify(card).match(/"requestId":"(r-[0-9a-f]+)","version":(\d+)/)!;
    const data: CardRef = { requestId: ref[1]!, version: Number(ref[2]) };
    // Gateway failures during execution: retry warnings with the error messages of the client. Every
    // domain's call fails on each of the client's three attempts once, so the executor retries each.
    const domains = (await bot.release.get(data.requestId))!.request.scope.domains.length;
    await setSimFault(sim.url, { target: 'gateway', mode: 'error', status: 502, count: 3 * domains });
    const res = await post(
      bot.url,
      invoke('request.confirm', { ...data }, { serviceUrl: connector.url, user: users.approver2 }),
    );
    assert.equal(res.status, 200);
    assert.ok(await bot.executor.idle(30_000), 'the executor retried until the gateway answered');
    await clearSimFaults(sim.url);
    assert.equal((await bot.release.get(data.requestId))!.request.state, 'executed');
    // A turn whose reply the connector refuses: logged as a failed turn.
    connector.responder = () => ({ status: 403 });
    await post(bot.url, message('hilfe', { serviceUrl: connector.url }));
    connector.responder = null;

    const records = out.records();
    const messages = records.map((r) => String(r.msg));
    // The log is not empty: it has what an operator needs to see the faults.
    assert.ok(
      messages.some((m) => /retrying/.test(m)),
      'client retries logged',
    );
    assert.ok(
      messages.some((m) => /will be retried/.test(m)),
      'executor retries logged',
    );
    assert.ok(
      messages.some((m) => /inventory unavailable|inventory API/.test(m)),
      'inventory failure logged',
    );
    assert.ok(
      records.some((r) => r.level === 50),
      'an error was logged',
    );
    const text = out.text();
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `${name} appears in the log`);
    }
    const sent = JSON.stringify(connector.calls.map((c) => [c.activity, c.headers]));
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!sent.includes(secret), `${name} appears in what was sent to the chat`);
    }
  });
});
