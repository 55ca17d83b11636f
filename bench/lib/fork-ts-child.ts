import { type ChildProcess, fork } from 'node:child_process';

// Runs a module in its own Node process and talks to it over IPC: a TypeScript file under the tsx
// loader, or a built .mjs file (scripts/build-bundle.ts) under plain node. Benchmarks use it to keep
// what they measure apart from the load generator: the child's memory and event loop are its own.
// The child side is serve-parent.ts.

export type ChildToParent =
  | { kind: 'ready'; payload: unknown }
  | { kind: 'reply'; id: number; ok: true; result: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string };
export interface ParentToChild {
  kind: 'request';
  id: number;
  type: string;
  payload: unknown;
}

export interface TsChild<R> {
  pid: number;
  /** What the child announced when it was ready (e.g. its URL). */
  ready: R;
  request<T = unknown>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to shut down cleanly (so --cpu-prof is written); kills it after timeoutMs. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface ForkTsChildOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Extra Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
  /** Keep the child's stderr to ourselves (it is still quoted when the child dies before ready). */
  quiet?: boolean;
}

export async function forkTsChild<R>(script: string, o: ForkTsChildOptions = {}): Promise<TsChild<R>> {
  const child = fork(script, o.args ?? [], {
    execArgv: [...(script.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []), ...(o.nodeFlags ?? [])],
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // Keep the tail of the child's output for the error message when it dies before being ready.
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (!o.quiet) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;

  const ready = await new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} was not ready within ${o.readyTimeoutMs ?? 60_000} ms; output: ${tail}`));
    }, o.readyTimeoutMs ?? 60_000);
    child.on('message', (raw: ChildToParent) => {
      if (raw.kind === 'ready') {
        clearTimeout(timer);
        resolve(raw.payload as R);
        return;
      }
      const waiter = pending.get(raw.id);
      if (!waiter) return;
      pending.delete(raw.id);
      if (raw.ok) waiter.resolve(raw.result);
      else waiter.reject(new Error(`${script}: ${raw.error}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready; output: ${tail}`));
      for (const w of pending.values()) w.reject(new Error(`${script} exited with ${code}`));
      pending.clear();
    });
  });

  const request = <T>(type: string, payload: unknown = null, timeoutMs = 60_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${script}: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const message: ParentToChild = { kind: 'request', id, type, payload };
      child.send(message);
    });

  return {
    pid: child.pid ?? -1,
    ready,
    request,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await request('stop', null, timeoutMs).catch(() => undefined);
      await killAfter(child, exited, timeoutMs);
    },
  };
}

async function killAfter(child: ChildProcess, exited: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}
