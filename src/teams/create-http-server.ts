import type { TurnContext } from 'botbuilder';
import restify from 'restify';
import { z } from 'zod';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import { createInFlight } from '../services/create-in-flight.ts';
import type { BotRequestRejection } from './create-bot-adapter.ts';
import { createRejectionLog } from './create-rejection-log.ts';
import { refuseCrossSitePosts } from './refuse-cross-site-posts.ts';

// The bot's HTTP surface (README "Stable surfaces"): POST /api/messages, GET /healthz, /readyz, /metrics.

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpServerDeps {
  /**
   * The Bot Framework adapter: authenticates (when configured) and runs the turn, answering the request;
   * a refused request is returned unanswered (LagebotAdapter.handleRequest).
   */
  processActivity: (req: restify.Request, res: restify.Response) => Promise<BotRequestRejection | null | undefined>;
  readiness: ReadinessCheck[];
  metricsText: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  /** Largest accepted request body. Teams activities are far below 256 KB; a card submit carries only ids. */
  maxBodyBytes?: number;
  readinessTimeoutMs?: number;
  /** Set while draining on SIGTERM: new turns get 503. */
  isDraining?: () => boolean;
  /** Origins (scheme://host[:port]) whose browser requests may reach /api/messages; none by default. */
  allowedOrigins?: readonly string[];
  /** Clock of the per-source limit on log lines about refused requests. */
  now?: () => number;
}

// Ask again after the signing keys could not be fetched (botbuilder retries fetching on the next request).
const KEYS_RETRY_AFTER_SECONDS = 30;

// The fields botbuilder dereferences before our code runs: a wrong type there makes it answer 500 with
// its own error message (found by test/integration/fuzz.test.ts). Unknown fields pass.
const activityShape = z
  .object({
    type: z.string().min(1).max(100),
    serviceUrl: z.string().max(2000).optional(),
    channelId: z.string().max(200).optional(),
    id: z.string().max(500).optional(),
    conversation: z
      .object({ id: z.string().max(1000) })
      .passthrough()
      .optional(),
    from: z
      .object({ id: z.string().max(1000).optional() })
      .passthrough()
      .optional(),
    recipient: z
      .object({ id: z.string().max(1000).optional() })
      .passthrough()
      .optional(),
    text: z.string().optional(),
    locale: z.string().max(100).optional(),
    name: z.string().max(200).optional(),
  })
  .passthrough();

/**
 * botbuilder answers an error thrown before or around the turn with 500 and the error's message as the
 * body. The message stays in our log; the caller gets a plain 500.
 */
function withoutInternals(res: restify.Response, logger: Logger): restify.Response {
  let status = 200;
  return new Proxy(res, {
    get(target, prop, receiver) {
      if (prop === 'status') {
        return (code: number) => {
          status = code;
          return target.status(code);
        };
      }
      if (prop === 'send') {
        return (body?: unknown) => {
          if (status >= 500) {
            logger.error('activity failed inside the Bot Framework adapter', {
              status,
              detail: String(body).slice(0, 300),
            });
            return target.send({ error: 'internal_error' });
          }
          return target.send(body);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export type TurnLogic = (context: TurnContext) => Promise<void>;

export interface LagebotHttpServer extends restify.Server {
  /** Resolves when no turn is in flight any more, or after timeoutMs (then false). */
  drain(timeoutMs: number): Promise<boolean>;
}

export function createHttpServer(deps: HttpServerDeps): LagebotHttpServer {
  const server = restify.createServer({ name: 'lagebot', handleUncaughtExceptions: false }) as LagebotHttpServer;
  const turns = createInFlight();
  server.drain = (timeoutMs: number) => turns.drain(timeoutMs);
  const maxBodySize = deps.maxBodyBytes ?? 256 * 1024;
  const rejections = createRejectionLog(deps.logger, deps.now);

  // Only JSON from no browser origin reaches the body parser (issue 13: CSRF into the loopback bot).
  const guard = refuseCrossSitePosts(deps.allowedOrigins ?? []);
  const parseBody = restify.plugins.bodyParser({ maxBodySize, mapParams: false, rejectUnknown: true });
  server.post('/api/messages', guard, ...parseBody, async (req: restify.Request, res: restify.Response) => {
    if (deps.isDraining?.()) {
      res.send(503, { error: 'shutting_down' });
      return;
    }
    if (!activityShape.safeParse(req.body).success) {
      res.send(400, { error: 'expected a Bot Framework activity (JSON object with a type)' });
      return;
    }
    try {
      const rejection = await turns.track(deps.processActivity(req, withoutInternals(res, deps.logger)));
      if (rejection) {
        rejections.record(req.socket?.remoteAddress ?? 'unknown', rejection);
        if (rejection.status === 503) {
          res.header('Retry-After', String(KEYS_RETRY_AFTER_SECONDS));
          res.send(503, { error: 'authentication_unavailable' });
        } else {
          // Generic on purpose: which claim failed is for our log, not for whoever sent the token.
          res.send(401, { error: 'unauthorized' });
        }
      }
    } catch (error) {
      deps.logger.error('activity processing failed', { err: describeError(error) });
      if (!res.headersSent) res.send(500, { error: 'internal_error' });
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
          // /readyz is on the public port in production: it names the dependency, the upstream's own
          // words (hosts, versions, errors) go to the log only (issue 13).
          deps.logger.warn('readiness check failed', { dependency: r.name, err: describeError(error) });
          return { name: r.name, ok: false as const };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok);
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : 'unavailable']));
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
