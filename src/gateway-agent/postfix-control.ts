import { execFile } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueuedMessage } from './held-mail.ts';

// The Postfix commands the agent runs, all against one instance's configuration directory (`-c`), so a
// lab or a test never touches the system's /etc/postfix. Debian's binaries; root is needed for reload
// and postsuper, as on a gateway host.

export interface PostfixControl {
  /** True when the instance's master process runs (`postfix status`). */
  running(): Promise<boolean>;
  /** Replace a map atomically: write a temp file, postmap it, rename the .db, then the source. */
  installMap(name: string, content: string): Promise<void>;
  reload(): Promise<void>;
  /** Every queued message (`postqueue -j`). */
  queue(): Promise<QueuedMessage[]>;
  /** Release held messages (`postsuper -H`), then ask for delivery (`postqueue -f`). Returns how many. */
  release(queueIds: readonly string[]): Promise<number>;
}

export class PostfixCommandError extends Error {}

export function createPostfixControl(opts: { configDir: string; mapDir: string; binDir?: string }): PostfixControl {
  const bin = (name: string) => join(opts.binDir ?? '/usr/sbin', name);
  const run = (cmd: string, args: string[], input?: string) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(
        bin(cmd),
        ['-c', opts.configDir, ...args],
        { maxBuffer: 256 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) {
            const why = stderr.trim().split('\n').at(-1) || error.message;
            reject(new PostfixCommandError(`${cmd} ${args.join(' ')}: ${why}`));
          } else resolve({ stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  // `postfix status` is a shell script: a few ms alone, seconds when a busy host runs dozens at once.
  // The master's pid file under the queue directory says the same (what postfix-script itself checks).
  let queueDirectory: Promise<string> | null = null;
  return {
    async running() {
      try {
        queueDirectory ??= run('postconf', ['-h', 'queue_directory']).then((r) => r.stdout.trim());
        const pid = Number((await readFile(join(await queueDirectory, 'pid', 'master.pid'), 'utf8')).trim());
        process.kill(pid, 0);
        return true;
      } catch {
        queueDirectory = null;
        return false;
      }
    },
    async installMap(name, content) {
      const target = join(opts.mapDir, name);
      const tmp = `${target}.tmp`;
      await rm(`${tmp}.db`, { force: true });
      await writeFile(tmp, content, { mode: 0o644 });
      await run('postmap', [`hash:${tmp}`]);
      // Postfix reads only the .db: renaming it is the moment the map changes, atomically. The source
      // follows so that reconcile compares against what Postfix enforces.
      await rename(`${tmp}.db`, `${target}.db`);
      await rename(tmp, target);
    },
    async reload() {
      await run('postfix', ['reload']);
    },
    async queue() {
      const { stdout } = await run('postqueue', ['-j']);
      return stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const m = JSON.parse(l) as {
            queue_id: string;
            queue_name: string;
            arrival_time: number;
            sender: string;
            recipients: { address: string }[];
          };
          return {
            queueId: m.queue_id,
            queueName: m.queue_name,
            arrivalTime: m.arrival_time,
            sender: m.sender,
            recipients: m.recipients.map((r) => r.address),
          };
        });
    },
    async release(queueIds) {
      if (queueIds.length === 0) return 0;
      const { stderr } = await run('postsuper', ['-H', '-'], `${queueIds.join('\n')}\n`);
      await run('postqueue', ['-f']);
      // A message listed a moment ago may have left meanwhile: postsuper's own count is the truth.
      const counted = /Released from hold: (\d+) message/.exec(stderr);
      return counted ? Number(counted[1]) : 0;
    },
  };
}
