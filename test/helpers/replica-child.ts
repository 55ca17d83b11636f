// One replica of the bot in its own process against a shared simulator, for tests and benchmarks
// that SIGKILL replicas (started by spawnReplicaChild in test/fakes/spawn-bot-child.ts; prints
// "READY <url>" like bot-child.ts).
// Unlike bot-child.ts, the back ends are passed in so the replica runs its spam watcher on the
// simulator's clock, as the embedded simulator does: the clock is sampled every 200 ms and run
// forward at the sampled speed in between, so all replicas agree on the time to within a request's
// latency and follow a change of speed (the test freezes the clock while the detector warms up).
import { createLogger } from '../../src/adapters/create-logger.ts';
import { GatewayHttpClient } from '../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../src/adapters/inventory-http-client.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/domain/logger.ts';
import { startLagebot } from '../../src/start-lagebot.ts';

const simUrl = process.env.REPLICA_SIM_URL;
if (!simUrl) throw new Error('REPLICA_SIM_URL is required');
const config = loadConfig(process.env);

interface Sample {
  sim: number;
  real: number;
  speed: number;
}
async function sampleClock(): Promise<Sample> {
  const real = Date.now();
  const body = (await (await fetch(`${simUrl}/sim/v1/clock`)).json()) as { now: string; speed: number };
  return { sim: Date.parse(body.now), real, speed: body.speed };
}
let sample = await sampleClock();
const sampler = setInterval(() => {
  sampleClock()
    .then((s) => {
      sample = s;
    })
    .catch(() => {});
}, 200);
sampler.unref();
const gatewayNow = () => new Date(sample.sim + (Date.now() - sample.real) * sample.speed);

const timeoutMs = config.upstreamTimeoutMs;
const bot = await startLagebot(config, {
  logger: createLogger(process.env.CHILD_LOG_LEVEL ?? 'silent'),
  backEnds: {
    inventory: new InventoryHttpClient({ baseUrl: `${simUrl}/inventory/v1`, timeoutMs, logger: silentLogger }),
    gateway: new GatewayHttpClient({ baseUrl: `${simUrl}/gateway/v1`, timeoutMs, logger: silentLogger }),
    gatewayNow,
  },
});
process.stdout.write(`READY ${bot.url}\n`);
process.on('SIGTERM', () => {
  clearInterval(sampler);
  bot.close().then(() => process.exit(0));
});
