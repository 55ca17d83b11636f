import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channel, invoke, message, post, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { assertValidCard } from '../helpers/validate-card.ts';

// `status <scope>` and `hilfe` over the real HTTP path: activity → /api/messages → teams-ai →
// status service → simulator → card → botbuilder → fake Bot Connector.

let t: TestBot;
before(async () => {
  // The readiness check's calls to a faulted gateway retry after Retry-After: 1; recorded, not sat out.
  t = await startTestBot({}, {}, { upstreamSleep: recordedWaits().sleep });
});
after(async () => {
  await t?.close();
});

async function ask(text: string, opts: Partial<Parameters<typeof message>[1]> = {}) {
  t.connector.reset();
  const activity = message(text, { serviceUrl: t.connector.url, ...opts });
  const res = await post(t.botUrl, activity);
  assert.equal(res.status, 200, `POST /api/messages answered ${res.status}: ${JSON.stringify(res.body)}`);
  // teams-ai sends "typing" once a turn takes over a second (Application.run starts its timer whatever
  // startTypingTimer says), as a loaded machine's first `status` may: the answer is the message.
  const isMessage = (c: { activity: Record<string, unknown> }) => c.activity.type === 'message';
  const calls = await t.connector.waitFor((c) => c.some(isMessage));
  return calls.filter(isMessage).map((c) => c.activity);
}

const nf = new Intl.NumberFormat('de-DE');

describe('status over /api/messages', () => {
  test('status Kreis Olpe in personal chat: German card whose numbers equal the inventory API', async () => {
    const [reply] = await ask('status Kreis Olpe');
    const card = cardOf(reply!);
    assert.ok(card, `the reply carries an Adaptive Card, got: ${replyText(reply!)}`);
    assertValidCard(card);
    const text = replyText(reply!);
    assert.match(text, /Lage: Kreis Olpe/);
    assert.match(text, /Aktualisieren/);
    const compliance = (await (await fetch(`${t.simUrl}/inventory/v1/compliance?region=kr-olpe`)).json()) as {
      region: {
        patches: Array<{
          patchId: string;
          clients: { installed: number; total: number };
          servers: { installed: number; total: number };
        }>;
      };
      children: Array<{ name: string }>;
    };
    for (const p of compliance.region.patches) {
      if (p.clients.total > 0)
        assert.ok(
          text.includes(`${nf.format(p.clients.installed)} von ${nf.format(p.clients.total)}`),
          `clients of ${p.patchId}`,
        );
      if (p.servers.total > 0)
        assert.ok(
          text.includes(`${nf.format(p.servers.installed)} von ${nf.format(p.servers.total)}`),
          `servers of ${p.patchId}`,
        );
    }
    // One level down, named as the inventory names the level: every town of the Kreis is in the breakdown.
    assert.match(text, /Kommunen, schlechteste zuerst/);
    for (const child of compliance.children) assert.ok(text.includes(child.name), `breakdown lists ${child.name}`);
    // Mail state of the Kreis's domains, from the gateway.
    assert.match(text, /Externe Mail, \d+ Domänen: eingehend/);
    assert.match(text, /olpe\.de/);
  });

  test('in a channel with an @mention and an English client: English card', async () => {
    const [reply] = await ask('status Kreis Olpe', {
      conversation: channel('olpe-ops'),
      locale: 'en-US',
      user: users.operator,
    });
    const text = replyText(reply!);
    assert.match(text, /Status: Kreis Olpe/);
    assert.match(text, /Municipalities, worst first/);
    assert.match(text, /Refresh/);
    assert.doesNotMatch(text, /Aktualisieren/);
  });

  test('status Olpe is ambiguous: both the Kreis and the town are offered as buttons', async () => {
    const [reply] = await ask('status Olpe');
    const card = cardOf(reply!)!;
    assertValidCard(card);
    const actions = card.actions as Array<{ verb: string; data: { scopeId: string } }>;
    assert.deepEqual(actions.map((a) => a.data.scopeId).sort(), ['ko-olpe', 'kr-olpe']);
    assert.ok(actions.every((a) => a.verb === 'status.show'));
    assert.match(replyText(reply!), /nicht eindeutig/);
    assert.match(replyText(reply!), /Olpe \(Kreis\)/);
    assert.match(replyText(reply!), /Olpe \(Kommune\)/);
  });

  test('a typo gets "Meinten Sie …?" with the closest match as a button', async () => {
    const [reply] = await ask('status Kreis Olep');
    const card = cardOf(reply!)!;
    assert.match(replyText(reply!), /Meinten Sie/);
    const ids = (card.actions as Array<{ data: { scopeId: string } }>).map((a) => a.data.scopeId);
    assert.ok(ids.includes('kr-olpe'), `suggestions ${ids.join(',')}`);
  });

  test('umlaut spellings and case do not matter', async () => {
    for (const spelling of ['SÜDVERBAND', 'Suedverband', 'süd']) {
      const [reply] = await ask(`status ${spelling}`);
      assert.match(replyText(reply!), /Lage: Südverband/, spelling);
    }
  });

  test('status of a mail domain and status alle', async () => {
    const [domainReply] = await ask('status attendorn.de');
    assert.match(replyText(domainReply!), /attendorn\.de/);
    const [allReply] = await ask('lage alle');
    const text = replyText(allReply!);
    assert.match(text, /Lage: Alle Regionen/);
    // One level only, the Verbände: the Kreise as rows too would count every device twice.
    assert.match(text, /Verbände, schlechteste zuerst/);
    for (const name of ['Nordverband', 'Südverband']) assert.ok(text.includes(name), `alle lists ${name}`);
    const rows = text.split('Verbände, schlechteste zuerst')[1]!.split('Externe Mail,')[0]!;
    for (const kreis of ['Kreis Olpe', 'Hochsauerlandkreis', 'Märkischer Kreis', 'Kreis Soest']) {
      assert.ok(!rows.includes(kreis), `no row for ${kreis}:\n${rows}`);
    }
    // Teams rejects messages over 40 KB (Bot Framework limit); status alle must stay well under it.
    const size = Buffer.byteLength(JSON.stringify(allReply));
    assert.ok(size < 28 * 1024, `status alle is ${size} bytes`);
  });

  test('hilfe and help; an unknown command gets a hint and the help card', async () => {
    assert.match(replyText((await ask('hilfe'))[0]!), /Lagebot – was ich kann/);
    assert.match(replyText((await ask('help', { locale: 'en-GB' }))[0]!), /Lagebot – what I can do/);
    const [unknown] = await ask('wetter morgen');
    assertValidCard(cardOf(unknown!));
    assert.match(replyText(unknown!), /„wetter“ kenne ich nicht/);
  });

  test('injection-looking and oversized text gets a plain answer', async () => {
    const [inj] = await ask('status <script>alert(1)</script>');
    assert.match(replyText(inj!), /kenne ich nicht/);
    const [long] = await ask(`status ${'x'.repeat(10_000)}`);
    assert.match(replyText(long!), /zu lang/);
  });

  test('Aktualisieren (Action.Execute) answers the invoke with a fresh card', async () => {
    const res = await post(t.botUrl, invoke('status.refresh', { scopeId: 'kr-olpe' }, { serviceUrl: t.connector.url }));
    assert.equal(res.status, 200);
    const body = res.body as { statusCode: number; type: string; value: Record<string, unknown> };
    assert.equal(body.statusCode, 200);
    assert.equal(body.type, 'application/vnd.microsoft.card.adaptive');
    assertValidCard(body.value);
    assert.match(JSON.stringify(body.value), /Lage: Kreis Olpe/);
  });

  test('forged card data is refused with a clear message', async () => {
    for (const data of [
      { scopeId: '../../etc/passwd' },
      { scopeId: 42 },
      {},
      { scopeId: 'kr-olpe', requester: 'aad-approver-1' },
    ]) {
      const res = await post(t.botUrl, invoke('status.refresh', data, { serviceUrl: t.connector.url }));
      assert.equal(res.status, 200);
      const text = JSON.stringify((res.body as { value: unknown }).value);
      if ('requester' in data) {
        // Extra fields are ignored, never trusted: the card is still just the status.
        assert.match(text, /Lage: Kreis Olpe/);
      } else {
        assert.match(text, /ungültig oder veraltet/);
      }
    }
  });
});

describe('per-user rate limit', () => {
  let limited: TestBot;
  before(async () => {
    limited = await startTestBot({ USER_RATE_LIMIT_BURST: '3', USER_RATE_LIMIT_PER_MINUTE: '1' });
  });
  after(async () => {
    await limited?.close();
  });

  test('after the burst a user gets a friendly message; another user is still served; invokes too', async () => {
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      limited.connector.reset();
      await post(limited.botUrl, message('hilfe', { serviceUrl: limited.connector.url, user: users.operator }));
      const calls = await limited.connector.waitFor((c) => c.length > 0);
      texts.push(replyText(calls[0]!.activity));
    }
    assert.match(texts[2]!, /Lagebot – was ich kann/);
    assert.match(texts[3]!, /etwas langsamer/);
    limited.connector.reset();
    await post(limited.botUrl, message('hilfe', { serviceUrl: limited.connector.url, user: users.viewer }));
    assert.match(replyText((await limited.connector.waitFor((c) => c.length > 0))[0]!.activity), /was ich kann/);
    const res = await post(
      limited.botUrl,
      invoke('status.refresh', { scopeId: 'kr-olpe' }, { serviceUrl: limited.connector.url, user: users.operator }),
    );
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /etwas langsamer/);
  });
});

describe('health, readiness and metrics', () => {
  test('/healthz, /readyz follows the back ends, /metrics names everything lagebot_', async () => {
    assert.equal((await fetch(`${t.botUrl}/healthz`)).status, 200);
    const ready = await fetch(`${t.botUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: Record<string, string> }).checks, {
      store: 'ok',
      inventory: 'ok',
      gateway: 'ok',
    });
    await fetch(`${t.simUrl}/sim/v1/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'gateway', mode: 'error', status: 503, rate: 1 }),
    });
    try {
      const down = await fetch(`${t.botUrl}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as { status: string; checks: Record<string, string> };
      assert.equal(body.status, 'not_ready');
      assert.equal(body.checks.inventory, 'ok');
      // Which dependency, not the upstream's words (issue 13: /readyz is on the public port).
      assert.equal(body.checks.gateway, 'unavailable');
      assert.doesNotMatch(JSON.stringify(body), /503|gateway API|http/);
    } finally {
      await fetch(`${t.simUrl}/sim/v1/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'gateway', mode: 'none', rate: 1 }),
      });
    }
    const metrics = await (await fetch(`${t.botUrl}/metrics`)).text();
    for (const name of [
      'lagebot_commands_total',
      'lagebot_reply_latency_seconds',
      'lagebot_card_actions_total',
      'lagebot_upstream_calls_total',
    ]) {
      assert.ok(metrics.includes(name), name);
    }
    assert.match(metrics, /lagebot_commands_total\{command="status",outcome="ok"\} \d+/);
    const names = [...metrics.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    assert.ok(
      names.length > 5 && names.every((n) => n.startsWith('lagebot_')),
      names.filter((n) => !n.startsWith('lagebot_')).join(','),
    );
    // Node's own metrics under their usual names behind the prefix (RSS and heap, what bench/status measures).
    assert.match(metrics, /^lagebot_process_resident_memory_bytes \d+/m);
    assert.match(metrics, /^lagebot_nodejs_heap_size_used_bytes \d+/m);
    assert.doesNotMatch(metrics, /process_process_/);
  });
});
