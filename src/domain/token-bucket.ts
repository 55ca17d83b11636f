// Send-rate limiting for proactive Teams messages. Pure: every function takes nowMs and returns new values.

export interface TokenBucketSpec {
  capacity: number;
  refillPerSecond: number;
}
export interface TokenBucket extends TokenBucketSpec {
  tokens: number;
  // null until first use: a fresh bucket is full whenever it is first consulted.
  updatedAtMs: number | null;
}
export type TakeResult = { ok: true; bucket: TokenBucket } | { ok: false; bucket: TokenBucket; waitMs: number };

// Teams "per bot per thread" limits for sending to a conversation: 7 per 1 s, 8 per 2 s, 60 per 30 s,
// 1800 per 3600 s (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit). One bucket
// with burst 7 and a refill just under 0.5/s stays inside all four windows (at most 7 + 0.49·t
// messages in any t seconds: 7/1 s, 7.98/2 s, 21.7/30 s, 1771/3600 s). Alert cards are rare per
// channel, so the low sustained rate costs nothing.
export const teamsConversationLimit: TokenBucketSpec = { capacity: 7, refillPerSecond: 0.49 };
// Teams documents a global limit of 50 requests/s per app per tenant (same page). We keep to at most
// 30 in any second (burst 10 + 20/s; a bucket allows capacity + rate·t in t seconds) so retries and
// the bot's replies to users have headroom.
export const teamsTenantLimit: TokenBucketSpec = { capacity: 10, refillPerSecond: 20 };

export function createTokenBucket(spec: TokenBucketSpec): TokenBucket {
  if (!(spec.capacity > 0) || !(spec.refillPerSecond > 0)) {
    throw new RangeError('capacity and refillPerSecond must be positive');
  }
  return { capacity: spec.capacity, refillPerSecond: spec.refillPerSecond, tokens: spec.capacity, updatedAtMs: null };
}

function refill(bucket: TokenBucket, nowMs: number): TokenBucket {
  if (bucket.updatedAtMs === null) return { ...bucket, tokens: bucket.capacity, updatedAtMs: nowMs };
  // A clock that steps back (NTP) must neither mint nor destroy tokens: elapsed counts as 0 and the
  // bucket keeps its later timestamp.
  const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
  const tokens = Math.min(bucket.capacity, bucket.tokens + (elapsedMs / 1000) * bucket.refillPerSecond);
  return { ...bucket, tokens, updatedAtMs: Math.max(nowMs, bucket.updatedAtMs) };
}

export function tryTake(bucket: TokenBucket, nowMs: number, n = 1): TakeResult {
  if (!(n > 0) || n > bucket.capacity) {
    // More than capacity can never succeed; waiting would hang the queue forever.
    throw new RangeError(`cannot take ${n} tokens from a bucket of capacity ${bucket.capacity}`);
  }
  const current = refill(bucket, nowMs);
  // Tolerance: refills are fractional; 0.9999999 tokens after exactly the right wait must count as 1.
  if (current.tokens + 1e-9 >= n) return { ok: true, bucket: { ...current, tokens: Math.max(0, current.tokens - n) } };
  // The epsilon keeps float dust (5.000000001 ms) from adding a whole millisecond.
  const waitMs = Math.ceil(((n - current.tokens) / current.refillPerSecond) * 1000 - 1e-6);
  return { ok: false, bucket: current, waitMs: Math.max(1, waitMs) };
}

// After a 429 with Retry-After, nothing more may go to that conversation (or tenant) for waitMs:
// the bucket is emptied so that its next token appears exactly then.
export function pauseBucket(bucket: TokenBucket, nowMs: number, waitMs: number): TokenBucket {
  const current = refill(bucket, nowMs);
  const tokens = Math.min(current.tokens, 1 - (Math.max(0, waitMs) / 1000) * current.refillPerSecond);
  return { ...current, tokens };
}

export interface SendBuckets {
  tenant: TokenBucket;
  // Keyed by conversation id; a missing entry is created from `conversationLimit` on first use.
  conversations: Record<string, TokenBucket>;
}
export interface QueuedSend {
  conversationId: string;
}
export type NextSend<T extends QueuedSend> =
  | { kind: 'send'; index: number; item: T; buckets: SendBuckets }
  | { kind: 'wait'; waitMs: number; buckets: SendBuckets }
  | { kind: 'idle'; buckets: SendBuckets };

export function createSendBuckets(tenantLimit: TokenBucketSpec = teamsTenantLimit): SendBuckets {
  return { tenant: createTokenBucket(tenantLimit), conversations: {} };
}

// Picks the oldest queued item whose conversation and the tenant both have a token, and takes one
// from each. Items of a throttled conversation are skipped, not reordered among themselves (they all
// share the one bucket), so per-conversation order is kept while other channels are not held up behind
// a busy one. Returns how long to sleep when nothing may go now. The caller removes `index` from its
// queue after a successful pick and keeps the returned buckets.
export function pickNextSend<T extends QueuedSend>(
  buckets: SendBuckets,
  queue: readonly T[],
  nowMs: number,
  conversationLimit: TokenBucketSpec = teamsConversationLimit,
): NextSend<T> {
  if (queue.length === 0) return { kind: 'idle', buckets };
  const tenantProbe = tryTake(buckets.tenant, nowMs);
  if (!tenantProbe.ok)
    return { kind: 'wait', waitMs: tenantProbe.waitMs, buckets: { ...buckets, tenant: tenantProbe.bucket } };

  let minWait = Number.POSITIVE_INFINITY;
  const seen = new Set<string>();
  for (let index = 0; index < queue.length; index++) {
    const item = queue[index]!;
    if (seen.has(item.conversationId)) continue;
    seen.add(item.conversationId);
    const bucket = buckets.conversations[item.conversationId] ?? createTokenBucket(conversationLimit);
    const taken = tryTake(bucket, nowMs);
    if (taken.ok) {
      return {
        kind: 'send',
        index,
        item,
        buckets: {
          tenant: tenantProbe.bucket,
          conversations: { ...buckets.conversations, [item.conversationId]: taken.bucket },
        },
      };
    }
    minWait = Math.min(minWait, taken.waitMs);
  }
  // Nothing sendable: the tenant token was only probed, so keep the tenant bucket as it was.
  return { kind: 'wait', waitMs: minWait, buckets };
}

// Drops buckets that have refilled completely: they carry no information, and without pruning a
// long-running bot would keep one per conversation it ever wrote to.
export function pruneSendBuckets(buckets: SendBuckets, nowMs: number): SendBuckets {
  const conversations: Record<string, TokenBucket> = {};
  for (const [id, bucket] of Object.entries(buckets.conversations)) {
    const current = refill(bucket, nowMs);
    if (current.tokens < current.capacity) conversations[id] = bucket;
  }
  return { tenant: buckets.tenant, conversations };
}
