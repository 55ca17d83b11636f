import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createLogger, type PinoLogger } from './adapters/create-logger.ts';
import { GatewayHttpClient } from './adapters/gateway-http-client.ts';
import { InventoryHttpClient } from './adapters/inventory-http-client.ts';
import { createMetrics } from './adapters/metrics.ts';
import { createStore } from './adapters/store/create-store.ts';
import { createTurnStorage } from './adapters/store/store-turn-storage.ts';
import type { Config } from './config.ts';
import type { GatewayPort, InventoryPort } from './domain/ports.ts';
import type { Store } from './domain/store-port.ts';
import { createStatusService } from './services/report-status.ts';
import { startSimServer } from './sim/server.ts';
import { createBotAdapter } from './teams/create-bot-adapter.ts';
import { createHttpServer } from './teams/create-http-server.ts';
import { createTeamsApp } from './teams/create-teams-app.ts';

export interface RunningLagebot {
  url: string;
  port: number;
  simUrl: string | null;
  inventory: InventoryPort;
  gateway: GatewayPort;
  store: Store;
  close(): Promise<void>;
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

    const adapter = createBotAdapter(config);
    const app = createTeamsApp({
      adapter,
      storage: createTurnStorage(store),
      logger,
      metrics,
      status,
      store,
      allowedTenants: config.allowedTenants,
      now,
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
      draining = true;
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
    return { url, port, simUrl, inventory, gateway, store, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
