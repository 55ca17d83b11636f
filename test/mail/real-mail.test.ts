import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runConformanceChecks } from '../../src/conformance/run-conformance.ts';
import { loadGatewayDomains } from '../../src/gateway-agent/gateway-domains-file.ts';
import {
  DEFAULT_DOMAINS_FILE,
  type RunningGatewayAgent,
  startGatewayAgent,
} from '../../src/gateway-agent/start-gateway-agent.ts';
import type { LabLayout } from '../../src/mail-lab/lab-layout.ts';
import { agentConfig, type RunningLab, startMailLab, startPostfix, stopPostfix } from '../../src/mail-lab/mail-lab.ts';
import { GTUBE, sendMail } from '../../src/mail-lab/send-mail.ts';
import { channel, message, post, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import {
  advanceToMondayAfternoon,
  type CardRef,
  click,
  requestFrom,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import { mailLabSkipReason, testLabLayout } from './lab-fixture.ts';

// Real mail through a real Postfix with rspamd as milter, the gateway agent in front (the mail lab on
// free ports in a temp directory): holds, defers, rejects, releases, a GTUBE wave in the metrics and the
// alert it raises, the conformance check, and through the bot: Postfix stopped during a release, the
// agent killed at the worst moments of one, and the February walk. Skipped without root or the
// packages, mandatory with CI=true (lab-fixture.ts).

const skip = mailLabSkipReason();
const token = 'real-mail-test-token';
let layout: LabLayout;
let cleanup = () => {};
let lab: RunningLab;
let agent: RunningGatewayAgent | null = null;
const estate = loadGatewayDomains(DEFAULT_DOMAINS_FILE);

function domainsFile(blockModes: Record<string, 'hold' | 'defer' | 'reject'>): string {
  const file = join(layout.dir, `domains-${Object.values(blockModes).join('-') || 'default'}.json`);
  const domains = estate.domains.map((d) => ({ ...d, blockMode: blockModes[d.domain] ?? d.blockMode }));
  writeFileSync(file, JSON.stringify({ initial: estate.initial, domains }));
  return file;
}

async function startAgent(
  opts: { blockModes?: Record<string, 'hold' | 'defer' | 'reject'>; now?: () => Date } = {},
): Promise<RunningGatewayAgent> {
  await agent?.close();
  agent = await startGatewayAgent(agentConfig(layout, { token, domainsFile: domainsFile(opts.blockModes ?? {}) }), {
    log: () => {},
    now: opts.now,
  });
  return agent;
}

function runningAgent(): RunningGatewayAgent {
  assert.ok(agent, 'the agent runs');
  return agent;
}

const api = (
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; base?: string } = {},
) =>
  fetch(`${init.base ?? `http://127.0.0.1:${layout.ports.agent}/gateway/v1`}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

interface ChangeAnswer {
  domain: { version: number; inbound: string };
  changed: boolean;
  replayed: boolean;
  error: { code: string; message: string };
}

async function change(domain: string, body: Record<string, string>, key = `t-${Math.random()}`) {
  const res = await api(`/domains/${domain}`, {
    method: 'PATCH',
    body: { reason: 'real-mail test', actor: 'test', ...body },
    headers: { 'idempotency-key': key },
  });
  return { status: res.status, body: (await res.json()) as ChangeAnswer };
}

async function held(domain: string, direction: 'inbound' | 'outbound'): Promise<number> {
  const res = await api(`/queues?domain=${domain}`);
  const items = ((await res.json()) as { items: { direction: string; held: number }[] }).items;
  return items.find((i) => i.direction === direction)?.held ?? 0;
}

/** The agent's domain.change entries made with one idempotency key. */
async function changesWithKey(key: string, base?: string): Promise<number> {
  const res = await api('/audit?limit=1000', { base });
  const page = (await res.json()) as {
    items: { action: string; idempotencyKey: string | null }[];
    nextCursor: unknown;
  };
  assert.equal(page.nextCursor, null, 'the whole audit log in one page');
  return page.items.filter((e) => e.action === 'domain.change' && e.idempotencyKey === key).length;
}

const inboundMap = () => readFileSync(join(layout.maps, 'inbound'), 'utf8');
const mapLine = (domain: string) => new RegExp(`^${domain.replace('.', '\\.')} `, 'm');

const atSink = (subject: string) => lab.sink.delivered().some((m) => m.subject === subject);
const send = (to: string[], subject: string, from = 'absender@extern.example', body?: string) =>
  sendMail({ port: layout.ports.smtp, from, to, subject, body });
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 8)}`;

describe('real mail through Postfix and rspamd', { skip }, () => {
  before(async () => {
    ({ layout, cleanup } = await testLabLayout());
    lab = await startMailLab(layout, { agent: false });
    await startAgent();
  });
  after(async () => {
    await agent?.close();
    await lab?.close();
    cleanup();
  });

  test('every domain starts held both ways; mail to a held domain waits in the hold queue, not at the sink', async () => {
    const res = await api('/domains');
    const items = ((await res.json()) as { items: { inbound: string; outbound: string }[] }).items;
    assert.equal(items.length, 64);
    assert.ok(items.every((d) => d.inbound === 'held' && d.outbound === 'held'));
    const subject = unique('held');
    const answer = await send(['buergerbuero@bad-berleburg.de'], subject);
    assert.equal(answer.code, 250, answer.text);
    await waitUntil(async () => (await held('bad-berleburg.de', 'inbound')) >= 1, 'the message in the hold queue');
    assert.equal(atSink(subject), false);
  });

  test('olpe.de blocked: reject → 5xx, defer → 4xx, hold → held and delivered when inbound opens', async () => {
    await startAgent({ blockModes: { 'olpe.de': 'reject' } });
    assert.equal((await change('olpe.de', { inbound: 'blocked' })).status, 200);
    const rejected = await send(['rathaus@olpe.de'], unique('reject'));
    assert.equal(rejected.stage, 'rcpt');
    assert.equal(Math.floor(rejected.code / 100), 5, rejected.text);

    await startAgent({ blockModes: { 'olpe.de': 'defer' } });
    const deferred = await send(['rathaus@olpe.de'], unique('defer'));
    assert.equal(deferred.stage, 'rcpt');
    assert.equal(Math.floor(deferred.code / 100), 4, deferred.text);

    await startAgent({ blockModes: { 'olpe.de': 'hold' } });
    const subject = unique('hold');
    assert.equal((await send(['rathaus@olpe.de'], subject)).code, 250);
    await waitUntil(async () => (await held('olpe.de', 'inbound')) >= 1, 'held for olpe.de');
    assert.equal(atSink(subject), false);
    const opened = await change('olpe.de', { inbound: 'open' });
    assert.equal(opened.status, 200);
    await waitUntil(() => atSink(subject), 'the held message at the sink after the release', 30_000);
    assert.equal(await held('olpe.de', 'inbound'), 0);
  });

  test('outbound: mail from a held domain to the outside is held, and leaves when outbound opens', async () => {
    const subject = unique('outbound');
    assert.equal((await send(['partner@example.org'], subject, 'kaemmerei@soest.de')).code, 250);
    await waitUntil(async () => (await held('soest.de', 'outbound')) >= 1, 'held outbound for soest.de');
    assert.equal(atSink(subject), false);
    assert.equal((await change('soest.de', { outbound: 'open' })).status, 200);
    await waitUntil(() => atSink(subject), 'the outbound message left', 30_000);
  });

  test('mixed recipients: a message to an opened and a still-held domain stays held', async () => {
    const subject = unique('mixed');
    assert.equal((await send(['a@attendorn.de', 'b@finnentrop.de'], subject)).code, 250);
    await waitUntil(async () => (await held('finnentrop.de', 'inbound')) >= 1, 'held for both');
    assert.equal((await change('attendorn.de', { inbound: 'open' })).status, 200);
    await agent?.agent.sweep();
    assert.equal(await held('finnentrop.de', 'inbound'), 1);
    assert.equal(atSink(subject), false);
    assert.equal((await change('finnentrop.de', { inbound: 'open' })).status, 200);
    await waitUntil(() => atSink(subject), 'delivered once both are open', 30_000);
  });

  test('a GTUBE wave of 200 messages into four Kreis Olpe domains across a minute boundary: rejected, counted in its two minutes, and the Südverband channel gets the alert', async () => {
    // The minutes are rspamd's own time stamps, so the wave really crosses a minute boundary. When a
    // minute counts as complete is the agent's and the watcher's clock: once the wave is sent the test
    // moves both past its second minute instead of waiting for that minute to run out
    // (docs/decisions/clock-and-waiting.md).
    let completeUntil = 0;
    const clock = () => new Date(Math.max(Date.now(), completeUntil));
    await startAgent({ now: clock });
    const t = await startTestBot(
      {
        ROLES_FILE: writeTestRoles(),
        GATEWAY_API_URL: `http://127.0.0.1:${layout.ports.agent}/gateway/v1`,
        GATEWAY_API_TOKEN: token,
        UPSTREAM_TIMEOUT_MS: '20000',
      },
      {},
      { now: clock },
    );
    try {
      const ops = channel('lage-suedverband');
      const subscribe = await post(
        t.botUrl,
        message('alarme an Südverband', { serviceUrl: t.connector.url, user: users.operator, conversation: ops }),
      );
      assert.equal(subscribe.status, 200);
      await t.connector.waitFor((calls) => calls.some((c) => /Spam-Alarme für Südverband/.test(replyText(c.activity))));
      // Warm-up with the agent's history (quiet minutes), as the watcher does on its first poll.
      assert.equal((await t.bot.watcher.pollOnce()).backfilled, true);
      const wave = ['drolshagen.de', 'kreis-olpe.de', 'lennestadt.de', 'wenden.de'];
      const minute = () => Math.floor(Date.now() / 60_000);
      const secondsLeft = () => 60 - (Date.now() % 60_000) / 1000;
      // 25 messages per domain in each of two minutes (the detector opens on two spiking minutes). A half
      // takes one to a few seconds: with less than 10 s left in this minute the wave starts in the next.
      const started = minute();
      if (secondsLeft() < 10) await waitUntil(() => minute() > started, 'a fresh minute', 15_000, 100);
      const first = minute();
      const sendHalf = async (m: number) => {
        for (let i = 0; i < 25; i++) {
          const answers = await Promise.all(
            wave.map((d) => send([`info@${d}`], `Gewinnspiel ${m}-${i}`, 'spam@spam.example', GTUBE)),
          );
          assert.ok(
            answers.every((a) => a.code === 554),
            'rspamd rejects GTUBE',
          );
        }
      };
      await sendHalf(first);
      // rspamd stamps a message when it has scanned it, before the SMTP answer: a second's margin is plenty.
      assert.ok(minute() === first && secondsLeft() > 1, 'the first half within its minute');
      await waitUntil(() => minute() > first, 'the next minute', 61_000, 100);
      await sendHalf(first + 1);
      assert.equal(minute(), first + 1, 'the second half within its minute');
      completeUntil = (first + 2) * 60_000;

      // The agent's metrics: each message once, as rejected spam, in the minute it was sent.
      const from = new Date(first * 60_000).toISOString();
      const to = new Date((first + 2) * 60_000).toISOString();
      type Metrics = { series: { domain: string; points: { received: number; spam: number; rejected: number }[] }[] };
      let metrics: Metrics = { series: [] };
      // rspamd writes its log line as it answers; the agent reads the log on each metrics call.
      await waitUntil(
        async () => {
          const res = await api(`/metrics/spam?from=${from}&to=${to}&domain=${wave.join(',')}`);
          assert.equal(res.status, 200);
          metrics = (await res.json()) as Metrics;
          return metrics.series.flatMap((s) => s.points).reduce((n, p) => n + p.received, 0) >= 200;
        },
        'all 200 messages in the metrics',
        30_000,
        200,
      );
      assert.deepEqual(metrics.series.map((s) => s.domain).sort(), [...wave].sort());
      for (const series of metrics.series) {
        assert.deepEqual(
          series.points.map((p) => [p.received, p.spam, p.rejected]),
          [
            [25, 25, 25],
            [25, 25, 25],
          ],
          `${series.domain}: 25 rejected spam messages in each wave minute`,
        );
      }
      let opened = false;
      for (let poll = 0; poll < 3 && !opened; poll++) {
        opened = (await t.bot.watcher.pollOnce()).events.some((e) => e.type === 'opened');
      }
      assert.ok(opened, 'the watcher opened an alert');
      assert.ok(await t.bot.alertDelivery.drain(20_000));
      const cards = t.connector.calls.filter((c) => c.method === 'POST' && /Spam-Welle/.test(replyText(c.activity)));
      assert.deepEqual([...new Set(cards.map((c) => c.conversationId))], [ops.id]);
      assert.match(replyText(cards[0]?.activity), /Kreis Olpe/);
    } finally {
      await t.close();
      await startAgent();
    }
  });

  test('the conformance check passes against the agent, writes included', async () => {
    const results = await runConformanceChecks({
      gateway: { url: `http://127.0.0.1:${layout.ports.agent}/gateway/v1`, token },
      changeDomain: 'kirchhundem.de',
    });
    assert.deepEqual(
      results.filter((r) => r.outcome !== 'pass'),
      [],
    );
  });

  describe('through the bot', () => {
    let t: TestBot;
    // The bot's gateway client's waits before a retry, recorded instead of sat out.
    const upstream = recordedWaits();
    before(async () => {
      t = await startTestBot(
        {
          ROLES_FILE: writeTestRoles(),
          GATEWAY_API_URL: `http://127.0.0.1:${layout.ports.agent}/gateway/v1`,
          GATEWAY_API_TOKEN: token,
          UPSTREAM_TIMEOUT_MS: '10000',
        },
        {},
        { upstreamSleep: upstream.sleep },
      );
      // The Nordverband is fully patched: its releases need one approver.
      await advanceToMondayAfternoon(t);
    });
    after(async () => {
      await t?.close();
    });

    /** A release requested by the operator and approved by Bernd, up to *Bestätigen*; the requester's card. */
    async function approved(text: string): Promise<{ ref: CardRef; cardId: string }> {
      const { ref } = await requestFrom(t, text, users.operator);
      assert.ok(ref, 'the request card');
      const cardId = (t.connector.messages().at(-1) as { id: string }).id;
      await click(t, 'request.approve', { ...ref }, users.approver2);
      return { ref, cardId };
    }

    /** The card's line for a domain whose change waits for the executor's next try. */
    const retrying = (domain: string) => new RegExp(`${domain.replace('.', '\\.')}\\n↻ wird wiederholt`);

    /** The requester's card as the last in-place update left it. */
    function cardText(cardId: string): string {
      const last = t.connector
        .updates()
        .filter((c) => c.activityId === cardId)
        .at(-1);
      return last ? replyText(last.activity) : '';
    }

    async function holdOne(domain: string, what: string): Promise<string> {
      const subject = unique(what);
      assert.equal((await send([`post@${domain}`], subject)).code, 250);
      await waitUntil(async () => (await held(domain, 'inbound')) >= 1, `held for ${domain}`);
      return subject;
    }

    /** Once the executor is idle: the request executed, its card says so and no longer says it waits. */
    async function assertExecuted(ref: CardRef, cardId: string, domain: string) {
      assert.ok(await t.bot.executor.idle(60_000), 'the executor finished');
      const { request } = (await t.bot.release.get(ref.requestId)) as NonNullable<
        Awaited<ReturnType<TestBot['bot']['release']['get']>>
      >;
      assert.equal(request.state, 'executed');
      assert.ok(request.state === 'executed' && request.execution.domains[domain]?.status === 'succeeded');
      assert.ok(await t.bot.cards.flush());
      const final = cardText(cardId);
      assert.match(final, /ausgeführt/, final);
      assert.doesNotMatch(final, /wird wiederholt|wird ausgeführt/, final);
    }

    test('Postfix stopped during a release: the agent answers 503 with the reason, the card says the change will be retried, and it completes once Postfix is back', async () => {
      const domain = 'iserlohn.de';
      const subject = await holdOne(domain, 'postfix down');
      const { ref, cardId } = await approved('freigabe Stadt Iserlohn eingehend Alle Geräte gepatcht');
      const before = runningAgent().agent.domain(domain);
      assert.equal(before?.inbound, 'held');
      await stopPostfix(layout);
      try {
        const refused = await change('meschede.de', { inbound: 'open' });
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error.code, 'unavailable');
        assert.match(refused.body.error.message, /Postfix is not running/);
        assert.equal((await api('/health')).status, 503);

        const waitsBefore = upstream.waits.length;
        const confirmed = await click(t, 'request.confirm', { ...ref }, users.approver2);
        assert.match(confirmed.text, /wird ausgeführt/);
        await t.connector.waitFor(() => retrying(domain).test(cardText(cardId)), 60_000);
        // The bot's gateway client honoured the agent's Retry-After: 1 between its attempts before the
        // executor scheduled its retry.
        const waits = upstream.waits.slice(waitsBefore);
        assert.ok(waits.length >= 2 && waits.every((ms) => ms === 1000), `waits: ${waits.join(', ')}`);
        assert.equal((await t.bot.release.get(ref.requestId))?.request.state, 'executing');
        assert.equal(runningAgent().agent.domain(domain)?.version, before.version, 'nothing applied');
        assert.equal(runningAgent().agent.domain('meschede.de')?.inbound, 'held', 'the refused change not applied');
        assert.match(inboundMap(), mapLine(domain), 'Postfix still holds it');
        assert.equal(atSink(subject), false);
      } finally {
        await startPostfix(layout);
      }
      await assertExecuted(ref, cardId, domain);
      assert.equal(await changesWithKey(`${ref.requestId}:${domain}:apply`), 1, 'one change on the gateway');
      assert.equal(runningAgent().agent.domain(domain)?.version, before.version + 1);
      assert.doesNotMatch(inboundMap(), mapLine(domain));
      await waitUntil(() => atSink(subject), 'the held message at the sink', 30_000);
    });

    for (const crashAt of ['maps-written', 'reloaded'] as const) {
      test(`the agent SIGKILLed at ${crashAt} during a release: on restart map and state agree, and the bot's retry applies the change once`, async () => {
        const domain = crashAt === 'maps-written' ? 'brilon.de' : 'marsberg.de';
        const subject = await holdOne(domain, `crash ${crashAt}`);
        const { ref, cardId } = await approved(`freigabe ${domain} eingehend Alle Geräte gepatcht`);
        const key = `${ref.requestId}:${domain}:apply`;
        const before = runningAgent().agent.domain(domain);
        assert.equal(before?.inbound, 'held');
        await agent?.close();
        agent = null;
        const child = spawnCrashingAgent(crashAt);
        try {
          await waitUntil(() => child.output.includes('ready'), 'the crashing agent to start', 60_000, 100);
          await click(t, 'request.confirm', { ...ref }, users.approver2);
          await waitUntil(
            () => child.process.exitCode !== null || child.process.signalCode !== null,
            'the agent to die',
            30_000,
          );
          assert.equal(child.process.signalCode, 'SIGKILL');
        } finally {
          child.process.kill('SIGKILL');
        }
        assert.doesNotMatch(inboundMap(), mapLine(domain), 'it died with the new map in place');
        await t.connector.waitFor(() => retrying(domain).test(cardText(cardId)), 30_000);

        // Restarted first where the bot cannot reach it: what the restart alone makes of the crash.
        const spare = await startGatewayAgent(
          { ...agentConfig(layout, { token, domainsFile: domainsFile({}) }), port: 0 },
          { log: () => {} },
        );
        try {
          assert.match(inboundMap(), new RegExp(`^${domain.replace('.', '\\.')} HOLD`, 'm'), 'the map as the state');
          const state = spare.agent.domain(domain);
          assert.equal(state?.inbound, 'held');
          assert.equal(state?.version, before.version);
          assert.equal(await changesWithKey(key, spare.url), 0, 'no change recorded');
          assert.equal(atSink(subject), false);
        } finally {
          await spare.close();
        }
        // Back on its port: the bot's next retry, with the same key, applies it.
        await startAgent();
        await assertExecuted(ref, cardId, domain);
        assert.equal(await changesWithKey(key), 1, 'one change on the gateway');
        const after = runningAgent().agent.domain(domain);
        assert.equal(after?.inbound, 'open');
        assert.equal(after?.version, before.version + 1);
        assert.doesNotMatch(inboundMap(), mapLine(domain), 'the map as the state');
        await waitUntil(() => atSink(subject), 'the held message at the sink', 30_000);
      });
    }

    test('the February walk: the Nordverband release delivers its held mail, the Südverband stays held', async () => {
      const nord = 'arnsberg.de';
      const sued = 'lennestadt.de';
      const heldNord = await holdOne(nord, 'nord held');
      const heldSued = await holdOne(sued, 'sued held');
      const { ref } = await approved('freigabe Nordverband eingehend Alle Clients und Server gepatcht');
      await click(t, 'request.confirm', { ...ref }, users.approver2);
      assert.ok(await t.bot.executor.idle(60_000));
      assert.equal((await t.bot.release.get(ref.requestId))?.request.state, 'executed');
      await waitUntil(() => atSink(heldNord), 'the held Nordverband mail at the sink', 30_000);
      assert.equal(atSink(heldSued), false);
      assert.equal(await held(sued, 'inbound'), 1, 'the Südverband mail is still held');
      const fresh = unique('nord new');
      assert.equal((await send([`post@${nord}`], fresh)).code, 250);
      await waitUntil(() => atSink(fresh), 'new Nordverband mail delivered at once', 30_000);
    });
  });
});

function spawnCrashingAgent(crashAt: string): { process: ChildProcess; output: string } {
  const config = agentConfig(layout, { token, domainsFile: domainsFile({}) });
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/mail/crashing-agent.fixture.ts'], {
    env: {
      ...process.env,
      CRASH_AT: crashAt,
      GATEWAY_AGENT_PORT: String(config.port),
      GATEWAY_API_TOKEN: token,
      GATEWAY_DOMAINS_FILE: config.domainsFile,
      GATEWAY_AGENT_STATE: config.statePath,
      POSTFIX_CONFIG_DIR: config.postfixConfigDir,
      POSTFIX_MAP_DIR: config.mapDir,
      RSPAMD_CONTROLLER_URL: config.rspamd.controllerUrl,
      RSPAMD_LOG_FILE: config.rspamd.logFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = { process: child, output: '' };
  child.stdout?.on('data', (d) => {
    handle.output += d;
  });
  child.stderr?.on('data', (d) => {
    handle.output += d;
  });
  return handle;
}
