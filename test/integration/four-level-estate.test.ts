import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { type RunningLagebot, startLagebot } from '../../src/start-lagebot.ts';
import { type ConversationSpec, channel, invoke, message, post, type TestUser, users } from '../fakes/activities.ts';
import { cardOf, FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import { InMemoryGateway } from '../fakes/in-memory-gateway.ts';
import { InMemoryInventory } from '../fakes/in-memory-inventory.ts';
import { fourLevelDevices, fourLevelLevels, fourLevelRegions } from '../fixtures/four-level-estate.ts';
import { trackedPatches } from '../fixtures/patches.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// The whole bot — Teams app, services, store, executor, spam watcher — on an estate that is not
// Südwestfalen: Land > Regierungsbezirk > Kreis > Gemeinde, AGS ids with a colon, level names from
// the region list, back ends passed in (in-memory), one clock for bot and back ends moved by the test.
// Status, release and alerts must work without a line of code knowing this estate.

const T0 = Date.parse('2024-02-19T14:00:00.000Z');
let nowMs = T0;
const now = () => new Date(nowMs);

let bot: RunningLagebot;
let connector: FakeBotConnector;
let inventory: InMemoryInventory;
let gateway: InMemoryGateway;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lagebot-land-'));
  inventory = new InMemoryInventory(
    {
      regions: fourLevelRegions,
      levels: fourLevelLevels,
      patches: trackedPatches,
      // Siegburg (Rhein-Sieg-Kreis, Regierungsbezirk Köln) still has two clients without the patch.
      devices: fourLevelDevices(now(), { 'ags:05382060': 2 }),
    },
    now,
  );
  gateway = new InMemoryGateway(fourLevelRegions, now);
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    STATUS_CACHE_SECONDS: '0',
    USER_RATE_LIMIT_BURST: '10000',
    ROLES_FILE: writeTestRoles(),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SPAM_WATCHER: 'off',
  });
  bot = await startLagebot(config, {
    logger: createLogger(config.logLevel),
    now,
    backEnds: { inventory, gateway, gatewayNow: now },
  });
  connector = await new FakeBotConnector().start();
});
after(async () => {
  await connector?.close();
  await bot?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function ask(text: string, o: { user?: TestUser; conversation?: ConversationSpec; locale?: string } = {}) {
  const before = connector.calls.length;
  const res = await post(bot.url, message(text, { serviceUrl: connector.url, user: users.viewer, ...o }));
  assert.equal(res.status, 200);
  await connector.waitFor((calls) => calls.slice(before).some((c) => c.method === 'POST'));
  return connector.calls
    .slice(before)
    .filter((c) => c.method === 'POST')
    .at(-1)!.activity;
}

async function click(verb: string, data: Record<string, unknown>, user: TestUser) {
  const res = await post(bot.url, invoke(verb, data, { serviceUrl: connector.url, user }));
  assert.equal(res.status, 200);
  const body = res.body as { value: Record<string, unknown> };
  return { card: body.value, text: replyText({ attachments: [{ content: body.value }] }) };
}

describe('status on a four-level estate', () => {
  test('status NRW: the Land, its Regierungsbezirke in the breakdown, numbers from the inventory', async () => {
    const reply = await ask('status NRW');
    assertValidCard(cardOf(reply)!);
    const text = replyText(reply);
    assert.match(text, /Lage: Nordrhein-Westfalen/);
    assert.match(text, /Regierungsbezirke, schlechteste zuerst/);
    assert.match(text, /Regierungsbezirk Arnsberg/);
    assert.match(text, /Regierungsbezirk Köln/);
    const outlook = (await inventory.getCompliance('ags:05', 'outlook-2024-02')).region.patches[0]!;
    assert.match(text, new RegExp(`${outlook.clients.installed} von ${outlook.clients.total}`));
    assert.match(text, /WS-05382060-000/, 'the failed client of Siegburg is among the devices that matter');
  });

  test('status alle: the roots of the tree, not a list of ids someone wrote into the code', async () => {
    const text = replyText(await ask('status alle'));
    assert.match(text, /Lage: Alle Regionen/);
    // One root: its children are the one level, the Land's own Exchange server a row of its own.
    assert.match(text, /Regierungsbezirke, schlechteste zuerst/);
    assert.match(text, /Nordrhein-Westfalen \(eigene Geräte\)/);
    assert.match(text, /Nordrhein-Westfalen/);
  });

  test('"Arnsberg" is a Regierungsbezirk and a town: both offered, named by their level, in either language', async () => {
    const reply = await ask('status Arnsberg');
    const card = cardOf(reply)!;
    assertValidCard(card);
    const buttons = card.actions as Array<{ title: string; data: { scopeId: string } }>;
    assert.deepEqual(
      buttons.map((b) => [b.title, b.data.scopeId]),
      [
        ['Regierungsbezirk Arnsberg (Regierungsbezirk)', 'ags:059'],
        ['Arnsberg (Gemeinde)', 'ags:05958004'],
      ],
    );
    const english = cardOf(await ask('status Arnsberg', { locale: 'en-US' }))!;
    assert.match(JSON.stringify(english), /Arnsberg \(municipality\)/);
    // The button carries an id with a colon; it is accepted and answered.
    const shown = await click('status.show', { scopeId: 'ags:05958004' }, users.viewer);
    assert.match(shown.text, /Lage: Arnsberg/);
  });

  test('a mail domain of the estate', async () => {
    const text = replyText(await ask('status stadt-unna.nrw.example'));
    assert.match(text, /Lage: stadt-unna\.nrw\.example/);
  });
});

describe('release on a four-level estate', () => {
  test('Regierungsbezirk Arnsberg: requested, approved by another, executed once per domain', async () => {
    const requested = await ask('freigabe Regierungsbezirk Arnsberg eingehend alles gepatcht', {
      user: users.operator,
    });
    const card = cardOf(requested)!;
    assertValidCard(card);
    assert.match(replyText(requested), /Richtlinie erfüllt/);
    const ref = (card.actions as Array<{ data: { requestId?: string; version?: number } }>).find(
      (a) => a.data?.requestId,
    )!.data as { requestId: string; version: number };
    const view = await click('request.approve', { ...ref }, users.approver2);
    assert.match(view.text, /7 Domänen/);
    const confirmed = await click('request.confirm', { ...ref }, users.approver2);
    assert.match(confirmed.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await bot.executor.idle(10_000));
    const { request } = (await bot.release.get(ref.requestId))!;
    assert.equal(request.state, 'executed');
    const counts = gateway.changesFor(ref.requestId);
    assert.equal(counts.size, 7);
    for (const [domain, n] of counts) assert.equal(n, 1, `${domain} changed ${n} times`);
    assert.equal((await gateway.getDomain('meschede.nrw.example')).inbound, 'open');
    assert.equal((await gateway.getDomain('bonn.nrw.example')).inbound, 'held', 'Köln is not part of it');
    assert.ok(await bot.cards.flush());
    const audit = replyText(await ask('protokoll Regierungsbezirk Arnsberg'));
    assert.match(audit, /Protokoll: Regierungsbezirk Arnsberg/);
    assert.match(audit, /Regierungsbezirk Arnsberg eingehend: 7 Domänen geöffnet, 0 fehlgeschlagen/);
  });

  test('the Regierungsbezirk Köln is below the policy: two approvers and a justification', async () => {
    const requested = await ask('freigabe Bezirk Köln eingehend dringend gebraucht', { user: users.operator });
    assert.match(replyText(requested), /Richtlinie NICHT erfüllt/);
    assert.match(replyText(requested), /Wartet auf Genehmigung \(0 von 2\)/);
  });
});

describe('alerts on a four-level estate', () => {
  const unnaOps = channel('unna-ops');
  const koelnOps = channel('koeln-ops');

  test('a spam wave in three domains of Kreis Unna: one alert for the Kreis, to the channel that follows it', async () => {
    assert.match(replyText(await ask('alarme an Kreis Unna', { conversation: unnaOps })), /Spam-Alarme für Kreis Unna/);
    assert.match(
      replyText(await ask('alarme an Regierungsbezirk Köln', { conversation: koelnOps })),
      /Spam-Alarme für Regierungsbezirk Köln/,
    );
    // Warm-up with the gateway's history, then the wave, a minute per poll.
    assert.equal((await bot.watcher.pollOnce()).backfilled, true);
    gateway.injectSpam(['unna.nrw.example', 'stadt-unna.nrw.example', 'schwerte.nrw.example'], 12, 30);
    let opened = null;
    for (let minute = 0; minute < 6 && !opened; minute++) {
      nowMs += 60_000;
      opened = (await bot.watcher.pollOnce()).events.find((e) => e.type === 'opened') ?? null;
    }
    assert.ok(opened, 'an alert opened');
    assert.equal(opened.alert.scope.kind, 'group');
    assert.equal(opened.alert.scope.id, 'ags:05978');
    assert.ok(await bot.alertDelivery.drain(10_000));
    const cards = connector.calls.filter((c) => c.method === 'POST' && /Spam-Welle/.test(replyText(c.activity)));
    assert.deepEqual(
      cards.map((c) => c.conversationId),
      [unnaOps.id],
      'the Kreis Unna channel, not the Köln one',
    );
    const text = replyText(cards[0]!.activity);
    assert.match(text, /Spam-Welle: Kreis Unna/);
    assert.match(text, /Regierungsbezirk Arnsberg/, 'the region above the Kreis, from the tree');
    assertValidCard(cardOf(cards[0]!.activity)!);
  });
});
