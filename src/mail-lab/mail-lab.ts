import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningGatewayAgent, startGatewayAgent } from '../gateway-agent/start-gateway-agent.ts';
import { type DeliverySink, startDeliverySink } from './delivery-sink.ts';
import type { LabLayout } from './lab-layout.ts';
import { writeLabConfig } from './write-lab-config.ts';

// Starts and stops the parts of a mail lab: rspamd and Postfix as the daemons they are (own config,
// own directories, loopback ports), the delivery sink and — unless the caller runs its own — the gateway
// agent in this process. Each start is idempotent (a running part is left alone) and stop ends only
// what the lab's own pid files and `postfix -c` name.

export const ROOT_NEEDED =
  'mail-lab: Postfix needs root to start, as on a gateway host: run it as root (sudo npm run mail-lab -- up)';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

export async function postfixRunning(l: LabLayout): Promise<boolean> {
  return (await run('/usr/sbin/postfix', ['-c', l.postfixConfig, 'status'])).code === 0;
}

export async function startPostfix(l: LabLayout): Promise<void> {
  if (await postfixRunning(l)) return;
  const r = await runDaemonizing('/usr/sbin/postfix', ['-c', l.postfixConfig, 'start']);
  if (r.code !== 0) throw new Error(`mail-lab: postfix did not start: ${r.out} (log: ${l.postfixLog})`);
  // `postfix start` returns before the master runs its services; the agent reads the queue through
  // showq (`postqueue -j`), so started means the queue can be listed.
  await waitFor(
    'the Postfix queue listing',
    async () => (await run('/usr/sbin/postqueue', ['-c', l.postfixConfig, '-j'])).code === 0,
    30_000,
  );
}

export async function stopPostfix(l: LabLayout): Promise<void> {
  if (!(await postfixRunning(l))) return;
  const pidFile = join(l.queue, 'pid', 'master.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null;
  await run('/usr/sbin/postfix', ['-c', l.postfixConfig, 'stop']);
  // `postfix stop` signals the master and returns; stopped means the master is gone.
  if (pid) await waitFor('the Postfix master to exit', async () => !alive(pid), 30_000);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function rspamdPid(l: LabLayout): number | null {
  const file = join(l.rspamdRun, 'rspamd.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export async function rspamdAnswers(l: LabLayout): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${l.ports.rspamd + 2}/ping`, { signal: AbortSignal.timeout(1000) });
    return (await res.text()).trim() === 'pong';
  } catch {
    return false;
  }
}

// For commands that leave a daemon behind: the daemon inherits our pipes, so wait for the command's
// exit, not for its output to close.
function runDaemonizing(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', (e) => resolve({ code: 1, out: e.message }));
    child.on('exit', (code) => {
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code: code ?? 1, out: out.trim() });
    });
  });
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`mail-lab: ${what} did not come up within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startRspamd(l: LabLayout): Promise<void> {
  if (rspamdPid(l) !== null && (await rspamdAnswers(l))) return;
  const r = await runDaemonizing('/usr/bin/rspamd', [
    '-c',
    '/etc/rspamd/rspamd.conf',
    `--var=LOCAL_CONFDIR=${l.rspamdConfig}`,
    `--var=DBDIR=${l.rspamdDb}`,
    `--var=RUNDIR=${l.rspamdRun}`,
    '-u',
    '_rspamd',
    '-g',
    '_rspamd',
  ]);
  if (r.code !== 0) throw new Error(`mail-lab: rspamd did not start: ${r.out} (log: ${l.rspamdLog})`);
  // The milter must accept connections before Postfix sends mail through it, and it compiles its rules first.
  await waitFor('rspamd', () => rspamdAnswers(l), 60_000);
}

export async function stopRspamd(l: LabLayout): Promise<void> {
  const pid = rspamdPid(l);
  if (pid === null) return;
  process.kill(pid, 'SIGTERM');
  await waitFor('rspamd shutdown', async () => rspamdPid(l) === null, 15_000).catch(() => {});
}

export interface RunningLab {
  layout: LabLayout;
  sink: DeliverySink;
  agent: RunningGatewayAgent | null;
  close(): Promise<void>;
}

export async function startMailLab(
  l: LabLayout,
  opts: { agent: boolean; token?: string; domainsFile?: string },
): Promise<RunningLab> {
  if (!isRoot()) throw new Error(ROOT_NEEDED);
  writeLabConfig(l);
  const sink = await startDeliverySink({
    host: '127.0.0.1',
    smtpPort: l.ports.sinkSmtp,
    httpPort: l.ports.http,
    journal: l.sinkJournal,
  });
  let agent: RunningGatewayAgent | null = null;
  try {
    await startRspamd(l);
    // The agent writes the maps before Postfix starts, so Postfix never runs without them (all held).
    if (opts.agent) agent = await startAgent(l, opts);
    else await writeInitialMaps(l, opts);
    await startPostfix(l);
    if (agent) await agent.agent.reconcile();
  } catch (error) {
    await agent?.close();
    await sink.close();
    throw error;
  }
  return {
    layout: l,
    sink,
    agent,
    async close() {
      // Each takes a second or two to wind down, and neither needs the other for it.
      await Promise.all([stopPostfix(l), stopRspamd(l)]);
      await agent?.close();
      await sink.close();
    },
  };
}

export function agentConfig(l: LabLayout, opts: { token?: string; domainsFile?: string }) {
  return {
    port: l.ports.agent,
    host: '127.0.0.1',
    token: opts.token,
    domainsFile: opts.domainsFile,
    statePath: l.agentState,
    postfixConfigDir: l.postfixConfig,
    mapDir: l.maps,
    rspamd: { controllerUrl: `http://127.0.0.1:${l.ports.rspamd + 2}`, logFile: l.rspamdLog },
  };
}

function startAgent(l: LabLayout, opts: { token?: string; domainsFile?: string }) {
  return startGatewayAgent(agentConfig(l, opts), { log: () => {} });
}

// Without its own agent (a test runs one in a child process), the lab still needs maps for Postfix to
// start: an agent started and stopped once writes them from its state.
async function writeInitialMaps(l: LabLayout, opts: { token?: string; domainsFile?: string }) {
  const once = await startGatewayAgent({ ...agentConfig(l, opts), port: 0 }, { log: () => {} });
  await once.close();
}
