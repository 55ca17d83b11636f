import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CreateStoreOptions } from '../../../src/adapters/store/create-store.ts';

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));
// Only a safety net so a stuck child fails the test instead of hanging it; nothing asserts on speed.
const WAIT_LIMIT_MS = 30_000;

export interface StoreChild {
  readonly proc: ChildProcess;
  readonly lines: string[];
  // Resolves with the first line (already seen or future) matching pred.
  waitFor(pred: (line: string) => boolean, what: string): Promise<string>;
  send(line: string): void;
  kill(signal: NodeJS.Signals): Promise<void>;
  exited(): Promise<number | null>;
}

// Runs test/adapters/store/store-child.ts in its own Node process against the same database.
export function spawnStoreChild(options: CreateStoreOptions, args: string[]): StoreChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    env: { ...process.env, LAGEBOT_TEST_STORE: JSON.stringify(options) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  let buffered = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts.filter((l) => l !== ''));
    for (const w of waiters) w();
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = once(proc, 'exit').then(([code]) => {
    for (const w of waiters) w();
    return code as number | null;
  });
  let hasExited = false;
  void exit.then(() => {
    hasExited = true;
  });

  return {
    proc,
    lines,
    waitFor(pred, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit !== undefined) {
            done();
            resolve(hit);
          } else if (hasExited || proc.exitCode !== null || proc.signalCode !== null) {
            done();
            reject(
              new Error(
                `child ${args.join(' ')} exited before "${what}"; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`child ${args.join(' ')}: no "${what}" within ${WAIT_LIMIT_MS} ms; stderr:\n${stderr}`));
        }, WAIT_LIMIT_MS);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    send(line) {
      proc.stdin!.write(`${line}\n`);
    },
    async kill(signal) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exit;
    },
    exited: () => exit,
  };
}
