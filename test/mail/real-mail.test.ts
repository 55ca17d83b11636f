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
import { advanceToMondayAfternoon, click, requestFrom, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot } from '../helpers/start-test-bot.ts';
import { waitUntil } from '../helpers/wait-until.ts';
import { mailLabSkipReason, testLabLayout } from './lab-fixture.ts';

// Real mail through a real Postfix with rspamd as milter, the gateway agent in front (the mail lab on
// free ports in a temp directory): holds, defers, rejects, releases, a GTUBE wave in the metrics, crashes
// of the agent at the worst moments, Postfix stopped, the conformance check, and the February walk
// through the bot. Skipped without root or the packages, mandatory with CI=true (lab-fixture.ts).

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

async function startAgent(blockModes: Record<string, 'hold' | 'defer' | 'reject'> = {}) {
  await agent?.close();
  agent = await startGatewayAgent(agentConfig(layout, { token, domainsFile: domainsFile(blockModes) }), {
    log: () => {},
  });
  return agent;
}

const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  fetch(`http://127.0.0.1:${layout.ports.agent}/gateway/v1${path}`, {
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
    const answer = await send(['buergerbuero@wenden.de'], subject);
    assert.equal(answer.code, 250, answer.text);
    await waitUntil(async () => (await held('wenden.de', 'inbound')) >= 1, 'the message in the hold queue');
    assert.equal(atSink(subject), false);
  });

  test('olpe.de blocked: reject → 5xx, defer → 4xx, hold → held and delivered when inbound opens', async () => {
    await startAgent({ 'olpe.de': 'reject' });
    assert.equal((await change('olpe.de', { inbound: 'blocked' })).status, 200);
    const rejected = await send(['rathaus@olpe.de'], unique('reject'));
    assert.equal(rejected.stage, 'rcpt');
    assert.equal(Math.floor(rejected.code / 100), 5, rejected.text);

    await startAgent({ 'olpe.de': 'defer' });
    const deferred = await send(['rathaus@olpe.de'], unique('defer'));
    assert.equal(deferred.stage, 'rcpt');
    assert.equal(Math.floor(deferred.code / 100), 4, deferred.text);

    await startAgent({ 'olpe.de': 'hold' });
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

  test('a GTUBE wave in four Kreis Olpe domains over two minutes: rejected, counted in its minutes, and the Südverband channel gets the alert', async () => {
    const t = await startTestBot({
      ROLES_FILE: writeTestRoles(),
      GATEWAY_API_URL: `http://127.0.0.1:${layout.ports.agent}/gateway/v1`,
      GATEWAY_API_TOKEN: token,
      UPSTREAM_TIMEOUT_MS: '20000',
    });
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
      // Two whole minutes of 25 messages per domain: start right after a minute begins.
      const minute = () => Math.floor(Date.now() / 60_000);
      const first = minute() + 1;
      await waitUntil(() => minute() >= first, 'the next minute', 70_000, 200);
      for (const m of [first, first + 1]) {
        await waitUntil(() => minute() >= m, `minute ${m}`, 70_000, 200);
        for (let i = 0; i < 25; i++) {
          const answers = await Promise.all(
            wave.map((d) => send([`info@${d}`], `Gewinnspiel ${m}-${i}`, 'spam@spam.example', GTUBE)),
          );
          assert.ok(
            answers.every((a) => a.code === 554),
            'rspamd rejects GTUBE',
          );
        }
      }
      await waitUntil(() => minute() > first + 1, 'the wave minutes to complete', 70_000, 200);
      // The agent's metrics: each message once, as rejected spam, in the minute it was sent.
      const from = new Date(first * 60_000).toISOString();
      const to = new Date((first + 2) * 60_000).toISOString();
      const res = await api(`/metrics/spam?from=${from}&to=${to}&domain=${wave.join(',')}`);
      assert.equal(res.status, 200);
      const metrics = (await res.json()) as {
        series: { domain: string; points: { received: number; spam: number; rejected: number }[] }[];
      };
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
    }
  });

  test('Postfix stopped: changes answer 503 with the reason and nothing changes; after the restart the retry applies once', async () => {
    await stopPostfix(layout);
    try {
      const refused = await change('meschede.de', { inbound: 'open' }, 'postfix-down-1');
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'unavailable');
      assert.match(refused.body.error.message, /Postfix is not running/);
      const health = await api('/health');
      assert.equal(health.status, 503);
    } finally {
      await startPostfix(layout);
    }
    await waitUntil(async () => (await api('/health')).status === 200, 'the agent to see Postfix again', 30_000);
    const before = (await (await api('/domains/meschede.de')).json()) as { inbound: string; version: number };
    assert.equal(before.inbound, 'held');
    const applied = await change('meschede.de', { inbound: 'open' }, 'postfix-down-1');
    assert.equal(applied.status, 200);
    assert.equal(applied.body.domain.version, before.version + 1);
    const replay = await change('meschede.de', { inbound: 'open' }, 'postfix-down-1');
    assert.equal(replay.body.replayed, true);
  });

  for (const crashAt of ['maps-written', 'reloaded'] as const) {
    test(`SIGKILL of the agent at ${crashAt}: on restart maps and state agree, and the retry applies once`, async () => {
      await agent?.close();
      agent = null;
      const domain = crashAt === 'maps-written' ? 'brilon.de' : 'marsberg.de';
      const child = spawnCrashingAgent(crashAt);
      try {
        await waitUntil(() => child.output.includes('ready'), 'the crashing agent to start', 60_000, 100);
        await assert.rejects(
          change(domain, { inbound: 'open' }, `crash-${crashAt}`),
          'the connection dies with the agent',
        );
        await waitUntil(() => child.process.exitCode !== null || child.process.signalCode !== null, 'the agent to die');
        assert.equal(child.process.signalCode, 'SIGKILL');
      } finally {
        child.process.kill('SIGKILL');
      }
      await startAgent();
      const inbound = readFileSync(join(layout.maps, 'inbound'), 'utf8');
      assert.match(
        inbound,
        new RegExp(`^${domain.replace('.', '\\.')} HOLD`, 'm'),
        'the map enforces what the state records',
      );
      const state = (await (await api(`/domains/${domain}`)).json()) as { inbound: string; version: number };
      assert.equal(state.inbound, 'held');
      const retried = await change(domain, { inbound: 'open' }, `crash-${crashAt}`);
      assert.equal(retried.status, 200);
      assert.equal(retried.body.changed, true);
      assert.equal(retried.body.domain.version, state.version + 1);
      assert.equal((await change(domain, { inbound: 'open' }, `crash-${crashAt}`)).body.replayed, true);
      const audit = (await (await api('/audit?limit=1000')).json()) as { items: { idempotencyKey: string }[] };
      assert.equal(audit.items.filter((e) => e.idempotencyKey === `crash-${crashAt}`).length, 1, 'one change recorded');
      assert.doesNotMatch(
        readFileSync(join(layout.maps, 'inbound'), 'utf8'),
        new RegExp(`^${domain.replace('.', '\\.')} `, 'm'),
      );
    });
  }

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

  test('the February walk through the bot: the Nordverband release delivers its held mail, the Südverband stays held', async () => {
    const nord = estate.domains.find((d) => d.verband === 'vb-nord' && d.domain === 'arnsberg.de')?.domain as string;
    const sued = 'lennestadt.de';
    const heldNord = unique('nord held');
    const heldSued = unique('sued held');
    assert.equal((await send([`post@${nord}`], heldNord)).code, 250);
    assert.equal((await send([`post@${sued}`], heldSued)).code, 250);
    await waitUntil(async () => (await held(nord, 'inbound')) >= 1 && (await held(sued, 'inbound')) >= 1, 'both held');

    const t = await startTestBot({
      ROLES_FILE: writeTestRoles(),
      GATEWAY_API_URL: `http://127.0.0.1:${layout.ports.agent}/gateway/v1`,
      GATEWAY_API_TOKEN: token,
      UPSTREAM_TIMEOUT_MS: '10000',
    });
    try {
      await advanceToMondayAfternoon(t);
      const { ref } = await requestFrom(
        t,
        'freigabe Nordverband eingehend Alle Clients und Server gepatcht',
        users.operator,
      );
      assert.ok(ref);
      await click(t, 'request.approve', { ...ref }, users.approver2);
      await click(t, 'request.confirm', { ...ref }, users.approver2);
      assert.ok(await t.bot.executor.idle(60_000));
    } finally {
      await t.close();
    }
    await waitUntil(() => atSink(heldNord), 'the held Nordverband mail at the sink', 30_000);
    assert.equal(atSink(heldSued), false);
    assert.equal(await held(sued, 'inbound'), 1, 'the Südverband mail is still held');
    const fresh = unique('nord new');
    assert.equal((await send([`post@${nord}`], fresh)).code, 250);
    await waitUntil(() => atSink(fresh), 'new Nordverband mail delivered at once', 30_000);
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
