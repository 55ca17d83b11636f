// A closed-loop load generator: `users` virtual users each send `requestsPerUser` requests back to
// back (the next one only after the previous answered), so at most `users` requests are in flight.
// That is how people use a chat bot; an open-loop generator would measure queueing we created.

export interface ClosedLoopOptions<S> {
  users: number;
  requestsPerUser: number;
  /** No new request starts after this many ms; the ones in flight finish. Bounds a slow run. */
  maxDurationMs: number;
  /** One request of one user; returns its sample (e.g. a latency), throws when it failed. */
  request: (user: number, seq: number) => Promise<S>;
  now?: () => number;
}

export interface ClosedLoopError {
  user: number;
  seq: number;
  message: string;
}

export interface ClosedLoopResult<S> {
  samples: S[];
  errors: ClosedLoopError[];
  /** Requests started (samples + errors). */
  issued: number;
  elapsedMs: number;
  /** True when the time bound cut the run short. */
  stoppedByDeadline: boolean;
}

export async function runClosedLoop<S>(o: ClosedLoopOptions<S>): Promise<ClosedLoopResult<S>> {
  if (!(Number.isInteger(o.users) && o.users > 0)) throw new RangeError(`users must be a positive integer`);
  if (!(Number.isInteger(o.requestsPerUser) && o.requestsPerUser >= 0)) {
    throw new RangeError(`requestsPerUser must be a non-negative integer`);
  }
  const now = o.now ?? (() => performance.now());
  const started = now();
  const deadline = started + o.maxDurationMs;
  const samples: S[] = [];
  const errors: ClosedLoopError[] = [];
  let issued = 0;
  let stoppedByDeadline = false;

  async function runUser(user: number): Promise<void> {
    for (let seq = 0; seq < o.requestsPerUser; seq++) {
      if (now() >= deadline) {
        stoppedByDeadline = true;
        return;
      }
      issued++;
      try {
        samples.push(await o.request(user, seq));
      } catch (error) {
        errors.push({ user, seq, message: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  await Promise.all(Array.from({ length: o.users }, (_, user) => runUser(user)));
  return { samples, errors, issued, elapsedMs: now() - started, stoppedByDeadline };
}
