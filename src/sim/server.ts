import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { ErrorBody, Health } from '../contracts/common.ts';
import { bulkChangeRequest, direction, domainChangeRequest } from '../contracts/gateway.ts';
import { deviceKind, patchState, regionId } from '../contracts/inventory.ts';
import { clockRequest, faultRequest, resetRequest, spamRequest } from '../contracts/sim.ts';
import type { Fault } from './faults.ts';
import { badRequest, SimError } from './sim-error.ts';
import { createSimulator, type SimOptions, type Simulator } from './simulator.ts';

export type { SimOptions, Simulator } from './simulator.ts';

// Both back-end APIs and the scenario controls on one node:http server, no framework:
//   /inventory/v1/...  /gateway/v1/...  (bearer token when configured)   /sim/v1/... (open)
// Every answer is JSON; every error is the contract's { error: { code, message, details? } }.

export interface SimServer {
  url: string;
  port: number;
  sim: Simulator;
  close(): Promise<void>;
}

export const SIM_VERSION = '1.0.0-sim';
// 1 MiB is far above any legitimate request (the largest is a bulk change naming domains).
export const MAX_BODY_BYTES = 1024 * 1024;

type Api = 'inventory' | 'gateway' | 'sim';
interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}
interface Ctx {
  req: IncomingMessage;
  query: URLSearchParams;
  params: string[];
  body: unknown;
}
interface Route {
  api: Api;
  method: 'GET' | 'POST' | 'PATCH';
  path: RegExp;
  mutation?: boolean; // a gateway change: `phase: after` faults apply it, then fail the answer
  handle(ctx: Ctx): Reply;
}

const BASES: ReadonlyArray<readonly [Api, string]> = [
  ['inventory', '/inventory/v1'],
  ['gateway', '/gateway/v1'],
  ['sim', '/sim/v1'],
];

export async function startSimServer(opts: SimOptions & { port?: number; host?: string } = {}): Promise<SimServer> {
  const sim = createSimulator(opts);
  const routes = buildRoutes(sim);
  const sleepers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          sleepers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      sleepers.add(entry);
    });
  let requestSeq = 0;

  const server = createServer((req, res) => {
    const requestId = `sim-${++requestSeq}`;
    handle(req, res, requestId).catch((err: unknown) => {
      // A bug in the simulator: answer 500 without leaking internals, keep serving.
      console.error(`[sim] ${requestId} ${req.method} ${req.url}:`, err);
      sendError(res, requestId, 500, 'internal', 'internal simulator error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    res.setHeader('x-request-id', requestId);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sim.invalid');
    } catch {
      return sendError(res, requestId, 400, 'invalid_request', 'malformed request target');
    }
    const base = BASES.find(([, prefix]) => url.pathname === prefix || url.pathname.startsWith(`${prefix}/`));
    if (!base) return sendError(res, requestId, 404, 'not_found', `no such path: ${url.pathname}`);
    const [api, prefix] = base;
    const token = api === 'sim' ? undefined : opts.tokens?.[api];
    if (token !== undefined && !hasBearer(req, token)) {
      res.setHeader('www-authenticate', 'Bearer realm="lagebot-sim"');
      return sendError(res, requestId, 401, 'unauthorized', `missing or wrong bearer token for the ${api} API`);
    }
    const path = url.pathname.slice(prefix.length) || '/';
    const candidates = routes.filter((r) => r.api === api && r.path.test(path));
    if (candidates.length === 0) return sendError(res, requestId, 404, 'not_found', `no such path: ${url.pathname}`);
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader('allow', [...new Set(candidates.map((r) => r.method))].join(', '));
      return sendError(res, requestId, 405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    }

    const fault: Fault | null = api === 'sim' ? null : sim.drawFault(api);
    if (fault?.mode === 'latency') await sleep(fault.ms);
    const failing = fault && fault.mode !== 'latency' ? fault : null;
    const failAfter = failing !== null && failing.phase === 'after' && route.mutation === true;
    if (failing && !failAfter) return injectFault(req, res, requestId, failing);

    let body: unknown;
    if (req.method !== 'GET') {
      const read = await readBody(req);
      if (read === 'too_large') {
        res.setHeader('connection', 'close');
        return sendError(res, requestId, 413, 'payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      try {
        body = read.trim() === '' ? {} : JSON.parse(read);
      } catch {
        return sendError(res, requestId, 400, 'invalid_json', 'request body is not valid JSON');
      }
    }

    let reply: Reply;
    try {
      const params = route.path.exec(path)!.slice(1).map(decodeURIComponent);
      reply = route.handle({ req, query: url.searchParams, params, body });
    } catch (err) {
      if (err instanceof SimError) return sendError(res, requestId, err.status, err.code, err.message, err.details);
      if (err instanceof z.ZodError) {
        const details = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        return sendError(res, requestId, 400, 'invalid_request', 'request is not valid', details);
      }
      if (err instanceof URIError) return sendError(res, requestId, 400, 'invalid_request', 'malformed path');
      throw err;
    }
    // The lost-answer case: the change is made, the caller never learns it.
    if (failAfter) return injectFault(req, res, requestId, failing);
    send(res, reply.status ?? 200, reply.body, reply.headers);
  }

  async function injectFault(req: IncomingMessage, res: ServerResponse, requestId: string, fault: Fault) {
    if (fault.mode === 'timeout') {
      await sleep(fault.ms);
      req.socket.destroy();
      return;
    }
    res.setHeader('retry-after', '1');
    sendError(res, requestId, fault.status, 'fault_injected', `injected ${fault.target} fault (${fault.phase})`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    sim,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sleepers) {
          clearTimeout(s.timer);
          s.done();
        }
        sleepers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function buildRoutes(sim: Simulator): Route[] {
  const health = (): Reply => ({
    body: { status: 'ok', time: new Date(sim.now()).toISOString(), version: SIM_VERSION } satisfies Health,
  });
  const r = (api: Api, method: Route['method'], path: string, handle: Route['handle'], mutation = false): Route => ({
    api,
    method,
    path: new RegExp(`^${path.replace(/\{[a-z]+\}/g, '([^/]+)')}/?$`),
    handle,
    mutation,
  });
  const list = z.string().transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  );
  const limit = z.coerce.number().int().min(1).max(1000).optional();
  const regionQuery = z.object({
    municipality: regionId.optional(),
    kreis: regionId.optional(),
    verband: regionId.optional(),
  });

  return [
    r('inventory', 'GET', '/health', health),
    r('inventory', 'GET', '/regions', () => ({ body: { items: sim.regions(), levels: sim.levels() } })),
    r('inventory', 'GET', '/patches', () => ({ body: { items: sim.patches() } })),
    r('inventory', 'GET', '/devices', ({ query }) => {
      const q = parseQuery(
        z.object({ region: regionId.optional(), kind: deviceKind.optional(), limit, cursor: z.string().optional() }),
        query,
      );
      return { body: sim.devices(q) };
    }),
    r('inventory', 'GET', '/patch-states', ({ query }) => {
      const q = parseQuery(
        z.object({
          patch: z.string().min(1),
          region: regionId.optional(),
          state: list.pipe(z.array(patchState)).optional(),
          kind: deviceKind.optional(),
          sort: z.enum(['priority', 'hostname', 'lastSeenAt']).optional(),
          limit,
          cursor: z.string().optional(),
        }),
        query,
      );
      const { state, ...rest } = q;
      return { body: sim.patchStates({ ...rest, states: state }) };
    }),
    r('inventory', 'GET', '/compliance', ({ query }) => {
      const q = parseQuery(z.object({ region: regionId, patch: z.string().min(1).optional() }), query);
      return { body: sim.compliance(q.region, q.patch) };
    }),
    r('inventory', 'GET', '/compliance/history', ({ query }) => {
      const q = parseQuery(
        z.object({
          region: regionId,
          patch: z.string().min(1),
          from: z.string().datetime({ offset: true }),
          to: z.string().datetime({ offset: true }),
          stepMinutes: z.coerce.number().int().min(1).max(10_080).optional(),
        }),
        query,
      );
      return { body: sim.history(q) };
    }),

    r('gateway', 'GET', '/health', health),
    r('gateway', 'GET', '/domains', ({ query }) => ({ body: { items: sim.domains(parseQuery(regionQuery, query)) } })),
    r('gateway', 'GET', '/domains/{domain}', ({ params }) => {
      const domain = sim.domain(params[0]!);
      return { body: domain, headers: { etag: `"${domain.version}"` } };
    }),
    r(
      'gateway',
      'PATCH',
      '/domains/{domain}',
      ({ req, params, body }) => {
        const idempotencyKey = requireIdempotencyKey(req);
        const ifMatch = parseIfMatch(req);
        const change = domainChangeRequest.parse(body);
        const result = sim.changeDomain(params[0]!, change, { idempotencyKey, ifMatch });
        return {
          body: result,
          headers: { etag: `"${result.domain.version}"`, ...replayedHeader(result.replayed) },
        };
      },
      true,
    ),
    r(
      'gateway',
      'POST',
      '/changes',
      ({ req, body }) => {
        const key = requireIdempotencyKey(req);
        const result = sim.bulkChange(bulkChangeRequest.parse(body), key);
        return { body: result, headers: replayedHeader(result.replayed) };
      },
      true,
    ),
    r('gateway', 'GET', '/queues', ({ query }) => {
      const q = parseQuery(
        regionQuery.omit({ municipality: true }).extend({ domain: z.string().min(1).optional() }),
        query,
      );
      return { body: { items: sim.queues(q) } };
    }),
    r(
      'gateway',
      'POST',
      '/queues/{domain}/{direction}/release',
      ({ req, params, body }) => {
        const dir = direction.safeParse(params[1]);
        if (!dir.success) throw new SimError(404, 'not_found', `no such direction '${params[1]}': inbound or outbound`);
        const key = requireIdempotencyKey(req);
        const b = z.object({ actor: z.string().min(1).max(200), reason: z.string().min(3).max(500) }).parse(body);
        const { result, replayed } = sim.releaseQueue(params[0]!, dir.data, b, key);
        return { body: result, headers: replayedHeader(replayed) };
      },
      true,
    ),
    r('gateway', 'GET', '/metrics/spam', ({ query }) => {
      const q = parseQuery(
        z.object({
          from: z.string().datetime({ offset: true }),
          to: z.string().datetime({ offset: true }),
          domain: list.pipe(z.array(z.string()).min(1)).optional(),
          kreis: regionId.optional(),
          verband: regionId.optional(),
          limit,
          cursor: z.string().optional(),
        }),
        query,
      );
      const { domain, ...rest } = q;
      return { body: sim.spamMetrics({ ...rest, domains: domain }) };
    }),
    r('gateway', 'GET', '/audit', ({ query }) => {
      const q = parseQuery(
        z.object({ since: z.string().datetime({ offset: true }).optional(), limit, cursor: z.string().optional() }),
        query,
      );
      return { body: sim.audit(q) };
    }),

    r('sim', 'GET', '/clock', () => ({ body: sim.clock() })),
    r('sim', 'POST', '/clock', ({ body }) => {
      const b = clockRequest.parse(body);
      if (b.advanceMinutes !== undefined) sim.advance(b.advanceMinutes);
      if (b.speed !== undefined) sim.setSpeed(b.speed);
      return { body: sim.clock() };
    }),
    r('sim', 'POST', '/reset', ({ body }) => {
      const b = resetRequest.parse(body);
      return { body: sim.reset(b.scenario, b.seed) };
    }),
    r('sim', 'POST', '/spam', ({ body }) => ({ body: sim.injectSpam(spamRequest.parse(body)) })),
    r('sim', 'GET', '/faults', () => ({ body: { active: sim.faults() } })),
    r('sim', 'POST', '/faults', ({ body }) => {
      const fault = sim.setFault(faultRequest.parse(body));
      return { body: { fault, active: sim.faults() } };
    }),
  ];
}

function replayedHeader(replayed: boolean): Record<string, string> {
  return replayed ? { 'idempotent-replayed': 'true' } : {};
}

function parseQuery<T extends z.ZodTypeAny>(schema: T, query: URLSearchParams): z.infer<T> {
  const raw: Record<string, string> = {};
  for (const [k, v] of query) if (!(k in raw)) raw[k] = v;
  return schema.parse(raw);
}

function requireIdempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key.trim() === '') {
    throw badRequest('idempotency_key_required', 'the Idempotency-Key header is required for changes');
  }
  if (key.length > 255) throw badRequest('invalid_request', 'Idempotency-Key is longer than 255 characters');
  return key;
}

// If-Match: "<version>" (RFC 9110 entity tag; weak tags and a bare number are accepted too).
function parseIfMatch(req: IncomingMessage): number | undefined {
  const raw = req.headers['if-match'];
  if (raw === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(raw);
  if (!m) throw badRequest('invalid_request', 'If-Match must be a version entity tag like "3"');
  return Number(m[1]);
}

function hasBearer(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function readBody(req: IncomingMessage): Promise<string | 'too_large'> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    req.resume();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
      } else if (!over) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(over ? 'too_large' : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  requestId: string,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): void {
  const body: ErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) }, requestId };
  send(res, status, body);
}
