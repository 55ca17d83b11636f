import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

// The garbage collections of this process over a window we choose (e.g. the measured polls), by kind:
// a mean CPU time says how much a poll costs, this says how much of it the collector took and whether
// it came as many young-generation collections (scavenges) or a few of the whole heap (mark-compact).

export interface GcKindSummary {
  count: number;
  ms: number;
}
export interface GcSummary {
  minor: GcKindSummary;
  major: GcKindSummary;
  other: GcKindSummary;
}

export interface GcWatch {
  /** Stops watching; waits a turn of the event loop for the entries still on their way. */
  stop(): Promise<GcSummary>;
}

export function watchGc(): GcWatch {
  const summary: GcSummary = { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, other: { count: 0, ms: 0 } };
  const take = (entries: PerformanceEntry[]) => {
    for (const entry of entries) add(summary, (entry as GcEntry).detail?.kind, entry.duration);
  };
  const observer = new PerformanceObserver((list) => take(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      // Node queues a collection's entry from a task after it; a timer turn lets the last ones arrive.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await new Promise((resolve) => setImmediate(resolve));
      take(observer.takeRecords());
      observer.disconnect();
      return summary;
    },
  };
}

type GcEntry = PerformanceEntry & { detail?: { kind?: number } };

export function add(summary: GcSummary, kind: number | undefined, ms: number): void {
  const bucket =
    kind === constants.NODE_PERFORMANCE_GC_MINOR
      ? summary.minor
      : kind === constants.NODE_PERFORMANCE_GC_MAJOR
        ? summary.major
        : summary.other;
  bucket.count += 1;
  bucket.ms += ms;
}
