import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RegionNodeWire } from '../../src/contracts/inventory.ts';
import { channel, invoke, message, post, type TestUser, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { click, refOf, requestFrom, say, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// The whole bot against the simulator serving an estate it was never written for: the state-wide
// scenario (SIM_SCENARIO=land) — Land > Regierungsbezirk > Kreis > Gemeinde, AGS ids with a colon, names
// drawn from a seed. Nothing below is known to src/: every name and id is read from the simulator's
// region list first, then asked for through the chat, as an operator on that estate would
// (docs/decisions/regions-from-data.md). The in-memory twin of this test is four-level-estate.test.ts.

let t: TestBot;
let regions: RegionNodeWire[];

async function simPost(path: string, body: unknown) {
  const res = await fetch(`${t.simUrl}/sim/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${await res.text()}`);
}

async function inventory<T>(path: string): Promise<T> {
  const res = await fetch(`${t.simUrl}/inventory/v1/${path}`);
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}

async function domainState(domain: string) {
  const res = await fetch(`${t.simUrl}/gateway/v1/domains/${encodeURIComponent(domain)}`);
  assert.equal(res.status, 200, domain);
  return (await res.json()) as { inbound: string; outbound: string };
}

const ofKind = (kind: string) => regions.filter((r) => r.kind === kind);
const childrenOf = (id: string) => regions.filter((r) => r.parentId === id);
function domainsUnder(id: string): string[] {
  const node = regions.find((r) => r.id === id)!;
  return [...node.domains, ...childrenOf(id).flatMap((c) => domainsUnder(c.id))];
}

async function ask(text: string, user: TestUser = users.viewer) {
  const replies = await say(t, text, user);
  return replies.at(-1)!.activity;
}

before(async () => {
  t = await startTestBot(
    { ROLES_FILE: writeTestRoles() },
    { scenario: 'land', devices: 6000, seed: 4711 },
    // Six hours of history instead of three days: enough for the wave below, a fraction of the warm-up's
    // 2,500 domains × 4,320 minutes.
    { onSimClock: true, watcherWarmUpMinutes: 6 * 60 },
  );
  regions = (await inventory<{ items: RegionNodeWire[] }>('regions')).items;
});
after(async () => {
  await t?.close();
});

describe('the state-wide estate served by the simulator', () => {
  test('the estate is not Südwestfalen: four levels, AGS ids', () => {
    assert.deepEqual([...new Set(regions.map((r) => r.kind))], ['land', 'regierungsbezirk', 'kreis', 'gemeinde']);
    for (const r of regions) assert.doesNotMatch(r.id, /^(vb|kr|ko)-/);
  });

  test('status of a Regierungsbezirk: its name, its Kreise, the inventory numbers', async () => {
    const bezirk = ofKind('regierungsbezirk')[0]!;
    const reply = await ask(`status ${bezirk.name}`);
    const card = cardOf(reply);
    assert.ok(card, replyText(reply));
    assertValidCard(card);
    const text = replyText(reply);
    assert.ok(text.includes(bezirk.name), text.slice(0, 300));
    const kreise = childrenOf(bezirk.id);
    assert.ok(kreise.length > 1);
    for (const kreis of kreise) assert.ok(text.includes(kreis.name), `${kreis.name} in the breakdown`);
    const report = await inventory<{
      region: { patches: Array<{ clients: { installed: number; total: number } }> };
    }>(`compliance?region=${encodeURIComponent(bezirk.id)}`);
    const clients = report.region.patches[0]!.clients;
    const formatted = (n: number) => n.toLocaleString('de-DE');
    assert.ok(
      text.includes(formatted(clients.installed)) && text.includes(formatted(clients.total)),
      `the card shows ${clients.installed} of ${clients.total} clients`,
    );
  });

  test('a spam wave in a Kreis: one alert, to the channel that follows its Regierungsbezirk; its block is its domains', async () => {
    const kreis = ofKind('kreis')[1]!;
    const bezirk = regions.find((r) => r.id === kreis.parentId)!;
    const other = ofKind('regierungsbezirk').find((r) => r.id !== bezirk.id)!;
    const follows = channel('lage-bezirk');
    const elsewhere = channel('lage-anderswo');
    for (const [conversation, scope] of [
      [follows, bezirk],
      [elsewhere, other],
    ] as const) {
      const before = t.connector.calls.length;
      const res = await post(
        t.botUrl,
        message(`alarme an ${scope.name}`, { serviceUrl: t.connector.url, user: users.viewer, conversation }),
      );
      assert.equal(res.status, 200);
      await t.connector.waitFor((calls) =>
        calls.slice(before).some((c) => c.method === 'POST' && c.conversationId === conversation.id),
      );
    }
    assert.equal((await t.bot.watcher.pollOnce()).backfilled, true);
    await simPost('spam', { region: kreis.id, factor: 12, minutes: 30 });
    let opened = null;
    for (let minute = 0; minute < 8 && !opened; minute++) {
      await simPost('clock', { advanceMinutes: 1 });
      opened = (await t.bot.watcher.pollOnce()).events.find((e) => e.type === 'opened') ?? null;
    }
    assert.ok(opened, 'an alert opened');
    assert.ok(await t.bot.alertDelivery.drain(10_000));
    // Only alert cards: the Kreis's name in an alert's title.
    const alerts = t.connector.calls.filter(
      (c) => c.method === 'POST' && replyText(c.activity).startsWith(`Spam-Welle: ${kreis.name}`),
    );
    assert.deepEqual(
      alerts.map((c) => c.conversationId),
      [follows.id],
      'the channel of the Regierungsbezirk, not the other one',
    );
    assert.ok(replyText(alerts[0]!.activity).includes(bezirk.name), 'the alert names the region above the Kreis');
    assertValidCard(cardOf(alerts[0]!.activity)!);

    // "Eingehend sperren" on the alert blocks exactly the alert's domains, asks in a card of its own, and
    // answers the click with the alert, which stays in the channel.
    const alertCard = cardOf(alerts[0]!.activity)!;
    const blockButton = (alertCard.actions as Array<{ verb?: string; data?: Record<string, unknown> }>).find(
      (a) => a.verb === 'alert.block',
    )!;
    assert.ok(blockButton, 'the alert offers its block');
    const before = t.connector.calls.length;
    const res = await post(
      t.botUrl,
      invoke('alert.block', blockButton.data!, {
        serviceUrl: t.connector.url,
        user: users.operator,
        conversation: follows,
        replyToId: alerts[0]!.activity.id as string | undefined,
      }),
    );
    assert.equal(res.status, 200);
    const answered = replyText({ attachments: [{ content: (res.body as { value: unknown }).value }] });
    assert.ok(answered.startsWith(`Spam-Welle: ${kreis.name}`), `the alert stays: ${answered.slice(0, 200)}`);
    await t.connector.waitFor((calls) =>
      calls.slice(before).some((c) => c.method === 'POST' && /Wirklich sperren/.test(replyText(c.activity))),
    );
    const confirmation = t.connector.calls
      .slice(before)
      .find((c) => c.method === 'POST' && /Wirklich sperren/.test(replyText(c.activity)))!;
    assert.equal(confirmation.conversationId, follows.id);
    const named = opened.alert.domains;
    assert.match(replyText(confirmation.activity), new RegExp(`${named.length} Domänen`));
    await click(t, 'request.confirm_block', { ...refOf(cardOf(confirmation.activity)) }, users.operator);
    assert.ok(await t.bot.executor.idle(15_000));
    for (const domain of named) assert.equal((await domainState(domain)).inbound, 'blocked', domain);
    const spared = domainsUnder(kreis.id).filter((d) => !named.includes(d));
    assert.ok(spared.length > 0, 'the Kreis has domains the alert did not name');
    for (const domain of spared) assert.equal((await domainState(domain)).inbound, 'open', domain);
  });
  test('a Kreis blocked and released again through the bot, four eyes, each domain changed', async () => {
    // Three weeks on, the rollout is through everywhere but in the stragglers: take a Kreis that meets the
    // release policy, so one approver suffices.
    await simPost('clock', { advanceMinutes: 21 * 24 * 60 });
    let kreis: RegionNodeWire | undefined;
    for (const candidate of ofKind('kreis')) {
      const report = await inventory<{
        region: {
          patches: Array<{
            clients: { installed: number; total: number };
            servers: { installed: number; total: number };
          }>;
        };
      }>(`compliance?region=${encodeURIComponent(candidate.id)}`);
      const done = report.region.patches.every(
        (p) => p.clients.installed === p.clients.total && p.servers.installed === p.servers.total,
      );
      if (done) {
        kreis = candidate;
        break;
      }
    }
    assert.ok(kreis, 'some Kreis has finished its rollout after three weeks');
    const domains = domainsUnder(kreis.id);
    assert.ok(domains.length > 1);

    const block = await requestFrom(t, `sperren ${kreis.name} eingehend Spam gemeldet`, users.operator);
    assert.ok(block.ref, block.text);
    await click(t, 'request.confirm_block', { ...block.ref }, users.operator);
    assert.ok(await t.bot.executor.idle(15_000));
    for (const domain of domains) assert.notEqual((await domainState(domain)).inbound, 'open', domain);

    const release = await requestFrom(t, `freigabe ${kreis.name} eingehend Welle vorbei`, users.operator);
    assert.ok(release.ref, release.text);
    assert.match(release.text, /Richtlinie erfüllt/);
    await click(t, 'request.approve', { ...release.ref }, users.approver2);
    await click(t, 'request.confirm', { ...release.ref }, users.approver2);
    assert.ok(await t.bot.executor.idle(15_000));
    assert.equal((await t.bot.release.get(release.ref.requestId))!.request.state, 'executed');
    for (const domain of domains) assert.equal((await domainState(domain)).inbound, 'open', domain);
  });
});
