import type { TurnContext } from 'botbuilder';
import restify from 'restify';
import type { Logger } from '../domain/logger.ts';

// The bot's HTTP surface (README "Stable surfaces"): POST /api/messages, GET /healthz, /readyz, /metrics.

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpServerDeps {
  /** The Bot Framework adapter's process(): parses, authenticates (when configured) and runs the turn. */
  processActivity: (req: restify.Request, res: restify.Response) => Promise<void>;
  readiness: ReadinessCheck[];
  metricsText: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  /** Largest accepted request body. Teams activities are far below 256 KB; a card submit carries only ids. */
  maxBodyBytes?: number;
  readinessTimeoutMs?: number;
  /** Set while draining on SIGTERM: new turns get 503. */
  isDraining?: () => boolean;
}

export type TurnLogic = (context: TurnContext) => Promise<void>;

export interface LagebotHttpServer extends restify.Server {
  /** Resolves when no turn is in flight any more, or after timeoutMs (then false). */
  drain(timeoutMs: number): Promise<boolean>;
}

export function createHttpServer(deps: HttpServerDeps): LagebotHttpServer {
  const server = restify.createServer({ name: 'lagebot', handleUncaughtExceptions: false }) as LagebotHttpServer;
  let inFlight = 0;
  server.drain = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    return inFlight === 0;
  };
  const maxBodySize = deps.maxBodyBytes ?? 256 * 1024;
  server.use(restify.plugins.bodyParser({ maxBodySize, mapParams: false, rejectUnknown: true }));

  server.post('/api/messages', async (req, res) => {
    if (deps.isDraining?.()) {
      res.send(503, { error: 'shutting_down' });
      return;
    }
    const body = req.body as unknown;
    if (
      typeof body !== 'object' ||
      body === null ||
      Array.isArray(body) ||
      typeof (body as { type?: unknown }).type !== 'string'
    ) {
      res.send(400, { error: 'expected a Bot Framework activity (JSON object with a type)' });
      return;
    }
    inFlight++;
    try {
      await deps.processActivity(req, res);
    } catch (error) {
      deps.logger.error('activity processing failed', { err: describeError(error) });
      if (!res.headersSent) res.send(500, { error: 'internal_error' });
    } finally {
      inFlight--;
    }
  });

  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok' });
  });

  server.get('/readyz', async (_req, res) => {
    const timeoutMs = deps.readinessTimeoutMs ?? 3000;
    const results = await Promise.all(
      deps.readiness.map(async (r) => {
        try {
          await withTimeout(r.check(), timeoutMs, `${r.name} did not answer within ${timeoutMs} ms`);
          return { name: r.name, ok: true as const };
        } catch (error) {
          return { name: r.name, ok: false as const, reason: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok);
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : r.reason]));
    if (deps.isDraining?.()) {
      res.send(503, { status: 'draining', checks });
      return;
    }
    res.send(failing.length === 0 ? 200 : 503, { status: failing.length === 0 ? 'ready' : 'not_ready', checks });
  });

  server.get('/metrics', async (_req, res) => {
    const { contentType, body } = await deps.metricsText();
    res.setHeader('content-type', contentType);
    res.sendRaw(200, body);
  });

  return server;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, code: (error as { code?: unknown }).code, stack: error.stack };
  }
  return { message: String(error) };
}
