// At most `limit` tasks at once, shared fairly between groups: a freed slot goes to the waiting group
// with the fewest tasks running (the earliest queued among equals), not to whichever queued first. The
// executor's gateway calls are grouped by request, so a one-domain block started during a 500-domain
// release waits for one slot, not for the release (docs/decisions/state-wide-scale.md).

export interface FairLimiter {
  /** Runs work once a slot is free and it is its group's turn; resolves or rejects as work does. */
  run<T>(group: string, work: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
}

export function createFairLimiter(limit: number): FairLimiter {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer: ${limit}`);
  // Groups with waiting tasks, in the order they first queued; and the running tasks per group.
  const waiting = new Map<string, Array<() => void>>();
  const running = new Map<string, number>();
  let active = 0;
  let queued = 0;

  function nextGroup(): string {
    let best: string | null = null;
    let fewest = Number.POSITIVE_INFINITY;
    for (const group of waiting.keys()) {
      const n = running.get(group) ?? 0;
      if (n < fewest) {
        best = group;
        fewest = n;
      }
    }
    return best!;
  }

  function next(): void {
    while (active < limit && waiting.size > 0) {
      const group = nextGroup();
      const tasks = waiting.get(group)!;
      const start = tasks.shift()!;
      if (tasks.length === 0) waiting.delete(group);
      queued--;
      active++;
      running.set(group, (running.get(group) ?? 0) + 1);
      start();
    }
  }

  function done(group: string): void {
    active--;
    const n = running.get(group)! - 1;
    if (n === 0) running.delete(group);
    else running.set(group, n);
    next();
  }

  return {
    run<T>(group: string, work: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          let settled: Promise<T>;
          try {
            settled = work();
          } catch (error) {
            settled = Promise.reject(error);
          }
          settled.then(resolve, reject).finally(() => done(group));
        };
        const tasks = waiting.get(group);
        if (tasks) tasks.push(start);
        else waiting.set(group, [start]);
        queued++;
        next();
      });
    },
    get active() {
      return active;
    },
    get queued() {
      return queued;
    },
  };
}
