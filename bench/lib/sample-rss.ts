import { readFileSync } from 'node:fs';

// Resident set size of this process: the current value, the peak seen by sampling, and the
// kernel's own high-water mark (VmHWM in /proc/self/status, Linux only), which also catches a
// spike shorter than the sampling interval.

export interface RssReport {
  currentBytes: number;
  peakSampledBytes: number;
  samples: number;
  /** VmHWM: the kernel's peak RSS since the process started; null where /proc is missing. */
  peakKernelBytes: number | null;
  heapUsedBytes: number;
  /** V8's heap (heapTotal: committed old + young + code spaces) at the sampled RSS peak: how much of the peak is the JS heap. */
  heapTotalAtPeakBytes: number;
  /** Live heap: heapUsed right after a full GC; null unless asked for and run with --expose-gc. */
  liveHeapBytes: number | null;
}

export interface RssSampler {
  /** With collect and --expose-gc, also runs a full GC (after reading the RSS) to tell the live heap. */
  read(collect?: boolean): RssReport;
  /** Starts a new peak window (VmHWM cannot be reset and keeps the whole-process peak). */
  resetPeak(): void;
  stop(): RssReport;
}

export function startRssSampler(
  intervalMs = 50,
  readRss: () => number = () => process.memoryUsage.rss(),
  readHeapTotal: () => number = () => process.memoryUsage().heapTotal,
): RssSampler {
  let peak = 0;
  let heapTotalAtPeak = 0;
  let samples = 0;
  const sample = () => {
    const rss = readRss();
    samples++;
    if (rss > peak) {
      peak = rss;
      heapTotalAtPeak = readHeapTotal();
    }
    return rss;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  const read = (collect = false): RssReport => {
    const current = sample();
    const heapUsedBytes = process.memoryUsage().heapUsed;
    // After the RSS was read, so the reported RSS is what ran, not what a collection left.
    const gc = collect ? (globalThis as { gc?: () => void }).gc : undefined;
    gc?.();
    return {
      currentBytes: current,
      peakSampledBytes: peak,
      samples,
      peakKernelBytes: readKernelPeakRss(),
      heapUsedBytes,
      heapTotalAtPeakBytes: heapTotalAtPeak,
      liveHeapBytes: gc ? process.memoryUsage().heapUsed : null,
    };
  };
  return {
    read,
    resetPeak() {
      peak = 0;
      heapTotalAtPeak = 0;
      samples = 0;
      sample();
    },
    stop() {
      clearInterval(timer);
      return read();
    },
  };
}

export function readKernelPeakRss(statusFile = '/proc/self/status'): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(statusFile, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
