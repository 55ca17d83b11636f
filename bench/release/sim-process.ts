import { scenarioName } from '../../src/contracts/sim.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';
import type { GatewayApplication } from './summarize-gateway-changes.ts';

// The simulator of bench/release in its own process, with one addition: it notes the moment each
// gateway change is applied. Polling GET /gateway/v1/domains or /audit cannot tell that moment: under
// an injected latency fault every poll itself waits the latency out, and the audit's timestamps are
// on the simulator's frozen clock (speed 0). Times are wall-clock milliseconds with sub-millisecond
// resolution (performance.timeOrigin + performance.now()), comparable with the parent's.
// It also times its own compliance computation: the bot's confirmation waits for one, and the
// bot's clock alone cannot tell the simulator's work from its own blocked event loop.
// Usage (forked by run.ts, run-bezirk.ts): sim-process.ts <devices> [seed] [scenario]. Requests: 'regions', 'domains',
// 'drain-changes' (the applications since the last drain), 'compliance-stats' (and reset), 'stop'.

const devices = Number(process.argv[2] ?? 10_400);
const seed = Number(process.argv[3] ?? 20240215);
const scenario = scenarioName.parse(process.argv[4] ?? 'feb-2024');
const server = await startSimServer({ port: 0, speed: 0, seed, devices, scenario });
const { sim } = server;

let applied: GatewayApplication[] = [];
const changeDomain = sim.changeDomain;
sim.changeDomain = (name, body, o) => {
  const result = changeDomain(name, body, o);
  applied.push({
    key: o.idempotencyKey,
    domain: result.domain.domain,
    at: performance.timeOrigin + performance.now(),
    changed: result.changed,
    replayed: result.replayed,
  });
  return result;
};

let compliance = { calls: 0, totalMs: 0, maxMs: 0 };
const computeCompliance = sim.compliance;
sim.compliance = (regionId, patchId) => {
  const started = performance.now();
  try {
    return computeCompliance(regionId, patchId);
  } finally {
    const ms = performance.now() - started;
    compliance.calls++;
    compliance.totalMs += ms;
    compliance.maxMs = Math.max(compliance.maxMs, ms);
  }
};

serveParent({
  regions: () => sim.regions().map((r) => ({ id: r.id, kind: r.kind, name: r.name, parentId: r.parentId })),
  domains: () => sim.domains().map((d) => ({ domain: d.domain, municipality: d.municipality, kreis: d.kreis })),
  'drain-changes': () => {
    const out = applied;
    applied = [];
    return out;
  },
  'compliance-stats': () => {
    const out = compliance;
    compliance = { calls: 0, totalMs: 0, maxMs: 0 };
    return out;
  },
  stop: () => server.close(),
});
announceReady({ url: server.url, devices, seed });
