import type { Logger } from '../domain/logger.ts';
import { createTokenBucket, type TokenBucket, type TokenBucketSpec, tryTake } from '../domain/token-bucket.ts';

// One JSON log line per refused request (issue 13), but a source that keeps sending bad tokens must not
// fill the log: per source address a burst of lines, then one every few seconds. What was left out is
// counted and reported with the source's next line.

export const rejectionLogLimit: TokenBucketSpec = { capacity: 5, refillPerSecond: 0.2 };
const MAX_SOURCES = 10_000;

export interface RejectionLog {
  record(source: string, rejection: { status: number; reason: string }): void;
}

export function createRejectionLog(logger: Logger, now: () => number = Date.now): RejectionLog {
  const sources = new Map<string, { bucket: TokenBucket; suppressed: number }>();
  return {
    record(source, { status, reason }) {
      const state = sources.get(source) ?? { bucket: createTokenBucket(rejectionLogLimit), suppressed: 0 };
      const taken = tryTake(state.bucket, now());
      if (!taken.ok) {
        sources.set(source, { bucket: taken.bucket, suppressed: state.suppressed + 1 });
        return;
      }
      sources.set(source, { bucket: taken.bucket, suppressed: 0 });
      if (sources.size > MAX_SOURCES) {
        for (const key of [...sources.keys()].slice(0, MAX_SOURCES / 10)) sources.delete(key);
      }
      logger.warn('request to /api/messages refused', {
        status,
        reason,
        source,
        ...(state.suppressed > 0 ? { suppressedSinceLast: state.suppressed } : {}),
      });
    },
  };
}
