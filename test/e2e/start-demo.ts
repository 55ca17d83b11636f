import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, withoutLagebotSettings } from '../helpers/child-env.ts';

// `lagebot demo` as a child process, exactly what `npm start` runs: simulator, bot and the Agents
// Playground. Its own process group, so stopping it also stops the Playground it spawned.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningDemo {
  /** The Playground UI, as the banner prints it (http://localhost:<port>). */
  chatUrl: string;
  /** The Playground's own HTTP API (/_internal, /_conversation), on 127.0.0.1. */
  playgroundUrl: string;
  botUrl: string;
  simUrl: string;
  /** Everything the demo printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts the demo with a frozen simulator clock and waits for its banner. */
export async function startDemo(opts: {
  dataDir: string;
  timeoutMs?: number;
  /** More settings for the demo (e.g. a faster spam watcher). */
  env?: Record<string, string>;
}): Promise<RunningDemo> {
  const env = withoutLagebotSettings(process.env);
  Object.assign(env, {
    PORT: String(await freePort()),
    SIM_PORT: String(await freePort()),
    PLAYGROUND_PORT: String(await freePort()),
    DATA_DIR: opts.dataDir,
    // Frozen: the test moves the sim clock itself (POST /sim/v1/clock).
    SIM_SPEED: '0',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    ...opts.env,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'demo'], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  // If the test process dies first (a runner timeout), do not leave the demo and its Playground behind.
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    // The demo stops its Playground on SIGTERM; whatever is left of the group goes now.
    killGroup(child, 'SIGKILL');
  };

  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    const urls = await new Promise<{ chat: string; bot: string; sim: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner from the demo within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const chat = /Chat:\s+(http:\/\/localhost:\d+)/.exec(out)?.[1];
        const bot = /Bot:\s+(http:\/\/\S+)\/api\/messages/.exec(out)?.[1];
        const sim = /Simulator:\s+(http:\/\/\S+)/.exec(out)?.[1];
        if (chat && bot && sim) {
          clearTimeout(timer);
          resolve({ chat, bot, sim });
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the demo exited (${signal ?? code}) before it was ready`));
      });
    });
    return {
      chatUrl: urls.chat,
      playgroundUrl: urls.chat.replace('localhost', '127.0.0.1'),
      botUrl: urls.bot,
      simUrl: urls.sim,
      output: () => out,
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its output:\n${out}`);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}
