import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { GatewayHttpClient } from '../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../src/adapters/inventory-http-client.ts';
import { loadConfig } from '../../src/config.ts';
import { startSimServer } from '../../src/sim/server.ts';
import type { ScenarioName } from '../../src/sim/simulator.ts';
import { type RunningLagebot, startLagebot } from '../../src/start-lagebot.ts';
import { FakeBotConnector } from '../fakes/fake-bot-connector.ts';

// Starts what an integration test talks to: the simulator (frozen clock), the bot on an ephemeral
// port with its own SQLite file, and a fake Bot Connector that receives the replies.

export interface TestBot {
  bot: RunningLagebot;
  botUrl: string;
  simUrl: string;
  connector: FakeBotConnector;
  sim: Awaited<ReturnType<typeof startSimServer>>['sim'];
  close(): Promise<void>;
}

export async function startTestBot(
  env: Record<string, string> = {},
  simOptions: { devices?: number; scenario?: ScenarioName; seed?: number } = {},
  // onSimClock: the bot lives on the simulator's (frozen, test-advanced) clock, as the watcher and the
  // request TTL must when a test moves sim time. requestsOnSimClock: as the demo runs (src/run-demo.ts),
  // only requests are stamped with the simulator's clock.
  // upstreamSleep: the HTTP clients' wait before a retry (test/helpers/recorded-waits.ts).
  options: {
    now?: () => Date;
    onSimClock?: boolean;
    requestsOnSimClock?: boolean;
    watcherWarmUpMinutes?: number;
    upstreamSleep?: (ms: number) => Promise<void>;
  } = {},
): Promise<TestBot> {
  const sim = await startSimServer({
    port: 0,
    speed: 0,
    seed: simOptions.seed ?? 42,
    devices: simOptions.devices,
    scenario: simOptions.scenario,
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-test-'));
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    INVENTORY_API_URL: `${sim.url}/inventory/v1`,
    GATEWAY_API_URL: `${sim.url}/gateway/v1`,
    UPSTREAM_TIMEOUT_MS: '2000',
    STATUS_CACHE_SECONDS: '0',
    // Tests send many messages per user within seconds; the limit itself has its own test.
    USER_RATE_LIMIT_BURST: '10000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // The watcher polls on the simulator's frozen clock; tests that need it drive it themselves.
    SPAM_WATCHER: 'off',
    ...env,
  });
  let bot: RunningLagebot;
  try {
    // Gateway retries after tens of milliseconds, not seconds: the tests wait for them through executor.idle().
    const logger = createLogger(config.logLevel);
    const { onSimClock, requestsOnSimClock, ...rest } = options;
    bot = await startLagebot(config, {
      logger,
      executorRetry: { baseMs: 20, maxMs: 200 },
      ...(onSimClock ? { now: () => new Date(sim.sim.now()) } : {}),
      ...rest,
      ...(requestsOnSimClock
        ? {
            requestsOnBackEndClock: true,
            backEnds: {
              inventory: new InventoryHttpClient({
                baseUrl: `${sim.url}/inventory/v1`,
                timeoutMs: 2000,
                logger,
                sleep: options.upstreamSleep,
              }),
              gateway: new GatewayHttpClient({
                baseUrl: `${sim.url}/gateway/v1`,
                timeoutMs: 2000,
                logger,
                sleep: options.upstreamSleep,
              }),
              gatewayNow: () => new Date(sim.sim.now()),
            },
          }
        : {}),
    });
  } catch (error) {
    // A bot that did not start must not leave its simulator running (the test process would never end).
    await sim.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const connector = await new FakeBotConnector().start();
  return {
    bot,
    botUrl: bot.url,
    simUrl: sim.url,
    connector,
    sim: sim.sim,
    async close() {
      // The bot first: what it sends while shutting down (an audit anchor) still reaches the connector.
      await bot.close();
      await connector.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
