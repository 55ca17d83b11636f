import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogger, type PinoLogger } from './adapters/create-logger.ts';
import { GatewayHttpClient } from './adapters/gateway-http-client.ts';
import { InventoryHttpClient } from './adapters/inventory-http-client.ts';
import { loadRolesFile } from './adapters/load-roles-file.ts';
import { createMetrics } from './adapters/metrics.ts';
import { createSendQueue } from './adapters/send-queue.ts';
import { createStore } from './adapters/store/create-store.ts';
import type { Config } from './config.ts';
import type { GatewayPort, InventoryPort } from './domain/ports.ts';
import type { RolesConfig } from './domain/roles.ts';
import type { Store } from './domain/store-port.ts';
import { projectRoot } from './project-root.ts';
import { createAlertDelivery } from './services/deliver-alerts.ts';
import { createReleaseExecutor, type ReleaseExecutor } from './services/execute-release.ts';
import { createAlertService } from './services/manage-alerts.ts';
import { createReleaseService, type ReleaseService } from './services/release-service.ts';
import { createStatusService } from './services/report-status.ts';
import { createSpamWatcher } from './services/watch-spam.ts';
import { startSimServer } from './sim/server.ts';
import { parseDirectionAndReason } from './teams/command-parser.ts';
import { createBotAdapter } from './teams/create-bot-adapter.ts';
import { createHttpServer } from './teams/create-http-server.ts';
import { createTeamsApp } from './teams/create-teams-app.ts';
import { createRequestCardTracker, type RequestCardTracker } from './teams/release-routes.ts';
import { createTurnStorage } from './teams/store-turn-storage.ts';
import { TeamsNotifier } from './teams/teams-notifier.ts';
import { buildAlertCard } from './teams/views/alert-card.ts';

const demoRolesFile = join(projectRoot, 'config', 'roles.demo.json');

export interface RunningLagebot {
  url: string;
  port: number;
  simUrl: string | null;
  inventory: InventoryPort;
  gateway: GatewayPort;
  store: Store;
  release: ReleaseService;
  executor: ReleaseExecutor;
  close(): Promise<void>;
}

/** ROLES_FILE, or in local mode the demo roles of the Playground's mock users. */
function loadRoles(config: Config, logger: PinoLogger): RolesConfig {
  if (config.rolesFile) return loadRolesFile(config.rolesFile);
  if (config.localMode) {
    logger.info(`ROLES_FILE not set: local mode uses the demo roles in ${demoRolesFile}`);
    return loadRolesFile(demoRolesFile);
  }
  logger.warn('ROLES_FILE not set: everybody is a viewer; nobody can request or approve releases');
  return { viewer: ['*'], operator: [], approver: [] };
}

export interface StartOptions {
  logger?: PinoLogger;
  /** Clock of the bot process (the simulator keeps its own). */
  now?: () => Date;
}

/** Composition root: simulator (when no back-end URLs), clients, store, services, Teams app, HTTP server. */
export async function startLagebot(config: Config, options: StartOptions = {}): Promise<RunningLagebot> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? (() => new Date());
  const metrics = createMetrics();
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        logger.warn('error while closing', { err: String(error) });
      }
    }
  };

  try {
    let simUrl: string | null = null;
    let embeddedSim: Awaited<ReturnType<typeof startSimServer>> | null = null;
    if (config.useEmbeddedSimulator) {
      const sim = await startSimServer({
        port: config.simPort,
        seed: config.sim.seed,
        scenario: config.sim.scenario,
        devices: config.sim.devices,
        speed: config.sim.speed ?? 1,
      });
      closers.push(() => sim.close());
      simUrl = sim.url;
      embeddedSim = sim;
      logger.info(
        `INVENTORY_API_URL/GATEWAY_API_URL not set: using the embedded simulator at ${sim.url} (scenario ${config.sim.scenario}, ${config.sim.devices} devices)`,
        { simUrl: sim.url },
      );
    }
    const onCall = (service: string, _route: string, outcome: string) =>
      metrics.upstreamCalls.inc({ service, outcome });
    const inventory = new InventoryHttpClient({
      baseUrl: config.inventory.url ?? `${simUrl}/inventory/v1`,
      token: config.inventory.token,
      timeoutMs: config.upstreamTimeoutMs,
      logger,
      onCall,
    });
    const gateway = new GatewayHttpClient({
      baseUrl: config.gateway.url ?? `${simUrl}/gateway/v1`,
      token: config.gateway.token,
      timeoutMs: config.upstreamTimeoutMs,
      logger,
      onCall,
    });

    const store = await createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger });
    closers.push(() => store.close());

    const status = createStatusService({ inventory, gateway, now, cacheSeconds: config.statusCacheSeconds, logger });
    const roles = loadRoles(config, logger);

    const adapter = createBotAdapter(config);
    const notifier = new TeamsNotifier(adapter, config.bot.appId, store, config.allowedTenants);
    let cards: RequestCardTracker | null = null;
    const release = createReleaseService({
      store,
      inventory,
      gateway,
      regions: () => status.regionIndex(),
      roles,
      now,
      ttlMs: config.requestTtlMs,
      newId: () => `r-${randomUUID().slice(0, 8)}`,
      logger,
      parseDirectionAndReason,
      onTransition: (request) => cards?.schedule(request.id),
    });
    cards = createRequestCardTracker({ store, sender: notifier, service: release, roles, logger });
    const executor = createReleaseExecutor({
      store,
      gateway,
      service: release,
      holder: config.replicaId,
      now,
      logger,
      onRetrying: (requestId, domain) => {
        cards?.markRetrying(requestId, [domain]);
        cards?.schedule(requestId);
      },
    });
    closers.push(async () => {
      await executor.close();
      await cards?.flush();
    });
    // Spam alerts. The watcher reads the gateway's minutes, so it runs on the gateway's clock: with the
    // embedded simulator that is simulated time, otherwise the wall clock.
    const gatewayNow = embeddedSim ? () => new Date(embeddedSim!.sim.now()) : now;
    const sendQueue = createSendQueue({
      sender: notifier,
      logger,
      onDepth: (n) => metrics.sendQueueDepth.set(n),
    });
    const delivery = createAlertDelivery({
      store,
      sender: sendQueue,
      render: buildAlertCard,
      now: gatewayNow,
      logger,
      metrics,
    });
    const alerts = createAlertService({
      store,
      delivery,
      regions: () => status.regionIndex(),
      roles,
      now: gatewayNow,
      logger,
    });
    const watcher = createSpamWatcher({
      store,
      gateway,
      regions: () => status.regionIndex(),
      delivery,
      now: gatewayNow,
      intervalMs: config.spamWatchIntervalSeconds * 1000,
      holder: config.replicaId,
      logger,
      metrics,
    });
    closers.push(async () => {
      await watcher.stop();
      await delivery.drain(5000);
    });
    const app = createTeamsApp({
      adapter,
      storage: createTurnStorage(store),
      logger,
      metrics,
      status,
      store,
      allowedTenants: config.allowedTenants,
      now,
      alerts,
      language: config.language,
      userRateLimit: config.userRateLimit,
      release: {
        service: release,
        // After the invoke response is on its way: the click is answered at once ("wird ausgeführt"),
        // the gateway calls follow (issue 5: answer well inside Teams' invoke timeout).
        execute: (requestId) => setImmediate(() => void executor.run(requestId)),
        cards,
        store,
        roles,
        approversConversation: config.approversConversation,
        logger,
        metrics,
        now,
      },
    });

    let draining = false;
    const server = createHttpServer({
      processActivity: (req, res) =>
        adapter.process(req, res, async (context) => {
          await app.run(context);
        }),
      readiness: [
        { name: 'store', check: () => store.ping() },
        { name: 'inventory', check: () => inventory.ping() },
        { name: 'gateway', check: () => gateway.ping() },
      ],
      metricsText: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      logger,
      isDraining: () => draining,
    });
    server.listen(config.port, config.host);
    await once(server.server, 'listening');
    const port = (server.address() as AddressInfo).port;
    closers.push(async () => {
      // SIGTERM: take no new turns (503), let the ones in flight finish (bounded), then close.
      draining = true;
      const drained = await server.drain(10_000);
      if (!drained) logger.warn('turns still running after 10 s; closing anyway');
      server.server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    logger.info(
      `Lagebot listens on ${url}/api/messages (${config.localMode ? 'local mode: unauthenticated' : 'Bot Framework JWT required'})`,
      {
        url,
      },
    );
    // Executions a previous process left unfinished are completed exactly once; requests past their
    // time expire (their cards lose the buttons).
    if (config.spamWatchIntervalSeconds > 0 && !config.noSpamWatcher) watcher.start();
    const resumed = await executor.resumeAll();
    if (resumed > 0) logger.info(`resumed ${resumed} unfinished executions`);
    // The sweep also resumes executions that stopped on a store or gateway outage, and those a crashed
    // replica left behind once its claims expire.
    const expiry = setInterval(() => {
      release.expireDue().catch((error) => logger.warn('expiry sweep failed', { err: String(error) }));
      executor.resumeAll().catch((error) => logger.warn('resume sweep failed', { err: String(error) }));
    }, config.sweepIntervalMs);
    expiry.unref();
    closers.push(async () => clearInterval(expiry));
    return { url, port, simUrl, inventory, gateway, store, release, executor, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
