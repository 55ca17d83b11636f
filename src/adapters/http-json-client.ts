import type { z } from 'zod';
import { errorBody } from '../contracts/common.ts';
import { type ErrorCode, LagebotError } from '../domain/errors.ts';
import { type Logger, silentLogger } from '../domain/logger.ts';

// The one HTTP/JSON transport both back-end clients use: base URL + bearer token, a timeout on every
// attempt, retries with exponential backoff and full jitter, every body checked with zod, every
// failure turned into a LagebotError whose message tells an operator what to check.

export { type Logger, silentLogger } from '../domain/logger.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type CallOutcome = 'ok' | 'timeout' | 'unavailable' | 'rejected' | 'conflict' | 'not_found' | 'bad_response';

export interface RetryOptions {
  /** Attempts in total, including the first. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails at once and says how long the API asked for. */
  maxRetryAfterMs?: number;
}

export interface HttpJsonClientOptions {
  /** "inventory" or "gateway": names the API in messages and the env variables to check (INVENTORY_API_URL …). */
  service: string;
  baseUrl: string;
  token?: string;
  /** Per attempt, covering headers and body. */
  timeoutMs?: number;
  retry?: RetryOptions;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1); drives the jitter. */
  random?: () => number;
  /** Wall clock in ms, only used to turn a Retry-After date into a delay. */
  now?: () => number;
  logger?: Logger;
  /** Called once per logical call (after all retries) with the route template, for metrics. */
  onCall?: (service: string, route: string, outcome: CallOutcome, ms: number) => void;
}

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface JsonRequest<S extends z.ZodTypeAny> {
  method: HttpMethod;
  /** Path template below the base URL, e.g. "/domains/{domain}"; used as is for metrics and logs. */
  route: string;
  /** Values for the {placeholders} of route, percent-encoded here. */
  params?: Record<string, string>;
  /** Arrays are sent comma-separated (state=pending,failed); undefined values are left out. */
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Makes a mutation safe to retry; sent as the Idempotency-Key header. */
  idempotencyKey?: string;
  headers?: Record<string, string>;
  schema: S;
}

export const defaultTimeoutMs = 5000;
const defaultRetry: Required<RetryOptions> = {
  maxAttempts: 3,
  baseDelayMs: 200,
  maxDelayMs: 2000,
  maxRetryAfterMs: 10_000,
};

// What went wrong in one attempt; turned into a LagebotError only at the end, when the number of
// attempts is known.
interface Failure {
  code: ErrorCode;
  outcome: CallOutcome;
  retryable: boolean;
  status?: number;
  upstreamCode?: string;
  upstreamMessage?: string;
  upstreamDetails?: unknown;
  retryAfterMs?: number;
  reason: string;
  cause?: unknown;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; failure: Failure };

export class HttpJsonClient {
  readonly service: string;
  private readonly baseUrl: URL;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retry: Required<RetryOptions>;
  private readonly fetch: typeof globalThis.fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly onCall: HttpJsonClientOptions['onCall'];

  constructor(options: HttpJsonClientOptions) {
    this.service = options.service;
    this.baseUrl = new URL(options.baseUrl.replace(/\/+$/, ''));
    this.token = options.token === '' ? undefined : options.token;
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.retry = { ...defaultRetry, ...definedOnly(options.retry ?? {}) };
    if (!(this.retry.maxAttempts >= 1)) throw new RangeError('retry.maxAttempts must be at least 1');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.onCall = options.onCall;
  }

  async request<S extends z.ZodTypeAny>(req: JsonRequest<S>): Promise<z.output<S>> {
    const started = performance.now();
    const url = this.buildUrl(req);
    // A mutation without an idempotency key may have been applied even when its answer was lost,
    // so only safe methods and keyed mutations are sent twice.
    const mayRetry = req.method === 'GET' || req.idempotencyKey !== undefined;
    const maxAttempts = mayRetry ? this.retry.maxAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(url, req);
      if (result.ok) {
        this.report(req.route, 'ok', started);
        this.logger.debug(`${this.label} ${req.method} ${url.pathname} ok`, { attempt });
        return result.value;
      }
      const { failure } = result;
      const last = !failure.retryable || attempt >= maxAttempts;
      const tooLong = failure.retryAfterMs !== undefined && failure.retryAfterMs > this.retry.maxRetryAfterMs;
      if (last || tooLong) {
        this.report(req.route, failure.outcome, started);
        const error = this.toError(failure, req.method, url, attempt, mayRetry);
        this.logger.debug(error.message, { code: error.code, attempt });
        throw error;
      }
      const delay = failure.retryAfterMs ?? this.backoff(attempt);
      this.logger.warn(
        this.redact(`${this.label} ${req.method} ${url.pathname}: ${failure.reason}; retrying in ${delay} ms`),
        {
          attempt,
          maxAttempts,
          status: failure.status,
        },
      );
      await this.sleep(delay);
    }
  }

  private get label(): string {
    return `${this.service} API`;
  }

  private buildUrl(req: JsonRequest<z.ZodTypeAny>): URL {
    const path = req.route.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = req.params?.[name];
      if (value === undefined) throw new TypeError(`missing path parameter ${name} for ${req.route}`);
      return encodeURIComponent(value);
    });
    // A base URL without a path has href "http://host/"; joining must not give "//regions".
    const url = new URL(this.baseUrl.href.replace(/\/+$/, '') + path);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) {
        if (value.length > 0) url.searchParams.set(key, value.join(','));
      } else {
        url.searchParams.set(key, String(value));
      }
    }
    return url;
  }

  private async attempt<S extends z.ZodTypeAny>(url: URL, req: JsonRequest<S>): Promise<Attempt<z.output<S>>> {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await this.fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      // The body is read under the same signal, so a server that stalls mid-body also times out.
      text = await res.text();
    } catch (cause) {
      if (signal.aborted) {
        return fail({
          code: 'UPSTREAM_TIMEOUT',
          outcome: 'timeout',
          retryable: true,
          reason: `no answer within ${this.timeoutMs} ms`,
          cause,
        });
      }
      return fail({
        code: 'UPSTREAM_UNAVAILABLE',
        outcome: 'unavailable',
        retryable: true,
        reason: `network error (${describeNetworkError(cause)})`,
        cause,
      });
    }

    if (status >= 200 && status < 300) return this.parseSuccess(text, status, req.schema);
    return fail(this.describeHttpFailure(status, text, retryAfter));
  }

  private parseSuccess<S extends z.ZodTypeAny>(text: string, status: number, schema: S): Attempt<z.output<S>> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      return fail({
        code: 'UPSTREAM_BAD_RESPONSE',
        outcome: 'bad_response',
        retryable: false,
        status,
        reason: `the ${status} answer is not JSON`,
        cause,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      return fail({
        code: 'UPSTREAM_BAD_RESPONSE',
        outcome: 'bad_response',
        retryable: false,
        status,
        reason: `the ${status} answer does not match the contract (${issues})`,
        cause: parsed.error,
      });
    }
    return { ok: true, value: parsed.data };
  }

  private describeHttpFailure(status: number, text: string, retryAfter: string | null): Failure {
    const upstream = parseErrorBody(text);
    const said = upstream.code ? ` ${upstream.code}` : '';
    const base = {
      status,
      upstreamCode: upstream.code,
      upstreamMessage: upstream.message,
      upstreamDetails: upstream.details,
      reason: `answered ${status}${said}${upstream.message ? `: ${upstream.message}` : ''}`,
    };
    if (status === 429 || status >= 500) {
      return {
        ...base,
        code: 'UPSTREAM_UNAVAILABLE',
        outcome: 'unavailable',
        retryable: true,
        retryAfterMs: parseRetryAfter(retryAfter, this.now()),
      };
    }
    if (status === 404) return { ...base, code: 'NOT_FOUND', outcome: 'not_found', retryable: false };
    if (status === 409) return { ...base, code: 'UPSTREAM_CONFLICT', outcome: 'conflict', retryable: false };
    return { ...base, code: 'UPSTREAM_REJECTED', outcome: 'rejected', retryable: false };
  }

  private backoff(attempt: number): number {
    // Full jitter: uniform in [0, min(cap, base * 2^n)). Spreads retries of many clients best,
    // see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.random() * ceiling);
  }

  private toError(failure: Failure, method: HttpMethod, url: URL, attempts: number, mayRetry: boolean): LagebotError {
    const env = this.service.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
    const where = `${method} ${url.pathname}`;
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    const baseUrl = safeUrl(this.baseUrl);
    let message: string;
    switch (failure.code) {
      case 'UPSTREAM_TIMEOUT':
        message =
          `${this.label} did not answer ${where} within ${this.timeoutMs} ms${tries}: ` +
          `check that ${env}_API_URL (${baseUrl}) points to a running service, or raise UPSTREAM_TIMEOUT_MS` +
          (mayRetry ? '' : '; not retried because the request has no Idempotency-Key');
        break;
      case 'UPSTREAM_UNAVAILABLE':
        if (failure.status === undefined) {
          message = `${this.label} is unreachable for ${where}: ${failure.reason}${tries}: check that ${env}_API_URL (${baseUrl}) is right and the service is running`;
        } else if (failure.retryAfterMs !== undefined && failure.retryAfterMs > this.retry.maxRetryAfterMs) {
          message = `${this.label} ${failure.reason} to ${where} and asked to wait ${Math.ceil(failure.retryAfterMs / 1000)} s: try again later`;
        } else {
          message = `${this.label} ${failure.reason} to ${where}${tries}: the service is failing or overloaded; check its status and try again later`;
        }
        break;
      case 'NOT_FOUND':
        message = `${this.label} ${failure.reason} to ${where}: check the name or id asked for`;
        break;
      case 'UPSTREAM_CONFLICT':
        message = `${this.label} ${failure.reason} to ${where}: the resource changed meanwhile; read it again and retry`;
        break;
      case 'UPSTREAM_BAD_RESPONSE':
        message = `${this.label}: ${failure.reason} for ${where}: check that ${env}_API_URL (${baseUrl}) points to a compatible API version`;
        break;
      default:
        message =
          failure.status === 401 || failure.status === 403
            ? `${this.label} ${failure.reason} to ${where}: check ${env}_API_TOKEN`
            : `${this.label} ${failure.reason} to ${where}: the request was refused; check its input`;
    }
    const details: Record<string, unknown> = {
      service: this.service,
      method,
      path: url.pathname,
      attempts,
      ...definedOnly({
        status: failure.status,
        upstreamCode: failure.upstreamCode,
        upstreamMessage: failure.upstreamMessage,
        upstreamDetails: failure.upstreamDetails,
        retryAfterMs: failure.retryAfterMs,
      }),
    };
    // The provider might echo request headers back in an error; the token must never reach a log
    // line or a chat message through us.
    return new LagebotError(failure.code, this.redact(message), this.redact(details), {
      cause: failure.cause,
    });
  }

  private redact<T>(value: T): T {
    const token = this.token;
    if (token === undefined) return value;
    if (typeof value === 'string') return value.split(token).join('[redacted]') as T;
    if (Array.isArray(value)) return value.map((v) => this.redact(v)) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redact(v)])) as T;
    }
    return value;
  }

  private report(route: string, outcome: CallOutcome, started: number): void {
    this.onCall?.(this.service, route, outcome, Math.round(performance.now() - started));
  }
}

function fail(failure: Failure): { ok: false; failure: Failure } {
  return { ok: false, failure };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function parseErrorBody(text: string): { code?: string; message?: string; details?: unknown } {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.error;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone has to do.
  }
  return {};
}

/** Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function describeNetworkError(cause: unknown): string {
  // undici wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  const inner = cause instanceof Error ? (cause.cause as { code?: unknown } | undefined) : undefined;
  if (typeof inner?.code === 'string') return inner.code;
  return cause instanceof Error ? cause.message : String(cause);
}

function safeUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  return copy.href.replace(/\/$/, '');
}
