import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The bot in its own process (test/helpers/bot-child.ts prints "READY <url>"), for tests and the
// chaos benchmark that must see it crash, kill it (SIGKILL) and start it again on the same state.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BotChild {
  child: ChildProcess;
  url: string;
  /** stderr so far (the bot logs to stdout; crashes and warnings land here). */
  stderr(): string;
  isAlive(): boolean;
  /** SIGKILL, resolved when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (the bot drains and closes), then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnBotChild(
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
  script = 'test/helpers/bot-child.ts',
): Promise<BotChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-65_536);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const isAlive = () => child.exitCode === null && child.signalCode === null;
  const handle = (url: string): BotChild => ({
    child,
    url,
    stderr: () => err,
    isAlive,
    async kill() {
      if (isAlive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (!isAlive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bot child not ready within ${readyTimeoutMs} ms; stderr: ${err.slice(-2000)}`));
    }, readyTimeoutMs);
    // Keep reading after READY so a chatty child never blocks on a full pipe.
    child.stdout!.on('data', (d: Buffer) => {
      if (ready) return;
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        ready = true;
        clearTimeout(timer);
        resolve(handle(m[1]!));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bot child exited (${code ?? signal}) before it was ready; stderr: ${err.slice(-2000)}`));
    });
  });
}

/** A replica on a shared simulator at `simUrl`, its spam watcher on the simulator's clock (test/helpers/replica-child.ts). */
export function spawnReplicaChild(
  simUrl: string,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<BotChild> {
  return spawnBotChild({ ...env, REPLICA_SIM_URL: simUrl }, readyTimeoutMs, 'test/helpers/replica-child.ts');
}
