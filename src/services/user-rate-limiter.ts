import { createTokenBucket, type TokenBucket, type TokenBucketSpec, tryTake } from '../domain/token-bucket.ts';

// Per-user limit on commands and card actions (docs/decisions/hardening.md): by default a burst of 20, then 30 a minute
// (USER_RATE_LIMIT_*). A person clicking through cards stays far below it; a script does not.
export const defaultUserLimit: TokenBucketSpec = { capacity: 20, refillPerSecond: 0.5 };

// A script over the limit must not turn every refused message into a post of ours (issue 13: 200 messages
// gave 200 "bitte langsamer"): one notice per user per window, the rest is dropped without an answer. The
// window is the minute the per-minute limit is stated in.
export const NOTICE_WINDOW_MS = 60_000;

export type RateDecision =
  | { allowed: true }
  // notify: the first refusal in its window gets the notice; the others get none.
  | { allowed: false; waitSeconds: number; notify: boolean };

interface UserState {
  bucket: TokenBucket;
  // Until when a further refusal stays silent.
  quietUntil: number;
}

export function createUserRateLimiter(spec: TokenBucketSpec = defaultUserLimit, now: () => number = Date.now) {
  const users = new Map<string, UserState>();
  return {
    check(userKey: string): RateDecision {
      const at = now();
      const state = users.get(userKey) ?? { bucket: createTokenBucket(spec), quietUntil: 0 };
      const result = tryTake(state.bucket, at);
      const notify = !result.ok && at >= state.quietUntil;
      users.set(userKey, {
        bucket: result.bucket,
        quietUntil: notify ? at + NOTICE_WINDOW_MS : state.quietUntil,
      });
      if (users.size > 10_000) {
        // Forget the oldest users; a forgotten user starts with a full bucket, which is harmless.
        for (const key of [...users.keys()].slice(0, 1000)) users.delete(key);
      }
      if (result.ok) return { allowed: true };
      return { allowed: false, waitSeconds: Math.max(1, Math.ceil(result.waitMs / 1000)), notify };
    },
  };
}
