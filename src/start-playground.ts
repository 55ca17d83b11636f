import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { projectRoot } from './project-root.ts';

// One Microsoft 365 Agents Playground instance pointed at the bot, as `npm start` and
// `npm run playground -- --as <user>` start it. Null when the Playground is not installed.

export interface RunningPlayground {
  child: ChildProcess;
  /** The port it really listens on (it silently moves on when the asked-for one is taken). */
  port: Promise<number>;
}

export function startPlayground(options: {
  botUrl: string;
  port: number;
  dataDir: string;
  /** The log file's name in dataDir. */
  logName: string;
  /** Another mock Teams context than ./.m365agentsplayground.yml. */
  configPath?: string;
}): RunningPlayground | null {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    cli = join(dirname(require.resolve('@microsoft/m365agentsplayground/package.json')), 'cli.js');
  } catch {
    console.error('The Agents Playground is not installed (npm install); continuing without it.');
    return null;
  }
  const args = [cli, '-e', `${options.botUrl}/api/messages`, '-c', 'msteams', '-p', String(options.port), '--dt'];
  mkdirSync(options.dataDir, { recursive: true });
  const logFile = join(options.dataDir, options.logName);
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: {
      ...process.env,
      // The Playground's own switch against opening a browser (BROWSER=none only works through xdg-open).
      TEAMSAPPTESTER_BROWSER: 'none',
      BROWSER: 'none',
      // Otherwise it writes ./devTools/m365agentsplayground.log into the repository.
      M365_AGENTS_PLAYGROUND_LOGFILE: logFile,
      ...(options.configPath ? { M365_AGENTS_PLAYGROUND_CONFIG_PATH: options.configPath } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // When the port is taken it silently picks another one; its "Listening on <port>" line says which.
  const port = new Promise<number>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(options.port), 15_000);
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
    if (code) console.error(`The Agents Playground exited with code ${code}; see ${logFile}.`);
  });
  return { child, port };
}
