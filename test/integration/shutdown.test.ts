import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSimServer } from '../../src/sim/server.ts';
import { message, post, users } from '../fakes/activities.ts';
import { FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import { hasSimFault, setSimFault } from '../fakes/set-sim-fault.ts';
import { spawnBotChild } from '../fakes/spawn-bot-child.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// SIGTERM: no new turns, the turns in flight finish, the process closes its store and exits 0.

describe('SIGTERM', () => {
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let connector: FakeBotConnector;
  let dataDir: string;
  before(async () => {
    sim = await startSimServer({ port: 0, speed: 0, seed: 42, devices: 2000 });
    connector = await new FakeBotConnector().start();
    dataDir = mkdtempSync(join(tmpdir(), 'lagebot-term-'));
  });
  after(async () => {
    await connector.close();
    await sim.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the turn in flight is answered, new turns are refused, exit code 0', async () => {
    const bot = await spawnBotChild({
      DATA_DIR: dataDir,
      INVENTORY_API_URL: `${sim.url}/inventory/v1`,
      GATEWAY_API_URL: `${sim.url}/gateway/v1`,
      STATUS_CACHE_SECONDS: '0',
      SPAM_WATCHER: 'off',
    });
    // The inventory holds the turn's first call, so the status turn is still running when SIGTERM arrives.
    await setSimFault(sim.url, { target: 'inventory', mode: 'latency', ms: 1500, rate: 1, count: 1 });
    const inFlight = post(bot.url, message('status Kreis Olpe', { serviceUrl: connector.url, user: users.viewer }));
    await waitUntil(async () => !(await hasSimFault(sim.url, 'inventory')), 'the status turn reached the inventory');
    const exited = once(bot.child, 'exit');
    bot.child.kill('SIGTERM');
    // Draining: /readyz says so (or the listener is gone already).
    await waitUntil(
      async () =>
        fetch(`${bot.url}/readyz`).then(
          async (r) => r.status === 503 && ((await r.json()) as { status?: string }).status === 'draining',
          () => true,
        ),
      'the bot is draining',
    );
    const late = await post(bot.url, message('hilfe', { serviceUrl: connector.url, user: users.viewer })).catch(
      (error: Error) => ({ status: 0, body: error.message }),
    );
    // Either refused with 503 while draining, or the listener is already closed.
    assert.ok(late.status === 503 || late.status === 0, `late turn answered ${late.status}`);
    assert.equal((await inFlight).status, 200, 'the turn in flight was completed');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    const replies = connector.calls.filter((c) => c.method === 'POST').map((c) => replyText(c.activity));
    assert.ok(
      replies.some((r) => /Lage: Kreis Olpe/.test(r)),
      `replies: ${replies.join(' | ').slice(0, 300)}`,
    );
    assert.ok(!replies.some((r) => /was ich kann/.test(r)), 'the late turn did nothing');
  });
});
