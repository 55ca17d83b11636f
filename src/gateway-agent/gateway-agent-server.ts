import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { bulkChangeRequest, direction as directionSchema, domainChangeRequest } from '../contracts/gateway.ts';
import { type ChangeOutcome, type DomainChange, type GatewayAgent, Unavailable } from './gateway-agent.ts';

// /gateway/v1 of api/gateway.openapi.yaml over the agent's core, on node:http without a framework (like
// the simulator): bearer token, JSON in and out, the contract's error body with a stable code, 503
// with Retry-After and the reason while Postfix or rspamd is down.

export const AGENT_VERSION = '1.0.0-postfix';
const BASE = '/gateway/v1';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_RANGE_MINUTES = 24 * 60;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

const regionQuery = z.object({
  municipality: z.string().min(1).optional(),
  kreis: z.string().min(1).optional(),
  verband: z.string().min(1).optional(),
});
const releaseBody = z.object({ actor: z.string().min(1).max(200), reason: z.string().min(3).max(500) }).strict();
const limitParam = z.coerce.number().int().min(1).max(1000).default(100);

export interface GatewayAgentServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

// Postfix or rspamd down: ask clients to come back in a second. The agent checks Postfix again at most once
// a second (ensureHealthy), and a Postfix start takes about that long; a longer wait only delays the
// bot's own schedule of retries, and with it the card's "wird wiederholt", by every client-side retry.
const RETRY_AFTER_SECONDS = '1';

export async function startGatewayAgentServer(
  agent: GatewayAgent,
  opts: { port: number; host: string; token?: string; now?: () => Date },
): Promise<GatewayAgentServer> {
  const now = opts.now ?? (() => new Date());
  let requests = 0;
  const server = createServer((req, res) => {
    const requestId = `ga-${++requests}`;
    handle(req)
      .then((reply) => send(res, requestId, reply.status ?? 200, reply.body, reply.headers))
      .catch((error: unknown) => {
        const e =
          error instanceof HttpError
            ? error
            : error instanceof Unavailable
              ? new HttpError(503, 'unavailable', error.message, undefined, { 'retry-after': RETRY_AFTER_SECONDS })
              : new HttpError(500, 'internal', 'internal error');
        if (e.status === 500) console.error(`gateway-agent ${requestId}:`, error);
        const body = {
          error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) },
          requestId,
        };
        send(res, requestId, e.status, body, e.headers);
      });
  });

  const authorized = (req: IncomingMessage): boolean => {
    if (!opts.token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${opts.token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  // One check at a time, shared by every request that arrives meanwhile; reads reuse a result for a
  // second. Mutations do not rely on it alone: the agent checks Postfix again before each batch.
  let healthCache: { at: number; problem: string | null } | null = null;
  let checking: Promise<string | null> | null = null;
  const ensureHealthy = async (fresh: boolean) => {
    if (fresh || !healthCache || Date.now() - healthCache.at > 1000) {
      checking ??= agent.health().finally(() => {
        checking = null;
      });
      const problem = await checking;
      healthCache = { at: Date.now(), problem };
    }
    if (healthCache.problem)
      throw new HttpError(503, 'unavailable', healthCache.problem, undefined, { 'retry-after': RETRY_AFTER_SECONDS });
  };

  async function handle(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (!url.pathname.startsWith(`${BASE}/`)) throw new HttpError(404, 'not_found', `no such path ${url.pathname}`);
    if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'missing or invalid bearer token');
    const path = url.pathname.slice(BASE.length);
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const mutation = method !== 'GET';
    await ensureHealthy(mutation);
    const domainPath = /^\/domains\/([^/]+)$/.exec(path);
    const releasePath = /^\/queues\/([^/]+)\/([^/]+)\/release$/.exec(path);
    if (method === 'GET' && path === '/health')
      return { body: { status: 'ok', time: now().toISOString(), version: AGENT_VERSION } };
    if (method === 'GET' && path === '/domains') {
      const filter = parse(regionQuery, Object.fromEntries(q));
      const items = agent.domains(filter);
      if (items === 'region_not_found')
        throw new HttpError(404, 'region_not_found', 'no domain of that region', filter);
      return { body: { items } };
    }
    if (domainPath) {
      const name = decodeURIComponent(domainPath[1] as string).toLowerCase();
      const current = agent.domain(name);
      if (!current) throw new HttpError(404, 'domain_not_found', `unknown domain '${name}'`, { domain: name });
      if (method === 'GET') return { body: current, headers: { etag: `"${current.version}"` } };
      if (method === 'PATCH') {
        const key = idempotencyKey(req);
        const body = parse(domainChangeRequest, await readJson(req));
        const ifMatch = parseIfMatch(req.headers['if-match']);
        const [outcome] = await agent.change([{ ...changeOf(name, body, key), ifMatch }]);
        return changeReply(outcome as ChangeOutcome, name);
      }
    }
    if (method === 'POST' && path === '/changes') {
      const key = idempotencyKey(req);
      const body = parse(bulkChangeRequest, await readJson(req));
      const { domains: names, ...regions } = body.selector;
      let selected = agent.domains(regions);
      if (selected === 'region_not_found') selected = [];
      if (names) selected = selected.filter((d) => names.includes(d.domain));
      const changes = selected.map((d) => changeOf(d.domain, body, `${key}:${d.domain}`));
      const outcomes = await agent.change(changes);
      if (outcomes.some((o) => o.kind === 'key_reused')) {
        throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', {
          idempotencyKey: key,
        });
      }
      const results = outcomes.map((o, i) => {
        const domain = (changes[i] as DomainChange).domain;
        if (o.kind === 'done')
          return {
            domain,
            status: o.body.changed ? 'changed' : 'unchanged',
            version: o.body.domain.version,
            error: null,
          };
        return {
          domain,
          status: 'failed',
          version: null,
          error: { code: 'version_conflict', message: 'domain changed meanwhile' },
        };
      });
      const replayed = outcomes.length > 0 && outcomes.every((o) => o.kind === 'done' && o.body.replayed);
      return { body: { results, replayed }, headers: replayed ? { 'idempotent-replayed': 'true' } : {} };
    }
    if (method === 'GET' && path === '/queues') {
      const filter = parse(regionQuery.extend({ domain: z.string().min(1).optional() }), Object.fromEntries(q));
      const { domain, ...regions } = filter;
      let names: string[];
      if (domain !== undefined) {
        if (!agent.configured(domain))
          throw new HttpError(404, 'domain_not_found', `unknown domain '${domain}'`, { domain });
        names = [domain];
      } else {
        const items = agent.domains(regions);
        if (items === 'region_not_found')
          throw new HttpError(404, 'region_not_found', 'no domain of that region', regions);
        names = items.map((d) => d.domain);
      }
      return { body: { items: await agent.queues(names) } };
    }
    if (method === 'POST' && releasePath) {
      const domain = decodeURIComponent(releasePath[1] as string).toLowerCase();
      const dir = parse(directionSchema, releasePath[2]);
      if (!agent.configured(domain))
        throw new HttpError(404, 'domain_not_found', `unknown domain '${domain}'`, { domain });
      const key = idempotencyKey(req);
      const body = parse(releaseBody, await readJson(req));
      const fingerprint = fingerprintOf({ release: domain, dir, ...body });
      const earlier = agent.storedAnswer(key);
      if (earlier) {
        if (earlier.fingerprint !== fingerprint) {
          throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', {
            idempotencyKey: key,
          });
        }
        return { body: earlier.body, headers: { 'idempotent-replayed': 'true' } };
      }
      return { body: await agent.release({ domain, direction: dir, ...body, key, fingerprint }) };
    }
    if (method === 'GET' && path === '/metrics/spam') return spamMetrics(q);
    if (method === 'GET' && path === '/audit') {
      const since = parse(z.string().datetime({ offset: true }).optional(), q.get('since') ?? undefined);
      const limit = parse(limitParam, q.get('limit') ?? undefined);
      const query = `since=${since ?? ''}`;
      const after = q.has('cursor') ? decodeCursor(q.get('cursor') as string, query) : 0;
      const rows = agent.audit({
        since: since ? new Date(since).toISOString() : undefined,
        afterSeq: after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const items = page.map(({ seq, ...r }) => ({ id: `gw-${String(seq).padStart(6, '0')}`, ...r }));
      const nextCursor = rows.length > limit ? encodeCursor(query, (page.at(-1) as { seq: number }).seq) : null;
      return { body: { items, nextCursor } };
    }
    throw new HttpError(404, 'not_found', `no such path ${method} ${url.pathname}`);
  }

  async function spamMetrics(q: URLSearchParams): Promise<Reply> {
    const iso = z.string().datetime({ offset: true });
    const from = new Date(parse(iso, q.get('from') ?? undefined));
    const to = new Date(parse(iso, q.get('to') ?? undefined));
    if (to <= from) throw new HttpError(400, 'invalid_request', 'to must be after from', { from, to });
    const minutes = Math.ceil((to.getTime() - from.getTime()) / 60_000);
    if (minutes > MAX_RANGE_MINUTES)
      throw new HttpError(400, 'range_too_large', 'the range may span at most 24 hours', { minutes });
    const limit = parse(limitParam, q.get('limit') ?? undefined);
    const selectors = ['domain', 'kreis', 'verband'].filter((k) => q.has(k));
    if (selectors.length > 1)
      throw new HttpError(400, 'invalid_request', 'select domains with one of domain, kreis or verband', { selectors });
    let names: string[];
    if (q.has('domain')) {
      names = (q.get('domain') as string).split(',').map((d) => d.trim().toLowerCase());
      const unknown = names.find((d) => !agent.configured(d));
      if (unknown !== undefined)
        throw new HttpError(404, 'domain_not_found', `unknown domain '${unknown}'`, { domain: unknown });
    } else {
      const items = agent.domains({ kreis: q.get('kreis') ?? undefined, verband: q.get('verband') ?? undefined });
      if (items === 'region_not_found') throw new HttpError(404, 'region_not_found', 'no domain of that region');
      names = items.map((d) => d.domain);
    }
    const query = `from=${from.toISOString()}&to=${to.toISOString()}&sel=${selectors[0] ?? ''}:${q.get(selectors[0] ?? '') ?? ''}&limit=${limit}`;
    const offset = q.has('cursor') ? decodeCursor(q.get('cursor') as string, query) : 0;
    const pageNames = names.slice(offset, offset + limit);
    // Only complete minutes: the answer's `to` is clipped to the start of the current minute.
    const fromMinute = Math.ceil(from.getTime() / 60_000);
    const toMinute = Math.min(Math.floor(to.getTime() / 60_000), Math.floor(now().getTime() / 60_000));
    const counts = await agent.spam(pageNames, fromMinute, Math.max(fromMinute, toMinute));
    const series = pageNames.map((domain) => {
      const m = counts.get(domain) ?? new Map();
      const points = [];
      for (let minute = fromMinute; minute < toMinute; minute++) {
        const c = m.get(minute) ?? { received: 0, spam: 0, rejected: 0 };
        points.push({ at: new Date(minute * 60_000).toISOString(), ...c, quarantined: 0 });
      }
      return { domain, points };
    });
    const clippedTo = new Date(Math.max(fromMinute, toMinute) * 60_000);
    return {
      body: {
        from: new Date(fromMinute * 60_000).toISOString(),
        to: clippedTo.toISOString(),
        bucketMinutes: 1,
        series,
        nextCursor: offset + limit < names.length ? encodeCursor(query, offset + limit) : null,
      },
    };
  }

  // Longer than clients keep idle connections (undici: 4 s), so a client never reuses a connection the
  // agent is closing at that moment (an ECONNRESET the bot would have to retry).
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host}:${port}${BASE}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function changeOf(
  domain: string,
  body: { inbound?: string; outbound?: string; reason: string; actor: string },
  key: string,
): DomainChange {
  const change = { inbound: body.inbound, outbound: body.outbound, reason: body.reason, actor: body.actor };
  return { domain, ...change, key, fingerprint: fingerprintOf({ domain, ...change }) } as DomainChange;
}

function changeReply(outcome: ChangeOutcome, domain: string): Reply {
  if (outcome.kind === 'key_reused') {
    throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
  }
  if (outcome.kind === 'conflict') {
    throw new HttpError(409, 'version_conflict', `domain changed meanwhile: version is ${outcome.currentVersion}`, {
      domain,
      currentVersion: outcome.currentVersion,
    });
  }
  const headers: Record<string, string> = { etag: `"${outcome.body.domain.version}"` };
  if (outcome.body.replayed) headers['idempotent-replayed'] = 'true';
  return { body: outcome.body, headers };
}

function fingerprintOf(value: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(value)
      .sort()
      .map((k) => [k, value[k] ?? null]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

function idempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new HttpError(400, 'idempotency_key_required', 'the Idempotency-Key header is required for changes');
  }
  return key;
}

function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = typeof header === 'string' ? /^"([1-9][0-9]*)"$/.exec(header.trim()) : null;
  if (!m)
    throw new HttpError(400, 'invalid_request', 'If-Match must be a version in double quotes, e.g. "3"', {
      ifMatch: header,
    });
  return Number(m[1]);
}

function parse<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new HttpError(
    400,
    'invalid_request',
    `invalid request: ${details.map((d) => `${d.path || 'value'}: ${d.message}`).join('; ')}`,
    details,
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'payload_too_large', 'the body may be at most 1 MiB');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON');
  }
}

function encodeCursor(query: string, position: number): string {
  return Buffer.from(JSON.stringify({ q: query, p: position }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, query: string): number {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { q?: unknown; p?: unknown };
    if (c.q === query && Number.isInteger(c.p) && (c.p as number) >= 0) return c.p as number;
  } catch {
    // falls through to the error below
  }
  throw new HttpError(400, 'invalid_cursor', 'cursor is not valid for this query');
}

function send(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, ...headers });
  res.end(text);
}
