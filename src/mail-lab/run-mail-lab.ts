import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadMailLabConfig, type MailLabConfig } from '../config.ts';
import { projectRoot } from '../project-root.ts';
import { waitForSignal } from '../wait-for-signal.ts';
import { type LabLayout, labLayout } from './lab-layout.ts';
import {
  isRoot,
  postfixRunning,
  ROOT_NEEDED,
  rspamdAnswers,
  startMailLab,
  stopPostfix,
  stopRspamd,
} from './mail-lab.ts';
import { GTUBE, sendMail } from './send-mail.ts';

// `npm run mail-lab -- up | down | status | send …`. `up` starts `mail-lab serve` in the background (the
// sink and the agent live there; Postfix and rspamd are daemons) and returns when the agent answers;
// `down` stops what `up` started, found by the lab's pid files and its Postfix config directory.

export const mailLabUsage = `Usage: npm run mail-lab -- up | down | status
       npm run mail-lab -- send --to <address> [--to …] [--from <address>] [--subject <text>] [--gtube] [--count <n>]`;

export async function runMailLab(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let config: MailLabConfig;
  try {
    config = loadMailLabConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(line);
      return 2;
    }
    throw error;
  }
  const layout = labLayout(resolve(config.dir), config.ports);
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      return up(layout, config);
    case 'serve':
      return serve(layout, config);
    case 'down':
      return down(layout);
    case 'status':
      return status(layout, config);
    case 'send':
      return send(layout, rest);
    default:
      console.error(mailLabUsage);
      return 1;
  }
}

function labPid(l: LabLayout): number | null {
  if (!existsSync(l.pidFile)) return null;
  const pid = Number(readFileSync(l.pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

async function agentAnswers(l: LabLayout, token: string | undefined): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${l.ports.agent}/gateway/v1/health`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

function where(l: LabLayout): string {
  return [
    `  SMTP in:        127.0.0.1:${l.ports.smtp}   (npm run mail-lab -- send --to rathaus@olpe.de)`,
    `  gateway agent:  http://127.0.0.1:${l.ports.agent}/gateway/v1`,
    `  delivered:      http://127.0.0.1:${l.ports.http}/lab/v1/delivered?domain=olpe.de`,
    `  rspamd:         milter 127.0.0.1:${l.ports.rspamd}, controller http://127.0.0.1:${l.ports.rspamd + 2}`,
    `  files, logs:    ${l.dir}`,
  ].join('\n');
}

/** Starts the lab unless it runs; resolves when the agent answers. Used by `up` and `npm start -- --mail-lab`. */
export async function ensureMailLabUp(l: LabLayout, config: MailLabConfig): Promise<'started' | 'running'> {
  if (!isRoot()) throw new Error(ROOT_NEEDED);
  if (labPid(l) !== null && (await agentAnswers(l, config.token))) return 'running';
  mkdirSync(dirname(l.labLog), { recursive: true });
  const log = openSync(l.labLog, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(projectRoot, 'src/main.ts'), 'mail-lab', 'serve'], {
    cwd: projectRoot,
    env: { ...process.env, DATA_DIR: dirname(l.dir) },
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  const deadline = Date.now() + 180_000;
  while (!(await agentAnswers(l, config.token))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = existsSync(l.labLog) ? readFileSync(l.labLog, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      throw new Error(`mail-lab: did not come up (log ${l.labLog}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return 'started';
}

async function up(l: LabLayout, config: MailLabConfig): Promise<number> {
  if (!isRoot()) {
    console.error(ROOT_NEEDED);
    return 1;
  }
  const state = await ensureMailLabUp(l, config);
  console.log(
    `Mail lab ${state === 'running' ? 'is already up' : 'is up'}: 64 domains, all held both ways at first.\n${where(l)}`,
  );
  return 0;
}

async function serve(l: LabLayout, config: MailLabConfig): Promise<number> {
  const lab = await startMailLab(l, { agent: true, token: config.token, domainsFile: config.domainsFile });
  writeFileSync(l.pidFile, `${process.pid}\n`);
  console.log(`mail-lab serve: up\n${where(l)}`);
  return waitForSignal(async () => {
    await lab.close();
    rmSync(l.pidFile, { force: true });
  });
}

async function down(l: LabLayout): Promise<number> {
  if (!isRoot()) {
    console.error(ROOT_NEEDED);
    return 1;
  }
  const pid = labPid(l);
  if (pid !== null) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (labPid(l) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  }
  // A lab process that died leaves its daemons behind: stop those of this lab, and only those.
  await stopPostfix(l);
  await stopRspamd(l);
  rmSync(l.pidFile, { force: true });
  console.log(pid === null ? 'Mail lab was not running; its Postfix and rspamd are stopped.' : 'Mail lab stopped.');
  return 0;
}

async function status(l: LabLayout, config: MailLabConfig): Promise<number> {
  const pid = labPid(l);
  const [postfix, rspamd, agent] = await Promise.all([
    isRoot() ? postfixRunning(l) : Promise.resolve(false),
    rspamdAnswers(l),
    agentAnswers(l, config.token),
  ]);
  let delivered = '–';
  try {
    const res = await fetch(`http://127.0.0.1:${l.ports.http}/lab/v1/delivered`, { signal: AbortSignal.timeout(2000) });
    delivered = String(((await res.json()) as { items: unknown[] }).items.length);
  } catch {
    // the sink is down with the lab process
  }
  const line = (what: string, ok: boolean) => `  ${what.padEnd(15)} ${ok ? 'up' : 'down'}`;
  console.log(
    [
      `Mail lab in ${l.dir}: ${pid !== null && postfix && rspamd && agent ? 'up' : 'not (fully) up'}`,
      line('lab process', pid !== null),
      line('postfix', postfix),
      line('rspamd', rspamd),
      line('gateway agent', agent),
      `  delivered       ${delivered} messages`,
      where(l),
    ].join('\n'),
  );
  return pid !== null && postfix && rspamd && agent ? 0 : 3;
}

async function send(l: LabLayout, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string', multiple: true },
      from: { type: 'string', default: 'absender@extern.example' },
      subject: { type: 'string', default: 'Testnachricht' },
      gtube: { type: 'boolean', default: false },
      count: { type: 'string', default: '1' },
    },
  });
  const count = Number(values.count);
  if (!values.to?.length || !Number.isInteger(count) || count < 1) {
    console.error(mailLabUsage);
    return 1;
  }
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const answer = await sendMail({
      port: l.ports.smtp,
      from: values.from as string,
      to: values.to,
      subject: count > 1 ? `${values.subject} ${i + 1}` : (values.subject as string),
      body: values.gtube ? GTUBE : undefined,
    });
    if (answer.code >= 400) failed++;
    if (count === 1 || answer.code >= 400) console.log(`${answer.code} ${answer.text}`);
  }
  if (count > 1) console.log(`${count - failed} of ${count} accepted`);
  return 0;
}
