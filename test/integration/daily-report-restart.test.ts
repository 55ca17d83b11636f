import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStore } from '../../src/adapters/store/create-store.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { channel, message, post, users } from '../fakes/activities.ts';
import { FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import { type BotChild, spawnBotChild } from '../fakes/spawn-bot-child.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// A bot SIGKILLed at 07:59 and started again at 08:05 sends the 08:00 report once. The bots are child
// processes on one SQLite file whose clock is the simulator's (frozen; the test moves it between them).

const sued = channel('lage-sued-restart');
let sim: Awaited<ReturnType<typeof startSimServer>>;
let connector: FakeBotConnector;
let dataDir: string;
const children: BotChild[] = [];

before(async () => {
  sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
  connector = await new FakeBotConnector().start();
  dataDir = mkdtempSync(join(tmpdir(), 'lagebot-report-kill-'));
});
after(async () => {
  for (const c of children) await c.kill();
  await connector.close();
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function setSimTime(iso: string): Promise<void> {
  const clock = (await (await fetch(`${sim.url}/sim/v1/clock`)).json()) as { now: string };
  const minutes = Math.round((Date.parse(iso) - Date.parse(clock.now)) / 60_000);
  assert.ok(minutes >= 0 && minutes <= 60 * 24 * 30);
  const res = await fetch(`${sim.url}/sim/v1/clock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ advanceMinutes: minutes }),
  });
  assert.equal(res.status, 200);
}

async function startBot(): Promise<BotChild> {
  const child = await spawnBotChild({
    DATA_DIR: dataDir,
    INVENTORY_API_URL: `${sim.url}/inventory/v1`,
    GATEWAY_API_URL: `${sim.url}/gateway/v1`,
    ROLES_FILE: writeTestRoles(),
    SPAM_WATCHER: 'off',
    SWEEP_INTERVAL_SECONDS: '1',
    BOT_CHILD_CLOCK_URL: `${sim.url}/sim/v1/clock`,
  });
  children.push(child);
  return child;
}

const reports = () => connector.messages(sued.id).filter((c) => /Lagebericht Südverband ·/.test(replyText(c.activity)));

describe('the 08:00 report across a crash', () => {
  test('SIGKILL at 07:59, restart at 08:05: exactly one report', async () => {
    await setSimTime('2024-02-19T06:59:00.000Z');
    const first = await startBot();
    const res = await post(
      first.url,
      message('bericht an Südverband', { serviceUrl: connector.url, user: users.operator, conversation: sued }),
    );
    assert.equal(res.status, 200);
    await connector.waitFor((calls) => calls.some((c) => /jeden Tag um 08:00/.test(replyText(c.activity))));
    await first.kill();
    assert.equal(reports().length, 0, 'nothing before 08:00');

    await setSimTime('2024-02-19T07:05:00.000Z');
    const second = await startBot();
    await connector.waitFor(() => reports().length >= 1, 30_000);
    // The sweep runs every second: it has passed over the sent report several times once the store says so.
    const store = await createStore({ dataDir });
    try {
      await waitUntil(
        async () => (await store.listNotifications({ kind: 'report', status: 'sent' })).length === 1,
        'the report is recorded as sent',
        10_000,
        100,
      );
      await second.stop();
      assert.equal(reports().length, 1);
      const rows = await store.listNotifications({ kind: 'report' });
      assert.deepEqual(
        rows.map((r) => [r.key, r.status]),
        [[`report:${sued.id}:2024-02-19`, 'sent']],
      );
    } finally {
      await store.close();
    }
  });
});
