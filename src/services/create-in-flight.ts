// Work that was started and must be waited for before shutting down, or before a test looks at the
// result: card updates, alert deliveries, gateway calls and their retry waits, turns. One helper, so
// "wait until nothing runs, at most this long" is written once.

export interface InFlight {
  /** Tracks the promise until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T>;
  readonly size: number;
  /**
   * Resolves true once nothing is in flight — including work tracked while waiting — or false when
   * timeoutMs passed first. Never rejects: the work's own callers handle its failures.
   */
  drain(timeoutMs: number): Promise<boolean>;
}

export function createInFlight(): InFlight {
  const running = new Set<Promise<unknown>>();
  return {
    track(work) {
      running.add(work);
      const forget = () => running.delete(work);
      work.then(forget, forget);
      return work;
    },
    get size() {
      return running.size;
    },
    async drain(timeoutMs) {
      if (running.size === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        while (running.size > 0) {
          if ((await Promise.race([Promise.allSettled([...running]), timedOut])) === 'timeout') return false;
        }
        return true;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
