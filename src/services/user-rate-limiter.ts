import { createTokenBucket, type TokenBucket, type TokenBucketSpec, tryTake } from '../domain/token-bucket.ts';

// Per-user limit on commands and card actions (docs/decisions/hardening.md): by default a burst of 20, then 30 a minute
// (USER_RATE_LIMIT_*). A person clicking through cards stays far below it; a script does not.
export const defaultUserLimit: TokenBucketSpec = { capacity: 20, refillPerSecond: 0.5 };

export function createUserRateLimiter(spec: TokenBucketSpec = defaultUserLimit, now: () => number = Date.now) {
  const buckets = new Map<string, TokenBucket>();
  return {
    /** null when allowed; otherwise the seconds until the next action is. */
    check(userKey: string): number | null {
      const at = now();
      const result = tryTake(buckets.get(userKey) ?? createTokenBucket(spec), at);
      buckets.set(userKey, result.bucket);
      if (buckets.size > 10_000) {
        // Forget the oldest users; a forgotten user starts with a full bucket, which is harmless.
        for (const key of [...buckets.keys()].slice(0, 1000)) buckets.delete(key);
      }
      return result.ok ? null : Math.max(1, Math.ceil(result.waitMs / 1000));
    },
  };
}
