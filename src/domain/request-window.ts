// The tenant's ceiling as Teams counts it: requests arriving in any one second. Pure: every function takes
// nowMs and returns new values.
//
// A token bucket paces when requests start, but Teams counts when they arrive, somewhere between their start
// and their answer: on a busy machine our own event loop, the HTTP client and the network delay some and not
// others, so requests started 33 ms apart can arrive together and a bucket at exactly the ceiling is answered
// 429 (bench/alerts: 7–90 refusals per 600 sends at load 5–7). Counting a request from its start until one
// window after its answer keeps every window at the receiver within the limit whatever those delays: a new
// request may start only while fewer than `limit` requests are open or were answered less than `windowMs` ago
// (any request that can arrive within one window of it is among them).

export interface RequestWindow {
  readonly limit: number;
  readonly windowMs: number;
  // Started and not yet answered.
  readonly open: number;
  // When each recently answered request got its answer, oldest first; only the last windowMs matter.
  readonly answeredAtMs: readonly number[];
}

export type StartResult =
  | { ok: true; window: RequestWindow }
  // waitMs: until the oldest answer leaves the window; null when only an answer of an open request frees one.
  | { ok: false; window: RequestWindow; waitMs: number | null };

export function createRequestWindow(limit: number, windowMs = 1000): RequestWindow {
  if (!(limit >= 1) || !Number.isInteger(limit) || !(windowMs > 0)) {
    throw new RangeError('limit must be a positive integer and windowMs positive');
  }
  return { limit, windowMs, open: 0, answeredAtMs: [] };
}

function forget(window: RequestWindow, nowMs: number): RequestWindow {
  const from = window.answeredAtMs.findIndex((at) => at + window.windowMs > nowMs);
  if (from === 0) return window;
  return { ...window, answeredAtMs: from === -1 ? [] : window.answeredAtMs.slice(from) };
}

export function startRequest(window: RequestWindow, nowMs: number): StartResult {
  const current = forget(window, nowMs);
  if (current.open + current.answeredAtMs.length < current.limit) {
    return { ok: true, window: { ...current, open: current.open + 1 } };
  }
  const oldest = current.answeredAtMs[0];
  return { ok: false, window: current, waitMs: oldest === undefined ? null : oldest + current.windowMs - nowMs };
}

// The request's answer came (or it failed): it counts for one more window from now.
export function finishRequest(window: RequestWindow, nowMs: number): RequestWindow {
  const current = forget(window, nowMs);
  const last = current.answeredAtMs.at(-1);
  // A clock that steps back must not reorder the list: the answer counts from the later time.
  const at = last === undefined ? nowMs : Math.max(last, nowMs);
  return { ...current, open: Math.max(0, current.open - 1), answeredAtMs: [...current.answeredAtMs, at] };
}

// A started request that never went out (its card could not be made): it frees its place at once.
export function cancelRequest(window: RequestWindow): RequestWindow {
  return { ...window, open: Math.max(0, window.open - 1) };
}
