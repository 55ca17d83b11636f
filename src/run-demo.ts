import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.ts';
import { demoUsers } from './demo-users.ts';
import { startLagebot } from './start-lagebot.ts';
import { waitForSignal } from './wait-for-signal.ts';

// `npm start`: simulator (its clock faster than real time, so patching visibly progresses), bot,
// and the Microsoft 365 Agents Playground pointed at the bot.

/** Sim minutes per real minute in the demo: one sim hour per real minute. */
export const DEMO_SIM_SPEED = 60;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function runDemo(config: Config, opts: { playground: boolean }): Promise<number> {
  const bot = await startLagebot({ ...config, sim: { ...config.sim, speed: config.sim.speed ?? DEMO_SIM_SPEED } });
  let playground: ChildProcess | null = null;
  if (opts.playground) playground = startPlayground(config, bot.url);
  const speed = config.sim.speed ?? DEMO_SIM_SPEED;
  const banner = [
    '',
    '  Lagebot is running.',
    opts.playground
      ? `  Chat:       http://localhost:${config.playground.port}  (Microsoft 365 Agents Playground)`
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
    if (playground && playground.exitCode === null) {
      playground.kill('SIGTERM');
    }
    await bot.close();
  });
}

function startPlayground(config: Config, botUrl: string): ChildProcess | null {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    cli = join(dirname(require.resolve('@microsoft/m365agentsplayground/package.json')), 'cli.js');
  } catch {
    console.error('The Agents Playground is not installed (npm install); continuing without it.');
    return null;
  }
  const args = [cli, '-e', `${botUrl}/api/messages`, '-c', 'msteams', '-p', String(config.playground.port), '--dt'];
  const child = spawn(process.execPath, args, {
    cwd: root,
    // BROWSER=none: the Playground must not open a browser by itself.
    env: { ...process.env, BROWSER: 'none' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    if (process.env.PLAYGROUND_VERBOSE) process.stdout.write(`[playground] ${d}`);
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[playground] ${d}`));
  child.on('exit', (code) => {
    if (code) console.error(`The Agents Playground exited with code ${code}.`);
  });
  if (!existsSync(join(root, '.m365agentsplayground.yml'))) {
    console.error('No .m365agentsplayground.yml: the Playground uses its default users.');
  }
  return child;
}
