import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { ActivityTypes, TurnContext } from 'botbuilder';
import { GatewayHttpClient } from '../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../src/adapters/inventory-http-client.ts';
import { createMetrics, type Metrics } from '../../src/adapters/metrics.ts';
import { createSendQueue, type SendQueue } from '../../src/adapters/send-queue.ts';
import { createStore } from '../../src/adapters/store/create-store.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/domain/logger.ts';
import type { RolesConfig } from '../../src/domain/roles.ts';
import type { Store } from '../../src/domain/store-port.ts';
import { type AlertDelivery, createAlertDelivery } from '../../src/services/deliver-alerts.ts';
import { createAlertService } from '../../src/services/manage-alerts.ts';
import { createStatusService } from '../../src/services/report-status.ts';
import { createSpamWatcher, type PollResult, type SpamWatcher } from '../../src/services/watch-spam.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { type BlockRequestInput, registerAlertRoutes } from '../../src/teams/alert-routes.ts';
import { parseCommand } from '../../src/teams/command-parser.ts';
import { createBotAdapter } from '../../src/teams/create-bot-adapter.ts';
import { createHttpServer } from '../../src/teams/create-http-server.ts';
import type { AdaptiveCardJson } from '../../src/teams/render-card.ts';
import { TeamsNotifier } from '../../src/teams/teams-notifier.ts';
import { callerOf, languageOf } from '../../src/teams/turn-context-info.ts';
import { buildAlertCard } from '../../src/teams/views/alert-card.ts';
import { buildNoticeCard } from '../../src/teams/views/notice-card.ts';
import { channel, invoke, message, post, tenantId, users } from '../fakes/activities.ts';
import { type CapturedCall, cardOf, FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// Spam alerts (docs/decisions/spam-alerts.md) over the real HTTP path: `alarme an Südverband` in a channel → /api/messages → botbuilder →
// teams-ai → alert routes → store; a spike injected into Kreis Olpe through POST /sim/v1/spam; the
// watcher polls the simulator's gateway API; the alert goes out through the send queue and
// TeamsNotifier (botbuilder's proactive path) to the fake Bot Connector; Acknowledge is an
// Action.Execute invoke; the end of the spike updates the card in place.
//
// The rig below is the wiring handed to the lead for src/start-lagebot.ts and create-teams-app.ts
// (which own the message switch); once it is there, this test can run against startTestBot instead.

const roles: RolesConfig = { viewer: ['*'], operator: [users.operator.aadObjectId], approver: [] };
const sued = channel('lage-sued');
const nord = channel('lage-nord');
const general = {
  id: '19:team-lagebot@thread.tacv2',
  type: 'channel' as const,
  teamId: '19:team-lagebot@thread.tacv2',
};

interface Rig {
  url: string;
  simUrl: string;
  sim: Awaited<ReturnType<typeof startSimServer>>;
  connector: FakeBotConnector;
  store: Store;
  queue: SendQueue;
  delivery: AlertDelivery;
  watcher: SpamWatcher;
  blocks: BlockRequestInput[];
  metrics: Metrics;
  close(): Promise<void>;
}

async function startRig(): Promise<Rig> {
  const sim = await startSimServer({ port: 0, speed: 0, seed: 42, devices: 300 });
  const connector = await new FakeBotConnector().start();
  const store = await createStore({ dataDir: ':memory:' });
  // The alert subsystem runs on the gateway's clock: the simulator's (frozen here, advanced by the test).
  const now = () => new Date(sim.sim.now());
  const inventory = new InventoryHttpClient({
    baseUrl: `${sim.url}/inventory/v1`,
    timeoutMs: 5000,
    logger: silentLogger,
  });
  const gateway = new GatewayHttpClient({ baseUrl: `${sim.url}/gateway/v1`, timeoutMs: 5000, logger: silentLogger });
  const status = createStatusService({ inventory, gateway, now, cacheSeconds: 0, logger: silentLogger });
  const adapter = createBotAdapter(loadConfig({ LOG_LEVEL: 'silent' }));
  const metrics = createMetrics();

  const queue = createSendQueue({
    sender: new TeamsNotifier(adapter, undefined, store, []),
    logger: silentLogger,
    onDepth: (n) => metrics.sendQueueDepth.set(n),
  });
  const delivery = createAlertDelivery({
    store,
    sender: queue,
    render: buildAlertCard,
    now,
    logger: silentLogger,
    metrics,
  });
  const service = createAlertService({
    store,
    delivery,
    regions: () => status.regionIndex(),
    roles,
    now,
    logger: silentLogger,
  });
  const watcher = createSpamWatcher({
    store,
    gateway,
    regions: () => status.regionIndex(),
    delivery,
    now,
    intervalMs: 60_000,
    holder: 'integration',
    logger: silentLogger,
    metrics,
    backfillMinutes: 120,
  });

  const blocks: BlockRequestInput[] = [];
  const app = new Application<TurnState>({ adapter, removeRecipientMention: true, startTypingTimer: false });
  // What create-teams-app's beforeTurn does: remember the conversation for proactive messages.
  app.turn('beforeTurn', async (context) => {
    const caller = callerOf(context);
    const a = context.activity;
    await store.upsertConversation({
      conversationId: caller.conversationId,
      tenantId: caller.tenantId ?? '',
      serviceUrl: String(a.serviceUrl),
      kind: caller.conversationType,
      reference: TurnContext.getConversationReference(a),
      updatedAt: now().toISOString(),
    });
    return true;
  });
  const routes = registerAlertRoutes(app, {
    service,
    requestBlock: async (input) => {
      blocks.push(input);
      const card = buildNoticeCard(`Wirklich sperren? ${input.scopeId}`, { title: 'Bestätigen' }) as AdaptiveCardJson;
      await input.post(card);
      return { posted: true, count: input.domains?.length ?? 0 };
    },
    logger: silentLogger,
    metrics,
  });
  // The alert commands of create-teams-app's handler table.
  app.activity(ActivityTypes.Message, async (context) => {
    const command = parseCommand(String(context.activity.text ?? ''));
    const lang = languageOf(context);
    switch (command.kind) {
      case 'alerts_list':
        await routes.commands.alerts_list(context, command, lang);
        break;
      case 'alerts_subscribe':
        await routes.commands.alerts_subscribe(context, command, lang);
        break;
      case 'alerts_unsubscribe':
        await routes.commands.alerts_unsubscribe(context, command, lang);
        break;
      case 'alert_test':
        await routes.commands.alert_test(context, command, lang);
        break;
      default:
        await context.sendActivity(`not part of this test: ${command.kind}`);
    }
  });

  const server = createHttpServer({
    processActivity: (req, res) => adapter.handleRequest(req, res, async (context) => void (await app.run(context))),
    readiness: [],
    metricsText: async () => ({ contentType: 'text/plain', body: '' }),
    logger: silentLogger,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    simUrl: sim.url,
    sim,
    connector,
    store,
    queue,
    delivery,
    watcher,
    blocks,
    metrics,
    async close() {
      await watcher.stop();
      await delivery.drain(5000);
      server.server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connector.close();
      await store.close();
      await sim.close();
    },
  };
}

let rig: Rig;
before(async () => {
  rig = await startRig();
});
after(async () => {
  await rig?.close();
});

async function say(
  text: string,
  conversation = sued,
  user = users.viewer,
  locale = 'de-DE',
): Promise<Record<string, unknown>> {
  const before = rig.connector.calls.length;
  const res = await post(rig.url, message(text, { serviceUrl: rig.connector.url, conversation, user, locale }));
  assert.equal(res.status, 200, `POST /api/messages answered ${res.status}`);
  const calls = await rig.connector.waitFor((c) => c.length > before);
  return calls[before]!.activity;
}

async function click(
  verb: string,
  data: Record<string, unknown>,
  o: { conversation?: typeof sued; user?: typeof users.viewer; replyToId?: string } = {},
): Promise<{ type: string; value: unknown }> {
  const res = await post(
    rig.url,
    invoke(verb, data, {
      serviceUrl: rig.connector.url,
      conversation: o.conversation ?? sued,
      user: o.user ?? users.operator,
      replyToId: o.replyToId,
    }),
  );
  assert.equal(res.status, 200, `invoke answered ${res.status}`);
  return res.body as { type: string; value: unknown };
}

async function simPost(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${rig.simUrl}/sim/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `POST /sim/v1/${path} answered ${res.status}`);
}

// A minute of simulated time per poll, as the watcher would see it every SPAM_WATCH_INTERVAL_SECONDS.
async function pollMinutes(until: (r: PollResult) => boolean, maxMinutes: number): Promise<PollResult> {
  for (let i = 0; i < maxMinutes; i++) {
    await simPost('clock', { advanceMinutes: 1 });
    const result = await rig.watcher.pollOnce();
    if (until(result)) {
      await rig.delivery.drain(10_000);
      return result;
    }
  }
  throw new Error(`no such poll within ${maxMinutes} simulated minutes`);
}

// Alert cards (real or test) the connector received for a conversation; replies to commands are not.
const anyAlertCards = (conversationId: string): CapturedCall[] =>
  rig.connector.calls.filter(
    (c) =>
      c.conversationId === conversationId &&
      /^(Spam-Welle|Testalarm|Spam spike|Test alert): /m.test(replyText(c.activity)),
  );
const alertCards = (conversationId: string, method: 'POST' | 'PUT') =>
  anyAlertCards(conversationId).filter(
    (c) => c.method === method && /Spam-Welle: Kreis Olpe/.test(replyText(c.activity)),
  );

describe('spam alerts end to end', () => {
  let alertId = '';
  let cardActivityId = '';

  test('a channel subscribes to the Südverband, another to the Nordverband', async () => {
    const reply = await say('alarme an Südverband', sued);
    assert.match(replyText(reply), /Dieser Kanal erhält jetzt Spam-Alarme für Südverband \(und alles darunter\)/);
    assertValidCard(cardOf(reply));
    assert.match(replyText(await say('alarme an Nordverband', nord)), /Spam-Alarme für Nordverband/);
    assert.match(replyText(await say('alarme an Südverband', sued)), /erhält bereits Spam-Alarme für Südverband/);
    assert.deepEqual(
      (await rig.store.listSubscriptions()).map((s) => `${s.conversationId} ${s.scopeId}`),
      [`${nord.id} vb-nord`, `${sued.id} vb-sued`],
    );
  });

  test('an ambiguous or unknown region gets buttons that subscribe by id', async () => {
    const reply = await say('alarme an Olpe', sued);
    const card = cardOf(reply)!;
    assertValidCard(card);
    const actions = card.actions as Array<{ verb: string; data: { scopeId: string } }>;
    assert.deepEqual(actions.map((a) => `${a.verb} ${a.data.scopeId}`).sort(), [
      'alert.subscribe ko-olpe',
      'alert.subscribe kr-olpe',
    ]);
  });

  test('spam into Kreis Olpe: the Südverband channel gets one alert card through the Bot Connector', async () => {
    const warmUp = await rig.watcher.pollOnce();
    assert.equal(warmUp.backfilled, true);
    const before = rig.connector.calls.length;
    await simPost('spam', { region: 'kr-olpe', factor: 10, minutes: 30 });
    const result = await pollMinutes((r) => r.events.some((e) => e.type === 'opened'), 10);
    alertId = result.events.find((e) => e.type === 'opened')!.alert.id;
    const cards = alertCards(sued.id, 'POST');
    assert.equal(cards.length, 1);
    cardActivityId = cards[0]!.id;
    const card = cardOf(cards[0]!.activity)!;
    assertValidCard(card);
    assert.match(replyText(cards[0]!.activity), /Läuft seit 18:00/);
    assert.deepEqual(
      rig.connector.calls.slice(before).filter((c) => c.conversationId === nord.id),
      [],
      'the Nordverband channel gets nothing',
    );
    assert.equal(cards[0]!.method, 'POST');
    const [delivery] = await rig.store.listDeliveries({ alertId });
    assert.equal(delivery?.status, 'sent');
    assert.equal(delivery?.activityId, cardActivityId);
  });

  test('Acknowledge: a viewer is refused with a message; the operator’s click updates the card for everyone', async () => {
    const refused = await click('alert.ack', { alertId }, { user: users.viewer, replyToId: cardActivityId });
    assert.equal(refused.type, 'application/vnd.microsoft.activity.message');
    assert.match(String(refused.value), /Rolle Operator/);

    const putsBefore = alertCards(sued.id, 'PUT').length;
    const answer = await click('alert.ack', { alertId }, { replyToId: cardActivityId });
    assert.equal(answer.type, 'application/vnd.microsoft.card.adaptive');
    assertValidCard(answer.value);
    assert.match(replyText({ attachments: [{ content: answer.value }] }), /Bestätigt von Olaf Operator/);
    await rig.delivery.drain(10_000);
    const puts = alertCards(sued.id, 'PUT');
    assert.equal(puts.length, putsBefore + 1);
    assert.equal(puts.at(-1)!.activityId, cardActivityId, 'the delivered card is updated in place');
    assert.match(replyText(puts.at(-1)!.activity), /Bestätigt von Olaf Operator/);
    const audit = await rig.store.listAudit({ requestId: alertId, limit: 10 });
    assert.deepEqual(
      audit.map((e) => `${e.action} ${e.actor}`),
      ['alert.ack aad-operator'],
    );
  });

  test('forged or extra card data is refused and changes nothing', async () => {
    for (const [verb, data] of [
      ['alert.ack', { alertId, actor: 'aad-operator' }],
      ['alert.mute', { alertId, hours: 24 }],
      ['alert.ack', { alertId: 'x'.repeat(500) }],
      ['alert.block', {}],
    ] as const) {
      const answer = await click(verb, data as Record<string, unknown>);
      assert.equal(answer.type, 'application/vnd.microsoft.activity.message', verb);
      assert.match(String(answer.value), /Kartenaktion ist ungültig/, verb);
    }
    assert.deepEqual(await rig.store.listMutes(), []);
    assert.equal((await rig.store.listAcknowledgements(alertId)).length, 1);
  });

  test('Eingehend sperren hands exactly the alert’s domains to the audited block path; the alert stays', async () => {
    const refused = await click('alert.block', { alertId }, { user: users.viewer });
    assert.match(String(refused.value), /Rolle Operator/);
    assert.equal(rig.blocks.length, 0);
    const posts = rig.connector.calls.length;
    const answer = await click('alert.block', { alertId });
    // The answer replaces the clicked card: it is the alert card again, not the confirmation.
    assert.doesNotMatch(JSON.stringify(answer.value), /Wirklich sperren/);
    assert.match(replyText({ attachments: [{ content: answer.value }] }), /Spam-Welle/);
    const confirm = await rig.connector.waitFor((c) => c.length > posts);
    assert.match(replyText(confirm[posts]!.activity), /Wirklich sperren\? kr-olpe/);
    assert.equal(rig.blocks.length, 1);
    const view = await rig.delivery.viewFor(alertId, sued.id);
    assert.deepEqual(rig.blocks[0]!.domains, view!.domains);
    assert.equal(rig.blocks[0]!.scopeId, 'kr-olpe');
    assert.equal(rig.blocks[0]!.direction, 'inbound');
    assert.equal(rig.blocks[0]!.caller.aadObjectId, users.operator.aadObjectId);
    assert.match(rig.blocks[0]!.reason, /Spam-Welle Kreis Olpe seit Do\., 15\.02\.2024, 18:00/);
    // The whole Kreis is a separate button: the region, no domain list.
    await click('alert.block_group', { alertId });
    assert.equal(rig.blocks.length, 2);
    assert.equal(rig.blocks[1]!.scopeId, view!.group.id);
    assert.equal(rig.blocks[1]!.domains, undefined);
  });

  test('the end of the spike updates the card in place: ended at, duration, peak', async () => {
    await pollMinutes((r) => r.events.some((e) => e.type === 'closed' && e.alert.id === alertId), 40);
    const last = alertCards(sued.id, 'PUT').at(-1)!;
    assert.equal(last.activityId, cardActivityId);
    assertValidCard(cardOf(last.activity));
    const text = replyText(last.activity);
    assert.match(text, /Beendet 18:30 · Dauer 30 min · Spitze ×\d+,\d/);
    assert.match(text, /Bestätigt von Olaf Operator/, 'the acknowledgement stays on the card');
    assert.equal(alertCards(sued.id, 'POST').length, 1, 'still exactly one alert card');
    assert.deepEqual(anyAlertCards(nord.id), [], 'the Nordverband channel received no alert at all');
  });

  test('Stumm 1 h: the next spike in the Kreis skips this channel', async () => {
    const muted = await click('alert.mute', { alertId, hours: 1 }, { user: users.viewer });
    assert.equal(muted.type, 'application/vnd.microsoft.card.adaptive');
    assert.match(replyText({ attachments: [{ content: muted.value }] }), /Hier stumm bis/);
    await rig.delivery.drain(10_000);
    // Past the detector's 30-minute cooldown, well inside the hour of the mute.
    await simPost('clock', { advanceMinutes: 31 });
    await simPost('spam', { region: 'kr-olpe', factor: 10, minutes: 20 });
    const result = await pollMinutes((r) => r.events.some((e) => e.type === 'opened'), 10);
    assert.equal(result.events.find((e) => e.type === 'opened')!.alert.scope.id, 'kr-olpe', 'a new Kreis alert opened');
    assert.equal(alertCards(sued.id, 'POST').length, 1, 'no second card while muted');
  });

  test('`alarme` lists, `alarm test` posts a test card (operators), `alarme aus` ends all', async () => {
    const list = await say('alarme', sued);
    assertValidCard(cardOf(list));
    assert.match(replyText(list), /Spam-Alarme in diesem Kanal[\s\S]*Südverband/);
    const buttons = cardOf(list)!.actions as Array<{ verb: string; data: { scopeId: string } }>;
    assert.deepEqual(
      buttons.map((b) => `${b.verb} ${b.data.scopeId}`),
      ['alert.unsubscribe vb-sued'],
    );

    assert.match(replyText(await say('alarm test', nord, users.viewer)), /Rolle Operator/);
    const res = await post(
      rig.url,
      message('alarm test', { serviceUrl: rig.connector.url, conversation: nord, user: users.operator }),
    );
    assert.equal(res.status, 200);
    await rig.connector.waitFor(() => anyAlertCards(nord.id).length > 0);
    const testCard = anyAlertCards(nord.id).at(-1)!;
    assertValidCard(cardOf(testCard.activity));
    assert.match(replyText(testCard.activity), /Testalarm: Nordverband/);

    assert.match(replyText(await say('alarme aus', nord)), /1 Spam-Alarm-Abo dieses Kanals ist beendet/);
    assert.deepEqual(
      (await rig.store.listSubscriptions()).map((s) => s.conversationId),
      [sued.id],
    );
  });

  test('an English client gets English answers', async () => {
    const reply = await say('alerts on Kreis Soest', nord, users.viewer, 'en-US');
    assert.match(replyText(reply), /This channel now receives spam alerts for Kreis Soest/);
    assert.match(
      replyText(await say('alerts off', nord, users.viewer, 'en-US')),
      /1 spam alert subscription of this channel ended/,
    );
  });

  test('Teams answers 429 with Retry-After: the card is sent again after the wait, and arrives once', async () => {
    const soest = channel('lage-soest');
    await say('alarme an Kreis Soest', soest);
    // Subscribed from an English client: this channel's copy of the alert is English.
    const soestEnglish = channel('soest-english');
    await say('alerts on Kreis Soest', soestEnglish, users.viewer, 'en-US');
    // botbuilder's connector client retries a 429 with Retry-After three times itself
    // (@azure/core-rest-pipeline throttlingRetryPolicy); the fourth refusal reaches the send queue.
    let refused = 0;
    rig.connector.responder = (call) => {
      if (call.method !== 'POST' || call.conversationId !== soest.id || refused >= 4) return null;
      refused++;
      return { status: 429, headers: { 'Retry-After': '0' } };
    };
    try {
      await simPost('spam', { region: 'kr-soest', factor: 10, minutes: 30 });
      await pollMinutes((r) => r.events.some((e) => e.type === 'opened' && e.alert.group === 'kr-soest'), 10);
    } finally {
      rig.connector.responder = null;
    }
    assert.equal(refused, 4);
    const cards = anyAlertCards(soest.id).filter((c) => c.method === 'POST');
    assert.equal(cards.length, 1);
    assert.match(replyText(cards[0]!.activity), /Spam-Welle: Kreis Soest/);
    await rig.connector.waitFor(() => anyAlertCards(soestEnglish.id).length > 0);
    const english = replyText(anyAlertCards(soestEnglish.id)[0]!.activity);
    assert.match(english, /Spam spike: Kreis Soest/);
    assert.doesNotMatch(english, /Spam-Welle|Eingehend sperren/);
    const deliveries = (await rig.store.listDeliveries()).filter((d) => d.conversationId === soest.id);
    assert.deepEqual(
      deliveries.map((d) => [d.status, d.activityId]),
      [['sent', cards[0]!.id]],
    );
  });

  test('added to a team, the bot greets the General channel with one button per Verband', async () => {
    const before = rig.connector.calls.length;
    const activity = {
      type: 'conversationUpdate',
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: rig.connector.url,
      from: { id: users.operator.id, name: users.operator.name, aadObjectId: users.operator.aadObjectId },
      recipient: { id: '28:lagebot', name: 'Lagebot' },
      conversation: { id: general.id, conversationType: 'channel', tenantId, isGroup: true },
      membersAdded: [{ id: '28:lagebot' }],
      locale: 'de-DE',
      channelData: { tenant: { id: tenantId }, team: { id: general.teamId }, eventType: 'teamMemberAdded' },
    };
    assert.equal((await post(rig.url, activity)).status, 200);
    await rig.connector.waitFor((c) => c.length > before);
    const card = cardOf(rig.connector.calls[before]!.activity)!;
    assertValidCard(card);
    assert.match(replyText(rig.connector.calls[before]!.activity), /Lagebot ist jetzt in diesem Team/);
    const buttons = card.actions as Array<{ verb: string; data: { scopeId: string } }>;
    assert.deepEqual(buttons.map((b) => `${b.verb} ${b.data.scopeId}`).sort(), [
      'alert.subscribe vb-nord',
      'alert.subscribe vb-sued',
    ]);
    const answer = await click(
      'alert.subscribe',
      { scopeId: 'vb-nord' },
      { conversation: general, user: users.viewer },
    );
    assert.match(JSON.stringify(answer.value), /Spam-Alarme für Nordverband/);
    assert.ok(
      (await rig.store.listSubscriptions(general.id)).some((s) => s.scopeId === 'vb-nord'),
      'the General channel follows the Nordverband',
    );

    // A member other than the bot joining is no reason to greet (a reply would be sent within the turn,
    // before the POST is answered).
    const quiet = rig.connector.calls.length;
    assert.equal(
      (await post(rig.url, { ...activity, id: randomUUID(), membersAdded: [{ id: '29:someone' }] })).status,
      200,
    );
    assert.equal(rig.connector.calls.length, quiet);
  });

  test('the metrics count alerts, deliveries, card actions and who holds the watcher lease', async () => {
    const text = await rig.metrics.registry.metrics();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    assert.ok(value(/lagebot_alerts_total\{event="opened"\} (\d+)/) >= 2, 'opened');
    assert.ok(value(/lagebot_alerts_total\{event="delivered"\} (\d+)/) >= 3, 'delivered');
    assert.equal(value(/lagebot_card_actions_total\{verb="alert.ack",outcome="ok"\} (\d+)/), 1);
    assert.equal(value(/lagebot_card_actions_total\{verb="alert.ack",outcome="bad_data"\} (\d+)/), 2);
    assert.equal(value(/lagebot_lease_holder\{lease="spam-watcher"\} (\d+)/), 1);
    assert.equal(value(/lagebot_send_queue_depth (\d+)/), 0);
  });
});
