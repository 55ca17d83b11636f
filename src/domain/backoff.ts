// Retry timing for calls to Teams (and any other upstream). Pure: randomness and the clock are parameters.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

// "Full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015): a uniform draw from
// [0, min(max, base·2^attempt)). It spreads retries of many clients best, which is what Teams asks for:
// "exponential backoff with a random jitter ... so that multiple requests don't introduce collisions on
// retries" (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit).
// attempt 0 is the first retry. random must return values in [0, 1) like Math.random.
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 0)
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  if (!(options.baseMs >= 0) || !(options.maxMs >= 0)) throw new RangeError('baseMs and maxMs must be non-negative');
  // 2 ** 1100 is Infinity, which min() caps; no overflow handling needed beyond that.
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  // A broken random source must not turn a retry into a crash or an unbounded sleep: clamp to [0, 1).
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * ceiling);
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
// IMF-fixdate, the only HTTP-date form senders may generate (RFC 9110 §5.6.7), e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT". We do not use Date.parse: for strings without a zone it reads
// local time, which would make the result depend on the host's TZ.
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

// Retry-After = HTTP-date / delay-seconds (RFC 9110 §10.2.3). Returns the wait in ms from nowMs (0 if
// the date is past), or null when the header is absent or malformed, so the caller falls back to backoffDelay.
export function retryAfterMs(headerValue: string | null | undefined, nowMs: number): number | null {
  if (headerValue === null || headerValue === undefined) return null;
  const value = headerValue.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const m = IMF_FIXDATE.exec(value);
  if (!m) return null;
  const [, day, month, year, hh, mm, ss] = m;
  const at = Date.UTC(Number(year), MONTHS[month!]!, Number(day), Number(hh), Number(mm), Number(ss));
  // Date.UTC rolls over impossible dates (31 Feb -> 2 Mar); reject them instead of guessing.
  const check = new Date(at);
  if (check.getUTCDate() !== Number(day) || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59) return null;
  return Math.max(0, at - nowMs);
}

// Teams: "In addition to retrying error code 429, error codes 412, 502, and 504 must be retried"
// (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit). 503 is the generic
// "try again later" of RFC 9110 §15.6.4 and what Bot Connector answers during incidents.
const RETRYABLE = new Set([412, 429, 502, 503, 504]);
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE.has(status);
}
