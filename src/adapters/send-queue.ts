import { type BackoffOptions, backoffDelay, isRetryableStatus, retryAfterMs } from '../domain/backoff.ts';
import { describeError } from '../domain/describe-error.ts';
import { isLagebotError } from '../domain/errors.ts';
import { type Logger, silentLogger } from '../domain/logger.ts';
import type { OutgoingContent } from '../domain/mention-message.ts';
import type { ProactiveSender } from '../domain/ports.ts';
import {
  cancelRequest,
  createRequestWindow,
  finishRequest,
  type RequestWindow,
  startRequest,
} from '../domain/request-window.ts';
import {
  createSendBuckets,
  createTokenBucket,
  pauseBucket,
  pickNextSend,
  pruneSendBuckets,
  type SendBuckets,
  type TokenBucketSpec,
  teamsConversationLimit,
} from '../domain/token-bucket.ts';

// Proactive sends and card updates to Teams, paced by token buckets (per conversation and for the
// tenant, src/domain/token-bucket.ts), with a bounded number in flight and retries of what Teams says
// to retry (429, 412, 502, 504 — and 503; src/domain/backoff.ts), honouring Retry-After.
// "If you exceed the limits, your bot gets HTTP 429 ... use exponential backoff with a random jitter"
// (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit).
//
// A card may be given as a function: it is rendered when its turn comes, so a card that waited in the
// queue shows the latest state, and an update that replaces a queued update of the same key (`key`)
// sends one card with the newest content instead of two.

type Card = OutgoingContent;
export type CardSource = Card | (() => Card | Promise<Card>);

export interface SendQueueOptions {
  sender: ProactiveSender;
  logger?: Logger;
  nowMs?: () => number;
  // Resolves after ms, or early when the signal aborts (new work arrived).
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  // Requests to Teams at once. Connector calls take ~100–300 ms; 8 in flight keep 30/s busy.
  concurrency?: number;
  tenantLimit?: TokenBucketSpec;
  // Requests Teams may receive from us in any one second, counted as they can arrive (src/domain/request-window.ts):
  // the tenant bucket paces, this keeps the ceiling however late a request reaches Teams. Default 30.
  tenantCeilingPerSecond?: number;
  conversationLimit?: TokenBucketSpec;
  // Tries per message, the first included; 429s do not count: being paced is not failing, and Teams
  // says to keep retrying them after Retry-After.
  maxAttempts?: number;
  // Every retry, 429 or not, ends this long after the first try: an alert card an hour late is noise.
  giveUpAfterMs?: number;
  backoff?: BackoffOptions;
  // A Retry-After beyond this is capped: an alert that waits longer is worth less than a retry.
  maxRetryAfterMs?: number;
  onDepth?: (depth: number) => void;
}

export interface SendOptions {
  // Jobs with the same key that have not started yet are one job: a send joins the queued one, an
  // update replaces the queued card with the newer one. Both callers get the same outcome.
  key?: string;
}

export interface SendQueue extends ProactiveSender {
  send(conversationId: string, card: CardSource, options?: SendOptions): Promise<{ activityId: string }>;
  update(conversationId: string, activityId: string, card: CardSource, options?: SendOptions): Promise<void>;
  // Messages waiting or in flight (the lagebot_send_queue_depth gauge).
  depth(): number;
  // Waits until nothing is waiting or in flight; false when timeoutMs (wall clock) passed first.
  drain(timeoutMs: number): Promise<boolean>;
}

interface Job {
  seq: number;
  conversationId: string;
  kind: 'send' | 'update';
  activityId: string | null;
  card: CardSource;
  key: string | null;
  attempts: number;
  // Failures that count against maxAttempts (not 429).
  failures: number;
  firstTriedAt: number | null;
  notBefore: number;
  resolve: (value: { activityId: string }) => void;
  reject: (error: unknown) => void;
  promise: Promise<{ activityId: string }>;
}

export const defaultSendBackoff: BackoffOptions = { baseMs: 1000, maxMs: 60_000 };

// Teams allows "per tenant 30 req/s" (docs/decisions/spam-alerts.md). One token every 1/30 s without a burst keeps any second at 30, like
// teamsTenantLimit (burst 10 + 20/s, src/domain/token-bucket.ts), but spreads them evenly: one alert to
// 500 channels takes ~17 s instead of 24.5 s (bench/alerts). Teams itself allows 50/s per app and
// tenant, so replies to users keep their headroom either way.
export const defaultTenantLimit: TokenBucketSpec = { capacity: 5, refillPerSecond: 30 };
export const defaultTenantCeilingPerSecond = 30;

export function createSendQueue(options: SendQueueOptions): SendQueue {
  const sender = options.sender;
  const logger = options.logger ?? silentLogger;
  const nowMs = options.nowMs ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const conversationLimit = options.conversationLimit ?? teamsConversationLimit;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 6);
  const giveUpAfterMs = options.giveUpAfterMs ?? 15 * 60_000;
  const backoff = options.backoff ?? defaultSendBackoff;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5 * 60_000;

  let buckets: SendBuckets = createSendBuckets(options.tenantLimit ?? defaultTenantLimit);
  let window: RequestWindow = createRequestWindow(options.tenantCeilingPerSecond ?? defaultTenantCeilingPerSecond);
  const waiting: Job[] = [];
  const queuedByKey = new Map<string, Job>();
  const inflight = new Set<Promise<void>>();
  // One message in flight per conversation, so a retried message cannot be overtaken by the next one.
  const busy = new Set<string>();
  let pumping = false;
  let wake: AbortController | null = null;
  let idleWaiters: Array<() => void> = [];
  let seq = 0;

  const depth = () => waiting.length + inflight.size;
  const reportDepth = () => options.onDepth?.(depth());

  function enqueue(
    kind: Job['kind'],
    conversationId: string,
    activityId: string | null,
    card: CardSource,
    key: string | null,
  ): Promise<{ activityId: string }> {
    if (key !== null) {
      const queued = queuedByKey.get(key);
      if (queued && queued.kind === kind && queued.conversationId === conversationId) {
        if (kind === 'update') queued.card = card;
        return queued.promise;
      }
    }
    let resolve!: Job['resolve'];
    let reject!: Job['reject'];
    const promise = new Promise<{ activityId: string }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: Job = {
      seq: seq++,
      conversationId,
      kind,
      activityId,
      card,
      key,
      attempts: 0,
      failures: 0,
      firstTriedAt: null,
      notBefore: 0,
      resolve,
      reject,
      promise,
    };
    waiting.push(job);
    if (key !== null) queuedByKey.set(key, job);
    reportDepth();
    kick();
    return promise;
  }

  function kick(): void {
    if (pumping) wake?.abort();
    else void pump();
  }

  async function pump(): Promise<void> {
    pumping = true;
    try {
      while (waiting.length > 0) {
        if (inflight.size >= concurrency) {
          await Promise.race(inflight);
          continue;
        }
        const now = nowMs();
        const ready = waiting.filter((j) => j.notBefore <= now && !busy.has(j.conversationId));
        let waitMs = Number.POSITIVE_INFINITY;
        if (ready.length > 0) {
          const slot = startRequest(window, now);
          window = slot.window;
          if (!slot.ok && slot.waitMs === null) {
            // Every place in the window is a request still waiting for its answer.
            await Promise.race(inflight);
            continue;
          }
          if (!slot.ok) {
            waitMs = slot.waitMs ?? waitMs;
          } else {
            const next = pickNextSend(buckets, ready, now, conversationLimit);
            buckets = next.buckets;
            if (next.kind === 'send') {
              window = slot.window;
              start(next.item);
              continue;
            }
            // Nothing went: the place taken for the probe is given back.
            window = cancelRequest(slot.window);
            if (next.kind === 'wait') waitMs = next.waitMs;
          }
        }
        for (const j of waiting) if (j.notBefore > now) waitMs = Math.min(waitMs, j.notBefore - now);
        if (ready.length === 0 && !Number.isFinite(waitMs) && inflight.size > 0) {
          // Everything waiting belongs to a conversation with a message in flight.
          await Promise.race(inflight);
          continue;
        }
        wake = new AbortController();
        // Never sleep unboundedly on a computed wait: a stepped clock must not park the queue.
        await sleep(Math.max(1, Math.min(waitMs, 60_000)), wake.signal);
        wake = null;
      }
      buckets = pruneSendBuckets(buckets, nowMs());
    } finally {
      pumping = false;
      wake = null;
    }
    settleIdle();
  }

  function start(job: Job): void {
    waiting.splice(waiting.indexOf(job), 1);
    if (job.key !== null && queuedByKey.get(job.key) === job) queuedByKey.delete(job.key);
    busy.add(job.conversationId);
    const run = attempt(job).finally(() => {
      busy.delete(job.conversationId);
      inflight.delete(run);
      reportDepth();
      settleIdle();
    });
    inflight.add(run);
  }

  async function attempt(job: Job): Promise<void> {
    job.attempts += 1;
    job.firstTriedAt ??= nowMs();
    // Whether the request went out: then it counts in the tenant's window from its answer on.
    let requested = false;
    try {
      const card = typeof job.card === 'function' ? await job.card() : job.card;
      requested = true;
      if (job.kind === 'send') {
        const sent = await sender.send(job.conversationId, card);
        window = finishRequest(window, nowMs());
        job.resolve(sent);
      } else {
        await sender.update(job.conversationId, job.activityId!, card);
        window = finishRequest(window, nowMs());
        job.resolve({ activityId: job.activityId! });
      }
    } catch (error) {
      window = requested ? finishRequest(window, nowMs()) : cancelRequest(window);
      const status = statusOf(error);
      const retryable = status === null ? isTransportError(error) : isRetryableStatus(status);
      if (status !== 429) job.failures += 1;
      const now = nowMs();
      if (!retryable || job.failures >= maxAttempts || now - job.firstTriedAt >= giveUpAfterMs) {
        logger.warn('proactive message failed', {
          conversationId: job.conversationId,
          kind: job.kind,
          attempts: job.attempts,
          status,
          err: describeError(error),
        });
        job.reject(error);
        return;
      }
      const delay = Math.min(
        maxRetryAfterMs,
        retryAfterMs(retryAfterOf(error), now) ?? backoffDelay(job.attempts - 1, backoff, random),
      );
      // Nothing else goes to that conversation before the retry either: Teams throttles per thread,
      // and the conversation's messages keep their order.
      const bucket = buckets.conversations[job.conversationId] ?? createTokenBucket(conversationLimit);
      buckets = {
        ...buckets,
        conversations: { ...buckets.conversations, [job.conversationId]: pauseBucket(bucket, now, delay) },
      };
      job.notBefore = now + delay;
      logger.debug('proactive message retried', {
        conversationId: job.conversationId,
        status,
        attempt: job.attempts,
        delayMs: delay,
      });
      // Back in its original place: pickNextSend keeps each conversation's order by queue position.
      let at = waiting.length;
      while (at > 0 && waiting[at - 1]!.seq > job.seq) at--;
      waiting.splice(at, 0, job);
      reportDepth();
      kick();
    }
  }

  function settleIdle(): void {
    if (depth() > 0 || pumping) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  return {
    send: (conversationId, card, o = {}) => enqueue('send', conversationId, null, card, o.key ?? null),
    update: async (conversationId, activityId, card, o = {}) => {
      await enqueue('update', conversationId, activityId, card, o.key ?? null);
    },
    depth,
    drain(timeoutMs) {
      if (depth() === 0 && !pumping) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve(true);
        };
        idleWaiters.push(done);
      });
    },
  };
}

function realSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// botbuilder's connector client throws @azure/core-http's RestError: statusCode, and the response
// (not enumerable) with headers.get(). Other clients use status/headers objects.
function statusOf(error: unknown): number | null {
  if (!error || typeof error !== 'object') return null;
  const e = error as { statusCode?: unknown; status?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : null;
  return status !== null && Number.isInteger(status) && status >= 100 ? status : null;
}

function retryAfterOf(error: unknown): string | null {
  if (!error || typeof error !== 'object') return null;
  const e = error as {
    response?: { headers?: { get?: (name: string) => unknown } | Record<string, unknown> };
    headers?: Record<string, unknown>;
    retryAfter?: unknown;
  };
  const headers = e.response?.headers;
  let value: unknown;
  if (headers && typeof (headers as { get?: unknown }).get === 'function') {
    value = (headers as { get: (name: string) => unknown }).get('retry-after');
  } else if (headers) {
    value = (headers as Record<string, unknown>)['retry-after'];
  }
  value ??= e.headers?.['retry-after'] ?? e.retryAfter;
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
}

// No HTTP status: the request never got an answer (connection refused or reset, timeout). Worth a
// retry — unlike our own coded refusals (unknown conversation, tenant not allowed) or a bug.
function isTransportError(error: unknown): boolean {
  if (isLagebotError(error)) return false;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|UND_ERR_|REQUEST_SEND_ERROR)/.test(code)) ||
    error.name === 'AbortError' ||
    error.name === 'TimeoutError' ||
    /fetch failed|socket hang up|network/i.test(error.message)
  );
}
