// How Teams' rate limits are checked from the outside: the most events inside any half-open window of
// `windowMs` (each window starting at an event), e.g. requests reaching the connector in any second.
// The alerts bench and the send-queue and request-window tests count with it.
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
