import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Config } from './config.ts';
import { demoUsers } from './demo-users.ts';
import { projectRoot } from './project-root.ts';
import { startLagebot } from './start-lagebot.ts';
import { waitForSignal } from './wait-for-signal.ts';

// `npm start`: simulator (its clock faster than real time, so patching visibly progresses), bot,
// and the Microsoft 365 Agents Playground pointed at the bot.

/** Sim minutes per real minute in the demo: one sim hour per real minute. */
export const DEMO_SIM_SPEED = 60;
export const DEMO_APPROVERS_CHANNEL = '19:freigaben@thread.tacv2';

export async function runDemo(config: Config, opts: { playground: boolean }): Promise<number> {
  const bot = await startLagebot({
    ...config,
    sim: { ...config.sim, speed: config.sim.speed ?? DEMO_SIM_SPEED },
    // The Playground's team has the approvers' channel "Freigaben" (.m365agentsplayground.yml).
    approversConversation: config.approversConversation ?? DEMO_APPROVERS_CHANNEL,
    // The Playground sends en-US whatever the browser says; the staff's demo is German unless told.
    language: process.env.BOT_LANGUAGE ? config.language : opts.playground ? 'de' : config.language,
  });
  let playground: { child: ChildProcess; port: Promise<number> } | null = null;
  if (opts.playground) playground = startPlayground(config, bot.url);
  const playgroundPort = playground ? await playground.port : null;
  const speed = config.sim.speed ?? DEMO_SIM_SPEED;
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

function startPlayground(config: Config, botUrl: string): { child: ChildProcess; port: Promise<number> } | null {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    cli = join(dirname(require.resolve('@microsoft/m365agentsplayground/package.json')), 'cli.js');
  } catch {
    console.error('The Agents Playground is not installed (npm install); continuing without it.');
    return null;
  }
  if (!existsSync(join(projectRoot, '.m365agentsplayground.yml'))) {
    console.error('No .m365agentsplayground.yml: the Playground uses its default users.');
  }
  const args = [cli, '-e', `${botUrl}/api/messages`, '-c', 'msteams', '-p', String(config.playground.port), '--dt'];
  mkdirSync(config.dataDir, { recursive: true });
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: {
      ...process.env,
      // The Playground's own switch against opening a browser (BROWSER=none only works through xdg-open).
      TEAMSAPPTESTER_BROWSER: 'none',
      BROWSER: 'none',
      // Otherwise it writes ./devTools/m365agentsplayground.log into the repository.
      M365_AGENTS_PLAYGROUND_LOGFILE: join(config.dataDir, 'playground.log'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // When the port is taken it silently picks another one; its "Listening on <port>" line says which.
  const port = new Promise<number>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(config.playground.port), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (process.env.PLAYGROUND_VERBOSE) process.stdout.write(`[playground] ${d}`);
      const m = /Listening on (?:port )?(\d+)/i.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[playground] ${d}`));
  child.on('exit', (code) => {
    if (code)
      console.error(`The Agents Playground exited with code ${code}; see ${join(config.dataDir, 'playground.log')}.`);
  });
  return { child, port };
}
