import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';
import { demoUsers } from './demo-users.ts';
import { projectRoot } from './project-root.ts';
import { startLagebot } from './start-lagebot.ts';
import { startPlayground } from './start-playground.ts';
import { waitForSignal } from './wait-for-signal.ts';

// `npm start`: simulator (its clock faster than real time, so patching visibly progresses), bot,
// and the Microsoft 365 Agents Playground pointed at the bot.

/** Sim minutes per real minute in the demo: one sim hour per real minute. */
export const DEMO_SIM_SPEED = 60;
export const DEMO_APPROVERS_CHANNEL = '19:freigaben@thread.tacv2';

/** REQUEST_TTL is real time; on the simulator's clock it lasts `speed` times as long (a frozen clock: as given). */
export function requestTtlOnSimClock(ttlMs: number, speed: number): number {
  return speed > 0 ? ttlMs * speed : ttlMs;
}

export async function runDemo(config: Config, opts: { playground: boolean }): Promise<number> {
  const speed = config.sim.speed ?? DEMO_SIM_SPEED;
  // One clock per card: with the embedded simulator, requests are stamped in simulated time like the
  // data beside them, and REQUEST_TTL (meant in real time) is scaled by the simulator's speed, so a
  // request still lives four real hours — 240 simulated ones at 60×.
  const bot = await startLagebot(
    {
      ...config,
      requestTtlMs: config.useEmbeddedSimulator
        ? requestTtlOnSimClock(config.requestTtlMs, speed)
        : config.requestTtlMs,
      requestRetryWindowMs: config.useEmbeddedSimulator
        ? requestTtlOnSimClock(config.requestRetryWindowMs, speed)
        : config.requestRetryWindowMs,
      sim: { ...config.sim, speed },
      // The Playground's team has the approvers' channel "Freigaben" (.m365agentsplayground.yml).
      approversConversation: config.approversConversation ?? DEMO_APPROVERS_CHANNEL,
      // The Playground sends en-US whatever the browser says; the staff's demo is German unless told.
      language: process.env.BOT_LANGUAGE ? config.language : opts.playground ? 'de' : config.language,
    },
    { requestsOnBackEndClock: config.useEmbeddedSimulator },
  );
  if (opts.playground && !existsSync(join(projectRoot, '.m365agentsplayground.yml'))) {
    console.error('No .m365agentsplayground.yml: the Playground uses its default users.');
  }
  const playground = opts.playground
    ? startPlayground({
        botUrl: bot.url,
        port: config.playground.port,
        dataDir: config.dataDir,
        logName: 'playground.log',
      })
    : null;
  const playgroundPort = playground ? await playground.port : null;
  const banner = [
    '',
    '  Lagebot is running.',
    opts.playground
      ? `  Chat:       http://localhost:${playgroundPort}  (Microsoft 365 Agents Playground, as Olaf Operator)`
      : '  Chat:       npm run chat -- "status Kreis Olpe"   (Playground off)',
    `  Bot:        ${bot.url}/api/messages   health ${bot.url}/healthz`,
    bot.simUrl ? `  Simulator:  ${bot.simUrl} (feb-2024, ${speed} sim minutes per minute)` : '',
    `  Who is who: ${demoUsers.map((u) => `${u.name} (${u.roles.filter((r) => r !== 'viewer').join('+') || 'viewer'})`).join(', ')}`,
    '  Try:        status Kreis Olpe  ·  status alle  ·  hilfe',
    '  Stop:       Ctrl-C',
    '',
  ].filter((l) => l !== '');
  console.log(banner.join('\n'));
  return waitForSignal(async () => {
    if (playground && playground.child.exitCode === null) {
      playground.child.kill('SIGTERM');
    }
    await bot.close();
  });
}
