// A small TTL cache for back-end reads. Concurrent identical questions share one in-flight fetch
// (50 users asking `status alle` at once cost one inventory call), and the last good value is kept
// so a caller can answer from it, marked stale, while the back end is down (docs/decisions/hardening.md).

export interface Cached<T> {
  value: T;
  fetchedAt: number;
  stale: boolean;
}

interface Entry<T> {
  value?: T;
  fetchedAt?: number;
  inflight?: Promise<T>;
}

export interface FetchCache {
  get<T>(key: string, load: () => Promise<T>, options?: { staleOnError?: boolean }): Promise<Cached<T>>;
  /** Forgets a key: the next get loads afresh (a load already under way no longer fills it). */
  delete(key: string): void;
  clear(): void;
}

export function createFetchCache(opts: {
  ttlMs: number;
  now: () => number;
  maxEntries?: number;
  /**
   * For this long after the TTL a value is still served while one refresh runs in the background, so
   * users never queue behind an expiring entry (bench/status: half of the slowest answers did).
   */
  refreshAheadMs?: number;
}): FetchCache {
  const entries = new Map<string, Entry<unknown>>();
  const maxEntries = opts.maxEntries ?? 2000;

  /** The entry's one in-flight load (started if none runs), which stores its value when it arrives. */
  function startLoad<T>(e: Entry<T>, load: () => Promise<T>): Promise<T> {
    if (!e.inflight) {
      e.inflight = load().then(
        (value) => {
          e.value = value;
          e.fetchedAt = opts.now();
          e.inflight = undefined;
          return value;
        },
        (error: unknown) => {
          e.inflight = undefined;
          throw error;
        },
      );
    }
    return e.inflight;
  }

  return {
    async get<T>(key: string, load: () => Promise<T>, options: { staleOnError?: boolean } = {}): Promise<Cached<T>> {
      let entry = entries.get(key) as Entry<T> | undefined;
      const now = opts.now();
      if (entry?.value !== undefined && entry.fetchedAt !== undefined && now - entry.fetchedAt < opts.ttlMs) {
        return { value: entry.value, fetchedAt: entry.fetchedAt, stale: false };
      }
      const refreshAheadMs = opts.refreshAheadMs ?? 0;
      if (
        refreshAheadMs > 0 &&
        entry?.value !== undefined &&
        entry.fetchedAt !== undefined &&
        now - entry.fetchedAt < opts.ttlMs + refreshAheadMs
      ) {
        // A failed background refresh leaves the old value; the next caller past the window retries.
        startLoad(entry, load).catch(() => {});
        return { value: entry.value, fetchedAt: entry.fetchedAt, stale: false };
      }
      if (!entry) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entry = {};
        entries.set(key, entry);
      }
      const e = entry;
      try {
        const value = await startLoad(e, load);
        return { value, fetchedAt: e.fetchedAt ?? now, stale: false };
      } catch (error) {
        if (options.staleOnError && e.value !== undefined && e.fetchedAt !== undefined) {
          return { value: e.value, fetchedAt: e.fetchedAt, stale: true };
        }
        throw error;
      }
    },
    delete(key: string) {
      entries.delete(key);
    },
    clear() {
      entries.clear();
    },
  };
}
