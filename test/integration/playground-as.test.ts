import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readPlaygroundConfig } from '../e2e/playground-page.ts';
import { withoutLagebotSettings } from '../helpers/child-env.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// `npm run playground -- --as approver`: a second Agents Playground on the running bot, as Anna
// Approver, on a free port, with its mock Teams context generated; it prints its URL. The bot here is a
// stand-in that answers /healthz: what is tested is the command, not the bot.

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run playground -- --as approver', () => {
  let bot: Server;
  let child: ChildProcess;
  let output = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-playground-as-'));

  before(async () => {
    bot = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await new Promise((resolve) => bot.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('without a running bot it says so and stops', () => {
    const env = { ...withoutLagebotSettings(process.env), PORT: '1', DATA_DIR: dataDir };
    const r = spawnSyncCli(['playground', '--as', 'approver'], env);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /No bot answers on http:\/\/127\.0\.0\.1:1: start the demo first/);
  });

  test('an unknown user gets the usage with the demo users', () => {
    const r = spawnSyncCli(['playground', '--as', 'chef'], {
      ...withoutLagebotSettings(process.env),
      DATA_DIR: dataDir,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--as <viewer\|operator\|operator2\|approver1\|approver2\|approver>/);
  });

  test('starts as Anna Approver on a free port and prints the URL', { timeout: 60_000 }, async () => {
    const address = bot.address();
    assert.ok(address && typeof address === 'object');
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'src', 'main.ts'), 'playground', '--as', 'approver'],
      {
        cwd: root,
        env: { ...withoutLagebotSettings(process.env), PORT: String(address.port), DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitUntil(
      () => /Agents Playground as Anna Approver: http:\/\/localhost:\d+/.test(output),
      `the URL in:\n${output}`,
      45_000,
    );
    const url = /(http:\/\/localhost:\d+)/.exec(output)![1]!;
    assert.notEqual(url, 'http://localhost:56150', 'not the demo Playground port');
    const config = await readPlaygroundConfig(url);
    assert.equal(config.currentUser.name, 'Anna Approver');
    assert.ok(
      config.users.some((u) => u.name === 'Olaf Operator'),
      'Olaf moved among the other users',
    );
    const written = parse(readFileSync(join(dataDir, 'playground-approver1.yml'), 'utf8'));
    assert.equal(written.currentUser.aadObjectId, '00000000-0000-4000-a000-000000000004');
    assert.equal(written.personalChat.id, 'a:lagebot-personal-chat-approver1');
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
  });

  function spawnSyncCli(args: string[], env: NodeJS.ProcessEnv) {
    return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), ...args], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    }) as { status: number | null; stdout: string; stderr: string };
  }
});
