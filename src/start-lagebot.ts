import { randomInt, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { appendAuditAnchor, makeAuditAnchor, readAuditAnchors } from './adapters/audit-anchor-file.ts';
import { createLogger, type PinoLogger } from './adapters/create-logger.ts';
import { GatewayHttpClient } from './adapters/gateway-http-client.ts';
import { InventoryHttpClient } from './adapters/inventory-http-client.ts';
import { loadAuditKeys } from './adapters/load-audit-keys.ts';
import { loadRolesFile } from './adapters/load-roles-file.ts';
import { createMetrics, type Metrics } from './adapters/metrics.ts';
import { createSendQueue } from './adapters/send-queue.ts';
import { createStore } from './adapters/store/create-store.ts';
import type { Config } from './config.ts';
import { proactiveConversationId } from './domain/conversation-id.ts';
import { describeError } from './domain/describe-error.ts';
import type { GatewayPort, InventoryPort, PeopleDirectory, ProactiveSender } from './domain/ports.ts';
import type { RolesConfig } from './domain/roles.ts';
import type { Store } from './domain/store-port.ts';
import { projectRoot } from './project-root.ts';
import { type AuditAnchoring, createAuditAnchoring } from './services/anchor-audit-log.ts';
import { createDailyReports, type DailyReports } from './services/daily-report.ts';
import { type AlertDelivery, createAlertDelivery } from './services/deliver-alerts.ts';
import { createReleaseExecutor, type ReleaseExecutor } from './services/execute-release.ts';
import { type AlertService, createAlertService } from './services/manage-alerts.ts';
import { createRequestNudges, type RequestNudges } from './services/nudge-requests.ts';
import { type AuditLogReader, createAuditLogReader } from './services/read-audit-log.ts';
import { createReleaseService, type ReleaseService, readRequest } from './services/release-service.ts';
import { createStatusService, type StatusService } from './services/report-status.ts';
import { createTypedDecisions, type TypedDecisions } from './services/typed-decisions.ts';
import { createSpamWatcher, type SpamWatcher } from './services/watch-spam.ts';
import { startSimServer } from './sim/server.ts';
import { parseDirectionAndReason } from './teams/command-parser.ts';
import { createBotAdapter } from './teams/create-bot-adapter.ts';
import { createHttpServer } from './teams/create-http-server.ts';
import { createTeamsApp } from './teams/create-teams-app.ts';
import { createRequestCardTracker, type RequestCardTracker } from './teams/request-card-tracker.ts';
import { createRosterNames } from './teams/roster-names.ts';
import { createTurnStorage } from './teams/store-turn-storage.ts';
import { TeamsNotifier } from './teams/teams-notifier.ts';
import { buildAlertCard } from './teams/views/alert-card.ts';
import { buildAuditAnchorCard } from './teams/views/audit-anchor-card.ts';
import { createNudgeMessages } from './teams/views/nudge-messages.ts';
import { buildReportCard } from './teams/views/report-card.ts';

// The composition root, in four steps: the back ends (URLs, or the embedded simulator), the services
// over them and the store, the HTTP server with the Teams app, and the sweeps. Each step registers how
// it is closed; close() undoes them in reverse order.

const demoRolesFile = join(projectRoot, 'config', 'roles.demo.json');

/** The two back ends and the clock their spam minutes run on. */
export interface BackEnds {
  inventory: InventoryPort;
  gateway: GatewayPort;
  /** The gateway's clock: the embedded simulator's simulated time, otherwise the bot's. */
  gatewayNow: () => Date;
  /** The embedded simulator's base URL, when one was started. */
  simUrl: string | null;
}

export interface RunningLagebot {
  url: string;
  port: number;
  simUrl: string | null;
  inventory: InventoryPort;
  gateway: GatewayPort;
  store: Store;
  release: ReleaseService;
  executor: ReleaseExecutor;
  cards: RequestCardTracker;
  watcher: SpamWatcher;
  alertDelivery: AlertDelivery;
  /** Reminders, escalations and requester notes: `tick()` plans and sends what is due (the sweep calls it). */
  nudges: RequestNudges;
  /** Daily reports: `tick()` plans and sends the reports due (the sweep calls it). */
  reports: DailyReports;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: PinoLogger;
  /** Clock of the bot process (the simulator keeps its own). */
  now?: () => Date;
  /** Back ends to use instead of the configured URLs or the embedded simulator (another estate, tests). */
  backEnds?: Omit<BackEnds, 'simUrl'>;
  /** The executor's backoff between gateway retries (default 1 s doubling up to 60 s); tests shorten it. */
  executorRetry?: { baseMs: number; maxMs: number };
  /**
   * How the HTTP clients of the configured back ends wait before they retry a call (the API's Retry-After,
   * or their backoff); default a timer. Tests record the waits instead of sitting them out.
   */
  upstreamSleep?: (ms: number) => Promise<void>;
  /** The spam watcher's warm-up history in minutes (default three days); tests of a large estate shorten it. */
  watcherWarmUpMinutes?: number;
  /**
   * The demo's one clock per card: requests (created, expires, decided) are stamped with the back ends'
   * clock — the embedded simulator's time — so they never contradict the data's "Stand" on a card.
   * Leases, retries, caches and rate limits stay on the process clock.
   */
  requestsOnBackEndClock?: boolean;
}

interface Services {
  status: StatusService;
  audit: AuditLogReader;
  release: ReleaseService;
  typed: TypedDecisions;
  executor: ReleaseExecutor;
  cards: RequestCardTracker;
  delivery: AlertDelivery;
  alerts: AlertService;
  watcher: SpamWatcher;
  nudges: RequestNudges;
  reports: DailyReports;
  roles: RolesConfig;
}

type Closers = Array<() => Promise<void>>;

export async function startLagebot(config: Config, options: StartOptions = {}): Promise<RunningLagebot> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? (() => new Date());
  const metrics = createMetrics();
  const closers: Closers = [];
  const close = async () => {
    for (const closeOne of closers.splice(0).reverse()) {
      try {
        await closeOne();
      } catch (error) {
        logger.warn('error while closing', { err: describeError(error) });
      }
    }
  };
  try {
    const backEnds = options.backEnds
      ? { ...options.backEnds, simUrl: null }
      : await startBackEnds(config, logger, metrics, now, closers, options.upstreamSleep);
    const { store, anchoring } = await openAuditedStore(config, logger, now, closers);
    const adapter = createBotAdapter(config);
    const sender = new TeamsNotifier(adapter, config.bot.appId, store, config.allowedTenants);
    if (config.audit.anchorConversation) {
      const conversation = proactiveConversationId(config.audit.anchorConversation);
      const lang = config.language === 'en' ? 'en' : 'de';
      anchoring.attachPoster(
        async (anchor) => void (await sender.send(conversation, buildAuditAnchorCard(anchor, lang))),
      );
    }
    const people = createRosterNames({
      adapter,
      appId: config.bot.appId,
      store,
      approversConversation: config.approversConversation,
      logger,
    });
    const services = createServices(
      config,
      {
        logger,
        metrics,
        now,
        requestNow: options.requestsOnBackEndClock ? backEnds.gatewayNow : now,
        backEnds,
        store,
        sender,
        people,
        executorRetry: options.executorRetry,
        watcherWarmUpMinutes: options.watcherWarmUpMinutes,
      },
      closers,
    );
    const { url, port } = await startHttp(
      config,
      { logger, metrics, now, backEnds, store, adapter, services },
      closers,
    );
    await startSweeps(config, { logger, services }, closers);
    return {
      url,
      port,
      simUrl: backEnds.simUrl,
      inventory: backEnds.inventory,
      gateway: backEnds.gateway,
      store,
      release: services.release,
      executor: services.executor,
      cards: services.cards,
      watcher: services.watcher,
      alertDelivery: services.delivery,
      nudges: services.nudges,
      reports: services.reports,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The configured back ends, or — without their URLs — the embedded simulator, through the same HTTP clients. */
async function startBackEnds(
  config: Config,
  logger: PinoLogger,
  metrics: Metrics,
  now: () => Date,
  closers: Closers,
  sleep: StartOptions['upstreamSleep'],
): Promise<BackEnds> {
  let simUrl: string | null = null;
  let gatewayNow = now;
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
    // The watcher reads the gateway's minutes, so it runs on the gateway's clock: simulated time when the
    // simulator is the gateway (not with GATEWAY_API_URL on a real one, e.g. the mail lab).
    if (!config.gateway.url) gatewayNow = () => new Date(sim.sim.now());
    const serves = [config.inventory.url ? null : 'INVENTORY_API_URL', config.gateway.url ? null : 'GATEWAY_API_URL']
      .filter(Boolean)
      .join('/');
    logger.info(
      `${serves} not set: using the embedded simulator at ${sim.url} for it (scenario ${config.sim.scenario}, ${config.sim.devices} devices)`,
      { simUrl: sim.url },
    );
  }
  const onCall = (service: string, _route: string, outcome: string) => metrics.upstreamCalls.inc({ service, outcome });
  const inventory = new InventoryHttpClient({
    baseUrl: config.inventory.url ?? `${simUrl}/inventory/v1`,
    token: config.inventory.token,
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    onCall,
    sleep,
  });
  const gateway = new GatewayHttpClient({
    baseUrl: config.gateway.url ?? `${simUrl}/gateway/v1`,
    token: config.gateway.token,
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    onCall,
    sleep,
  });
  return { inventory, gateway, gatewayNow, simUrl };
}

/**
 * The store, its audit log keyed and anchored (issue 13): every commit leaves a checkpoint in
 * AUDIT_ANCHOR_FILE, and a log written before it had a key is brought under the key once — not when the
 * anchor file already holds anchors: then the log was keyed before, and an unkeyed head means someone
 * stripped the MACs, which `audit verify` must report rather than a seal paper over.
 */
async function openAuditedStore(
  config: Config,
  logger: PinoLogger,
  now: () => Date,
  closers: Closers,
): Promise<{ store: Store; anchoring: AuditAnchoring }> {
  const auditKeys = loadAuditKeys(config, { generate: true, logger });
  const file = config.audit.anchorFile;
  const anchoring = createAuditAnchoring({
    anchorOf: (head, at) => makeAuditAnchor(head, auditKeys, at),
    appendToFile: file ? (anchor) => appendAuditAnchor(file, anchor) : undefined,
    postIntervalMs: config.audit.anchorIntervalMs,
    now,
    logger,
  });
  const store = await createStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    logger,
    auditKeys,
    onAuditCommitted: (head) => anchoring.record(head),
  });
  closers.push(() => store.close());
  // Closed before the store: the last anchor post still finds the conversation's reference.
  closers.push(() => anchoring.close());
  const anchors = file ? readAuditAnchors(file) : { ok: true as const, anchors: [] };
  if (anchors.ok && anchors.anchors.length === 0) {
    const sealed = await store.sealAuditLog(now().toISOString());
    if (sealed > 0) logger.info(`audit log brought under its key: ${sealed} entries written (audit.sealed)`);
  }
  return { store, anchoring };
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

/** The use cases over the back ends and the store; proactive cards go through `sender`. */
function createServices(
  config: Config,
  deps: {
    logger: PinoLogger;
    metrics: Metrics;
    now: () => Date;
    /** The clock requests are stamped with (StartOptions.requestsOnBackEndClock). */
    requestNow: () => Date;
    backEnds: BackEnds;
    store: Store;
    sender: ProactiveSender;
    people: PeopleDirectory;
    executorRetry: StartOptions['executorRetry'];
    watcherWarmUpMinutes: StartOptions['watcherWarmUpMinutes'];
  },
  closers: Closers,
): Services {
  const { logger, metrics, now, store, sender } = deps;
  const { inventory, gateway, gatewayNow } = deps.backEnds;
  const roles = loadRoles(config, logger);
  const status = createStatusService({ inventory, gateway, now, cacheSeconds: config.statusCacheSeconds, logger });
  const regions = () => status.regionIndex();
  // The tracker reads requests from the store, not through the release service, which tells it about
  // every transition: created first, it needs nothing created after it.
  const cards = createRequestCardTracker({ store, sender, read: (id) => readRequest(store, id), roles, logger });
  const sendQueue = createSendQueue({ sender, logger, onDepth: (n) => metrics.sendQueueDepth.set(n) });
  const nudges = createRequestNudges({
    store,
    sender: sendQueue,
    people: deps.people,
    render: createNudgeMessages(config.language === 'en' ? 'en' : 'de', roles),
    roles,
    approversConversation: config.approversConversation,
    reminderMs: config.nudges.reminderMs,
    reminderMax: config.nudges.reminderMax,
    escalationMs: config.nudges.escalationMs,
    holder: config.replicaId,
    now,
    logger,
  });
  const release = createReleaseService({
    store,
    inventory,
    gateway,
    regions,
    roles,
    now: deps.requestNow,
    ttlMs: config.requestTtlMs,
    retryWindowMs: config.requestRetryWindowMs,
    holder: config.replicaId,
    newId: () => `r-${randomUUID().slice(0, 8)}`,
    logger,
    parseDirectionAndReason,
    onTransition: async (request) => {
      cards.schedule(request.id);
      await nudges.onTransition(request);
    },
  });
  const typed = createTypedDecisions({
    release,
    store,
    now,
    newCode: () => String(randomInt(0, 1_000_000)).padStart(6, '0'),
    logger,
  });
  const executor = createReleaseExecutor({
    store,
    gateway,
    service: release,
    holder: config.replicaId,
    now,
    logger,
    gatewayConcurrency: config.gatewayConcurrency,
    ...(deps.executorRetry ? { retry: deps.executorRetry } : {}),
    onRetrying: (requestId, domain) => {
      cards.markRetrying(requestId, [domain]);
      cards.schedule(requestId);
    },
    // Own writes are seen at once: the next `status` reads the gateway again.
    onGatewayChanged: () => status.gatewayChanged(),
  });
  closers.push(async () => {
    await executor.close();
    await cards.flush();
  });
  const delivery = createAlertDelivery({
    store,
    sender: sendQueue,
    render: buildAlertCard,
    now: gatewayNow,
    holder: config.replicaId,
    claimClock: now,
    logger,
    metrics,
  });
  const alerts = createAlertService({ store, delivery, regions, roles, now: gatewayNow, logger });
  const watcher = createSpamWatcher({
    store,
    gateway,
    regions,
    delivery,
    now: gatewayNow,
    intervalMs: config.spamWatchIntervalSeconds * 1000,
    holder: config.replicaId,
    ...(deps.watcherWarmUpMinutes === undefined ? {} : { backfillMinutes: deps.watcherWarmUpMinutes }),
    logger,
    metrics,
  });
  closers.push(async () => {
    await watcher.stop();
    await delivery.drain(5000);
  });
  const audit = createAuditLogReader({ store, regions });
  const reports = createDailyReports({
    store,
    inventory,
    gateway,
    regions,
    roles,
    people: deps.people,
    sender: sendQueue,
    render: buildReportCard,
    // The back ends' clock: in the demo the simulator's, so the February days are reported one by one.
    now: gatewayNow,
    catchUpWindowMs: config.nudges.catchUpWindowMs,
    holder: config.replicaId,
    logger,
  });
  return { status, audit, release, typed, executor, cards, delivery, alerts, watcher, nudges, reports, roles };
}

/** The Teams app behind POST /api/messages, with health, readiness and metrics. */
async function startHttp(
  config: Config,
  deps: {
    logger: PinoLogger;
    metrics: Metrics;
    now: () => Date;
    backEnds: BackEnds;
    store: Store;
    adapter: ReturnType<typeof createBotAdapter>;
    services: Services;
  },
  closers: Closers,
): Promise<{ url: string; port: number }> {
  const { logger, metrics, now, store, adapter, services } = deps;
  const { inventory, gateway } = deps.backEnds;
  const app = createTeamsApp({
    adapter,
    storage: createTurnStorage(store),
    logger,
    metrics,
    status: services.status,
    audit: services.audit,
    store,
    allowedTenants: config.allowedTenants,
    now,
    alerts: services.alerts,
    reports: services.reports,
    language: config.language,
    userRateLimit: config.userRateLimit,
    release: {
      service: services.release,
      typed: services.typed,
      // After the invoke response is on its way: the click is answered at once ("wird ausgeführt"),
      // the gateway calls follow, well inside Teams' invoke timeout (bench/release).
      execute: (requestId) => setImmediate(() => void services.executor.run(requestId)),
      cards: services.cards,
      store,
      roles: services.roles,
      approversConversation: config.approversConversation,
      logger,
      metrics,
    },
  });

  let draining = false;
  const server = createHttpServer({
    processActivity: (req, res) =>
      adapter.handleRequest(req, res, async (context) => {
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
    allowedOrigins: config.allowedOrigins,
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
    { url },
  );
  return { url, port };
}

/**
 * The spam watcher, executions a previous process left unfinished (completed exactly once), and the
 * periodic sweep: requests past their time expire, and executions that stopped on a store or gateway
 * outage — or that a crashed replica left behind once its claims expire — are resumed; so are, on the
 * watcher's leader, alert deliveries whose replica died holding their claim (src/services/deliver-alerts.ts).
 */
async function startSweeps(
  config: Config,
  deps: { logger: PinoLogger; services: Services },
  closers: Closers,
): Promise<void> {
  const { logger } = deps;
  const { release, executor, watcher, delivery, nudges, reports } = deps.services;
  if (config.spamWatchIntervalSeconds > 0 && !config.noSpamWatcher) watcher.start();
  const resumed = await executor.resumeAll();
  if (resumed > 0) logger.info(`resumed ${resumed} unfinished executions`);
  const sweep = setInterval(() => {
    release.expireDue().catch((error) => logger.warn('expiry sweep failed', { err: describeError(error) }));
    executor.resumeAll().catch((error) => logger.warn('resume sweep failed', { err: describeError(error) }));
    nudges.tick().catch((error) => logger.warn('reminder sweep failed', { err: describeError(error) }));
    reports.tick().catch((error) => logger.warn('report sweep failed', { err: describeError(error) }));
    if (watcher.isLeader()) {
      delivery
        .resumePending()
        .catch((error) => logger.warn('alert resume sweep failed', { err: describeError(error) }));
    }
  }, config.sweepIntervalMs);
  sweep.unref();
  closers.push(async () => clearInterval(sweep));
}
