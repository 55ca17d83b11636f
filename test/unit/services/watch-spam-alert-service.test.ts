import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createSendQueue } from '../../../src/adapters/send-queue.ts';
import { createStore } from '../../../src/adapters/store/create-store.ts';
import type { Caller } from '../../../src/domain/caller.ts';
import { LagebotError } from '../../../src/domain/errors.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { ProactiveSender } from '../../../src/domain/ports.ts';
import { buildRegionIndex } from '../../../src/domain/region-index.ts';
import type { RolesConfig } from '../../../src/domain/roles.ts';
import type { SpikeAlert, SpikeEvent } from '../../../src/domain/spike-detector.ts';
import type { Store } from '../../../src/domain/store-port.ts';
import { type AlertDelivery, createAlertDelivery } from '../../../src/services/deliver-alerts.ts';
import { type AlertService, createAlertService } from '../../../src/services/manage-alerts.ts';
import { createSimulator } from '../../../src/sim/simulator.ts';
import { collectText } from '../../../src/teams/local-connector.ts';
import { buildAlertCard } from '../../../src/teams/views/alert-card.ts';
import { olpeSpike } from '../../fixtures/olpe-spike.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// The use cases behind `alarme …` and the alert card's buttons, on a real store in memory with a
// recording sender: scope resolution, roles, acknowledgement (every copy updated, audited), mute (this
// chat only), block preparation and the test alert.

const sim = createSimulator({ speed: 0, seed: 42, devices: 100 });
const index = buildRegionIndex(sim.regions());
const NOW = Date.parse('2024-02-15T17:10:00.000Z');
const roles: RolesConfig = { viewer: ['aad-viewer', 'aad-operator'], operator: ['aad-operator'], approver: [] };
const operator: Caller = { aadObjectId: 'aad-operator', userId: '29:op', name: 'Olaf Operator', tenantId: 't1' };
const viewer: Caller = { aadObjectId: 'aad-viewer', userId: '29:vi', name: 'Vera Viewer', tenantId: 't1' };
const stranger: Caller = { aadObjectId: 'aad-guest', userId: '29:gu', name: 'Gast', tenantId: 't1' };
const A = '19:a@thread.tacv2';
const B = '19:b@thread.tacv2';
const C = '19:c@thread.tacv2';

class RecordingSender implements ProactiveSender {
  calls: Array<{ method: 'send' | 'update'; conversationId: string; activityId: string; text: string; card: object }> =
    [];
  refuse = new Set<string>();
  private n = 0;
  async send(conversationId: string, card: Record<string, unknown>) {
    if (this.refuse.has(conversationId)) throw new LagebotError('NOT_FOUND', `conversation ${conversationId} unknown`);
    const activityId = `act-${++this.n}`;
    this.calls.push({ method: 'send', conversationId, activityId, text: textOf(card), card });
    return { activityId };
  }
  async update(conversationId: string, activityId: string, card: Record<string, unknown>) {
    this.calls.push({ method: 'update', conversationId, activityId, text: textOf(card), card });
  }
}

function textOf(card: object): string {
  const parts: string[] = [];
  collectText(card, parts);
  return parts.join('\n');
}

function kreisSpike(over: Partial<SpikeAlert> = {}): SpikeAlert {
  return olpeSpike(NOW, { domains: ['attendorn.de', 'olpe.de', 'wenden.de'], ...over });
}

interface Env {
  store: Store;
  sender: RecordingSender;
  delivery: AlertDelivery;
  service: AlertService;
  clock: { t: number };
}

async function setup(): Promise<Env> {
  const store = await createStore({ dataDir: ':memory:' });
  const sender = new RecordingSender();
  const clock = { t: NOW };
  const now = () => new Date(clock.t);
  const delivery = createAlertDelivery({
    store,
    sender: createSendQueue({ sender }),
    render: buildAlertCard,
    now,
    logger: silentLogger,
  });
  const service = createAlertService({ store, delivery, regions: async () => index, roles, now, logger: silentLogger });
  return { store, sender, delivery, service, clock };
}

// Opens the alert and delivers it to A and B (both follow the Südverband).
async function openAlert(env: Env, alert = kreisSpike()): Promise<string> {
  const domains = new Map(sim.domains().map((d) => [d.domain, d]));
  const event: SpikeEvent = { type: 'opened', alert };
  const stored = await env.delivery.recordEvent(event, { index, domains });
  await env.delivery.fanOut(stored);
  await env.delivery.drain(5000);
  return stored.id;
}

describe('alert service: people on alerts', () => {
  test('a spike card mentions the people of the subscriptions it reaches in that chat, and only there', async () => {
    const env = await setup();
    const anna = { id: '29:anna', name: 'Anna Approver' };
    await env.service.subscribe(A, 'Südverband', viewer, [anna]);
    await env.service.subscribe(A, 'Nordverband', viewer, [{ id: '29:nord', name: 'Nora Nord' }]);
    await env.service.subscribe(B, 'Südverband', viewer);
    await openAlert(env);
    const sent = env.sender.calls.filter((c) => c.method === 'send');
    const toA = sent.find((c) => c.conversationId === A)!.card as { msteams?: { entities: unknown[] } };
    const toB = sent.find((c) => c.conversationId === B)!.card as { msteams?: { entities: unknown[] } };
    assert.deepEqual(toA.msteams?.entities, [{ type: 'mention', text: '<at>Anna Approver</at>', mentioned: anna }]);
    assert.equal(toB.msteams?.entities, undefined);
    assert.deepEqual(
      (await env.service.list(A)).map((e) => [e.scopeId, e.mentions.map((m) => m.name)]),
      [
        ['vb-nord', ['Nora Nord']],
        ['vb-sued', ['Anna Approver']],
      ],
    );
  });
});

describe('alert service: subscriptions', () => {
  let env: Env;
  beforeEach(async () => {
    env = await setup();
  });

  test('a typed region, town, domain or "alle" is resolved and subscribed once', async () => {
    assert.deepEqual(await env.service.subscribe(A, 'Südverband', viewer), {
      kind: 'subscribed',
      scope: { id: 'vb-sued', name: 'Südverband' },
    });
    assert.equal((await env.service.subscribe(A, 'suedverband', viewer)).kind, 'already');
    assert.deepEqual(await env.service.subscribe(A, 'Attendorn.DE', viewer), {
      kind: 'subscribed',
      scope: { id: 'domain:attendorn.de', name: 'attendorn.de' },
    });
    assert.deepEqual(await env.service.subscribe(A, 'alle', viewer), {
      kind: 'subscribed',
      scope: { id: 'all', name: '' },
    });
    assert.deepEqual(
      (await env.store.listSubscriptions(A)).map((s) => s.scopeId),
      ['all', 'domain:attendorn.de', 'vb-sued'],
    );
    const audit = await env.store.listAudit({ limit: 10 });
    assert.deepEqual(
      audit.map((e) => `${e.action} ${e.scopeId} ${e.actor}`),
      [
        'alert.subscribe all aad-viewer',
        'alert.subscribe domain:attendorn.de aad-viewer',
        'alert.subscribe vb-sued aad-viewer',
      ],
    );
  });

  test('"Olpe" asks which one; a typo gets suggestions; nothing typed asks for a region', async () => {
    const ambiguous = await env.service.subscribe(A, 'Olpe', viewer);
    assert.equal(ambiguous.kind, 'ambiguous');
    assert.deepEqual(ambiguous.kind === 'ambiguous' ? ambiguous.nodes.map((n) => n.id).sort() : [], [
      'ko-olpe',
      'kr-olpe',
    ]);
    const typo = await env.service.subscribe(A, 'Kreis Olep', viewer);
    assert.equal(typo.kind, 'unknown');
    assert.ok(typo.kind === 'unknown' && typo.nodes.some((n) => n.id === 'kr-olpe'), 'suggests Kreis Olpe');
    // resolveScope reads "" as "all": a subscription to everything must be asked for explicitly.
    assert.deepEqual(await env.service.subscribe(A, '  ', viewer), { kind: 'missing' });
    assert.deepEqual(await env.store.listSubscriptions(A), []);
  });

  test('by id (card buttons): known ids only', async () => {
    assert.equal((await env.service.subscribeById(A, 'vb-nord', viewer)).kind, 'subscribed');
    assert.equal((await env.service.subscribeById(A, 'kr-nowhere', viewer)).kind, 'unknown');
    assert.equal((await env.service.subscribeById(A, 'domain:nowhere.example', viewer)).kind, 'unknown');
    assert.deepEqual(
      (await env.store.listSubscriptions(A)).map((s) => s.scopeId),
      ['vb-nord'],
    );
  });

  test('unsubscribe one, or all with nothing typed; list shows names and mutes', async () => {
    await env.service.subscribe(A, 'Südverband', viewer);
    await env.service.subscribe(A, 'Kreis Soest', viewer);
    await env.service.subscribe(A, 'Nordverband', viewer);
    assert.deepEqual(await env.service.unsubscribe(A, 'Kreis Soest', viewer), {
      kind: 'unsubscribed',
      scope: { id: 'kr-soest', name: 'Kreis Soest' },
    });
    assert.equal((await env.service.unsubscribe(A, 'Kreis Soest', viewer)).kind, 'not_subscribed');
    await env.store.muteScope(A, 'vb-sued', new Date(NOW + 3_600_000).toISOString());
    await env.store.muteScope(A, 'vb-nord', new Date(NOW - 60_000).toISOString());
    assert.deepEqual(await env.service.list(A), [
      {
        scopeId: 'vb-nord',
        name: 'Nordverband',
        createdAt: new Date(NOW).toISOString(),
        mutedUntil: null,
        mentions: [],
      },
      {
        scopeId: 'vb-sued',
        name: 'Südverband',
        createdAt: new Date(NOW).toISOString(),
        mutedUntil: new Date(NOW + 3_600_000).toISOString(),
        mentions: [],
      },
    ]);
    assert.deepEqual(await env.service.unsubscribe(A, '', viewer), { kind: 'all', count: 2 });
    assert.deepEqual(await env.service.list(A), []);
  });

  test('without a role nothing changes', async () => {
    assert.deepEqual(await env.service.subscribe(A, 'Südverband', stranger), { kind: 'forbidden', role: 'viewer' });
    await env.service.subscribe(A, 'Südverband', viewer);
    assert.deepEqual(await env.service.unsubscribe(A, '', stranger), { kind: 'forbidden', role: 'viewer' });
    assert.equal((await env.store.listSubscriptions(A)).length, 1);
  });
});

describe('alert service: the buttons on a delivered alert', () => {
  let env: Env;
  let alertId: string;
  before(async () => {
    env = await setup();
    await env.store.subscribe(A, 'vb-sued', new Date(NOW).toISOString());
    await env.store.subscribe(B, 'kr-olpe', new Date(NOW).toISOString());
    await env.store.subscribe(C, 'vb-nord', new Date(NOW).toISOString());
    alertId = await openAlert(env);
  });
  after(async () => {
    await env.store.close();
  });

  test('the alert went to A and B, one card each', () => {
    assert.deepEqual(
      env.sender.calls.map((c) => `${c.method} ${c.conversationId}`),
      [`send ${A}`, `send ${B}`],
    );
  });

  test('acknowledge: operators only; the card in every chat shows who and when; audited once', async () => {
    assert.deepEqual(await env.service.acknowledge(alertId, A, viewer), { kind: 'forbidden', role: 'operator' });
    env.sender.calls = [];
    env.clock.t = NOW + 60_000;
    const r = await env.service.acknowledge(alertId, A, operator);
    await env.delivery.drain(5000);
    assert.equal(r.kind, 'ok');
    assert.ok(r.kind === 'ok' && r.first, 'first acknowledgement');
    assert.deepEqual(r.kind === 'ok' ? r.view.acks.map((x) => x.name) : [], ['Olaf Operator']);
    const updates = env.sender.calls.filter((c) => c.method === 'update');
    assert.deepEqual(updates.map((u) => u.conversationId).sort(), [A, B]);
    for (const u of updates) {
      assert.match(u.text, /Bestätigt von Olaf Operator, Do\., 15\.02\.2024, 18:11/);
      assertValidCard(u.card);
    }
    const audit = (await env.store.listAudit({ requestId: alertId, limit: 10 })).filter(
      (e) => e.action === 'alert.ack',
    );
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'aad-operator');
    assert.equal(audit[0]!.scopeId, 'kr-olpe');

    env.sender.calls = [];
    const again = await env.service.acknowledge(alertId, B, operator);
    await env.delivery.drain(5000);
    assert.ok(again.kind === 'ok' && !again.first, 'a repeat is not a new acknowledgement');
    assert.equal(env.sender.calls.length, 0, 'and changes no card');
    assert.equal(
      (await env.store.listAudit({ requestId: alertId, limit: 10 })).filter((e) => e.action === 'alert.ack').length,
      1,
    );
  });

  test('a button only acts where its card was delivered; a forged id finds nothing', async () => {
    assert.deepEqual(await env.service.acknowledge(alertId, C, operator), { kind: 'not_found' });
    assert.deepEqual(await env.service.mute(alertId, C, 1, viewer), { kind: 'not_found' });
    assert.deepEqual(await env.service.prepareBlock(alertId, C, operator), { kind: 'not_found' });
    assert.deepEqual(await env.service.acknowledge('spike:group:kr-soest:2024-02-15T17:00:00.000Z', A, operator), {
      kind: 'not_found',
    });
  });

  test('mute 4 h: this chat only — its card says so, the next alert of the Kreis skips it', async () => {
    env.sender.calls = [];
    const r = await env.service.mute(alertId, B, 4, viewer);
    await env.delivery.drain(5000);
    assert.equal(r.kind, 'ok');
    const until = new Date(env.clock.t + 4 * 3_600_000).toISOString();
    assert.equal(r.kind === 'ok' ? r.view.mutedUntil : null, until);
    assert.deepEqual(await env.store.listMutes(B), [{ conversationId: B, scopeId: 'kr-olpe', until }]);
    assert.deepEqual(
      env.sender.calls.map((c) => `${c.method} ${c.conversationId}`),
      [`update ${B}`],
    );
    assert.match(env.sender.calls[0]!.text, /Hier stumm bis Do\., 15\.02\.2024, 22:11/);

    env.sender.calls = [];
    await openAlert(
      env,
      kreisSpike({
        id: 'spike:domain:olpe.de:2024-02-15T17:08:00.000Z',
        scope: { kind: 'domain', id: 'olpe.de' },
        domains: ['olpe.de'],
      }),
    );
    assert.deepEqual(
      env.sender.calls.map((c) => `${c.method} ${c.conversationId}`),
      [`send ${A}`],
    );
  });

  test('block: operators only, and the scope comes from the stored alert', async () => {
    assert.deepEqual(await env.service.prepareBlock(alertId, A, viewer), { kind: 'forbidden', role: 'operator' });
    const r = await env.service.prepareBlock(alertId, A, operator);
    assert.equal(r.kind, 'ok');
    assert.equal(r.kind === 'ok' ? r.scopeId : null, 'kr-olpe');
  });
});

describe('alert service: test alert', () => {
  test('`alarm test` posts a test card to this chat; it is never an open alert and cannot block', async () => {
    const env = await setup();
    try {
      await env.store.subscribe(A, 'kr-olpe', new Date(NOW).toISOString());
      assert.deepEqual(await env.service.sendTest(A, viewer, { lang: 'de', fallbackName: 'alle Regionen' }), {
        kind: 'forbidden',
        role: 'operator',
      });
      const r = await env.service.sendTest(A, operator, { lang: 'en', fallbackName: 'all regions' });
      assert.equal(r.kind, 'sent');
      const alertId = r.kind === 'sent' ? r.alertId : '';
      assert.equal(env.sender.calls.length, 1);
      const sent = env.sender.calls[0]!;
      assert.equal(sent.conversationId, A);
      assertValidCard(sent.card);
      assert.match(sent.text, /Test alert: Kreis Olpe/);
      assert.match(sent.text, /Only a test/);
      assert.deepEqual(await env.store.listAlerts({ status: 'open' }), []);
      assert.deepEqual(await env.service.prepareBlock(alertId, A, operator), { kind: 'test' });
      // Acknowledging a test works like the real thing.
      const ack = await env.service.acknowledge(alertId, A, operator);
      assert.equal(ack.kind, 'ok');
    } finally {
      await env.store.close();
    }
  });

  test('a chat the bot cannot reach: the test reports failure and the delivery is marked failed', async () => {
    const env = await setup();
    try {
      env.sender.refuse.add(A);
      const r = await env.service.sendTest(A, operator, { lang: 'de', fallbackName: 'alle Regionen' });
      assert.deepEqual(r, { kind: 'failed' });
      assert.deepEqual(
        (await env.store.listDeliveries()).map((d) => d.status),
        ['failed'],
      );
    } finally {
      await env.store.close();
    }
  });
});

describe('alert card', () => {
  test('English when asked; a folded domain alert points to the Kreis alert and offers only acknowledge', async () => {
    const env = await setup();
    try {
      await env.store.subscribe(A, 'vb-sued', new Date(NOW).toISOString());
      const domains = new Map(sim.domains().map((d) => [d.domain, d]));
      const domainAlert = kreisSpike({
        id: 'spike:domain:olpe.de:2024-02-15T17:00:00.000Z',
        scope: { kind: 'domain', id: 'olpe.de' },
        domains: ['olpe.de'],
      });
      const stored = await env.delivery.recordEvent({ type: 'opened', alert: domainAlert }, { index, domains });
      const en = await env.delivery.cardFor(stored.id, A, 'en');
      assertValidCard(en);
      const enText = textOf(en!);
      assert.match(enText, /Spam spike: olpe\.de \(Kreis Olpe\)/);
      assert.match(enText, /Acknowledge/);
      assert.match(enText, /olpe\.de\n(held|blocked|open)/);
      assert.doesNotMatch(enText, /Bestätigen/);

      await env.delivery.recordEvent(
        {
          type: 'closed',
          alert: { ...domainAlert, endedAt: new Date(NOW).toISOString(), foldedInto: 'spike:group:kr-olpe:x' },
        },
        { index, domains },
      );
      const folded = await env.delivery.cardFor(stored.id, A);
      assertValidCard(folded);
      assert.match(textOf(folded!), /Teil der Spam-Welle im Kreis Olpe/);
      assert.deepEqual(
        (folded!.actions as Array<{ verb: string }>).map((x) => x.verb),
        ['alert.ack'],
      );
    } finally {
      await env.store.close();
    }
  });

  test('a wave over many domains lists a few and counts the inbound states', async () => {
    const env = await setup();
    try {
      const domains = new Map(sim.domains().map((d) => [d.domain, d]));
      const many = sim
        .domains({ verband: 'vb-sued' })
        .map((d) => d.domain)
        .slice(0, 20);
      const stored = await env.delivery.recordEvent(
        { type: 'opened', alert: kreisSpike({ domains: many }) },
        { index, domains },
      );
      const card = await env.delivery.cardFor(stored.id, null);
      assertValidCard(card);
      const text = textOf(card!);
      assert.match(text, /… und 12 weitere/);
      assert.match(text, /20 Domänen\noffen \d+ · gesperrt \d+ · gehalten \d+/);
      // Teams refuses messages over 40 KB; a two-hour chart must stay far below.
      assert.ok(JSON.stringify(card).length < 12_000, `card is ${JSON.stringify(card).length} bytes`);
    } finally {
      await env.store.close();
    }
  });
});
