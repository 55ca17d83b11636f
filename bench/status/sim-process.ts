import { scenarioName } from '../../src/contracts/sim.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';

// The simulator in its own process, so the bot's RSS is the bot's alone.
// Usage (normally forked by run.ts): tsx bench/status/sim-process.ts <devices> [seed] [scenario]
// Frozen clock (speed 0): the numbers and the cache keys stay the same for the whole run.

const devices = Number(process.argv[2] ?? 10_400);
const seed = Number(process.argv[3] ?? 20240215);
const scenario = scenarioName.parse(process.argv[4] ?? 'feb-2024');
const sim = await startSimServer({ port: 0, speed: 0, seed, devices, scenario });
console.log(`SIM_URL=${sim.url}`);
serveParent({
  stop: () => sim.close(),
  rss: () => process.memoryUsage.rss(),
});
announceReady({ url: sim.url, devices, seed });
