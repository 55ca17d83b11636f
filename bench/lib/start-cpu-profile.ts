import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

// A CPU profile of this thread over a window we choose (e.g. one measured scenario), through the
// inspector, instead of `node --cpu-prof`, which covers start-up too and, with tsx's loader thread,
// writes one file per thread. The file opens in Chrome DevTools or summarize-cpu-profile.ts.

export interface RunningCpuProfile {
  /** Stops profiling and writes the .cpuprofile JSON to file. */
  stop(file: string): Promise<void>;
}

export async function startCpuProfile(samplingIntervalUs = 500): Promise<RunningCpuProfile> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      await session.post('Profiler.disable');
      session.disconnect();
      await writeFile(file, JSON.stringify(profile));
    },
  };
}
