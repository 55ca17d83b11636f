import { scenarioName } from '../../src/contracts/sim.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';

// The simulator in its own process, so that the watcher's CPU time measured in run.ts is the
// watcher's alone (the simulator computes every spam bucket it serves).
// Usage (forked by run.ts): tsx bench/alerts/sim-process.ts <extraDomains> [seed] [devices] [scenario]
// Frozen clock (speed 0): run.ts advances it through POST /sim/v1/clock.

const extraDomains = Number(process.argv[2] ?? 0);
const seed = Number(process.argv[3] ?? 42);
const devices = Number(process.argv[4] ?? 400);
const scenario = scenarioName.parse(process.argv[5] ?? 'feb-2024');
const sim = await startSimServer({ port: 0, speed: 0, seed, devices, extraDomains, scenario });
serveParent({ stop: () => sim.close() });
announceReady({ url: sim.url, domains: sim.sim.domains().length });
