import { startSimServer } from '../../src/sim/server.ts';
import { announceReady, serveParent } from '../lib/serve-parent.ts';
import type { GatewayApplication } from './summarize-gateway-changes.ts';

// The simulator of bench/release in its own process, with one addition: it notes the moment each
// gateway change is applied. Polling GET /gateway/v1/domains or /audit cannot tell that moment: under
// an injected latency fault every poll itself waits the latency out, and the audit's timestamps are
// on the simulator's frozen clock (speed 0). Times are wall-clock milliseconds with sub-millisecond
// resolution (performance.timeOrigin + performance.now()), comparable with the parent's.
// Usage (forked by run.ts): sim-process.ts <devices> [seed]. Requests: 'regions', 'domains',
// 'drain-changes' (the applications since the last drain), 'stop'.

const devices = Number(process.argv[2] ?? 10_400);
const seed = Number(process.argv[3] ?? 20240215);
const server = await startSimServer({ port: 0, speed: 0, seed, devices });
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

serveParent({
  regions: () => sim.regions().map((r) => ({ id: r.id, kind: r.kind, name: r.name, parentId: r.parentId })),
  domains: () => sim.domains().map((d) => ({ domain: d.domain, municipality: d.municipality, kreis: d.kreis })),
  'drain-changes': () => {
    const out = applied;
    applied = [];
    return out;
  },
  stop: () => server.close(),
});
announceReady({ url: server.url, devices, seed });
