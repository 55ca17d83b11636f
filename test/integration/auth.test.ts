import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, mock, test } from 'node:test';
import type { TurnContext } from 'botbuilder';
import type restify from 'restify';
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { createBotAdapter } from '../../src/teams/create-bot-adapter.ts';
import { createHttpServer } from '../../src/teams/create-http-server.ts';
import { message } from '../fakes/activities.ts';
import { createCaptureStream } from '../fakes/capture-stream.ts';
import { FakeBotConnector, replyText } from '../fakes/fake-bot-connector.ts';
import {
  botFrameworkIssuer,
  type FakeOpenIdServer,
  primeBotTokenCache,
  startFakeOpenIdServer,
} from '../fakes/fake-openid-server.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// Bot Framework JWT authentication of /api/messages against a local key server
// (BOT_OPENID_METADATA_URL): the token checks botbuilder makes for the Teams channel — signature
// with a published key endorsed for msteams, issuer, audience = our app id, expiry, serviceurl
// claim = the activity's serviceUrl — each refused with 401 and no turn run.
//
// The outgoing side (the reply to the Bot Connector) needs an access token of the bot; botbuilder
// would get it from login.microsoftonline.com through MSAL. primeBotTokenCache puts one into
// botbuilder's own token cache instead, so the real credentials sign the reply and the fake
// connector can check the Authorization header.

const appId = '6f1c3b52-8d4e-4a7b-9c21-0e5d7a9b3c11';
const appPassword = 'test-client-secret';
const outboundToken = 'token-of-the-bot-for-the-connector';

let keys: FakeOpenIdServer;
let otherKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
// botbuilder reports every refused request with console.error (cloudAdapter.js:106). Kept out of the
// test output and shown in assertion messages instead.
let logged: string[] = [];

before(async () => {
  keys = await startFakeOpenIdServer([
    { kid: 'lagebot-test-key', endorsements: ['msteams'] },
    { kid: 'webchat-only-key', endorsements: ['webchat'] },
  ]);
  otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await primeBotTokenCache(appId, appPassword, outboundToken);
});
after(async () => {
  await keys?.close();
});
beforeEach(() => {
  logged = [];
  mock.method(console, 'error', (...args: unknown[]) => {
    logged.push(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(' '));
  });
});
afterEach(() => {
  mock.restoreAll();
});

/** The claims the Bot Connector service puts on a request to the bot (channel → bot). */
function channelClaims(serviceUrl: string): Record<string, unknown> {
  return { iss: botFrameworkIssuer, aud: appId, serviceurl: serviceUrl };
}

interface Case {
  name: string;
  /** The Authorization header for an activity whose serviceUrl is `serviceUrl`; null: none. */
  authorization(serviceUrl: string): string | null;
}

const refused: Case[] = [
  { name: 'no Authorization header', authorization: () => null },
  {
    // botbuilder allows 5 minutes of clock skew (parameterizedBotFrameworkAuthentication.js:342).
    name: 'a token that expired 10 minutes ago',
    authorization: (url) => `Bearer ${keys.sign(channelClaims(url), { expiresIn: -600 })}`,
  },
  {
    name: 'a token for another bot (wrong audience)',
    authorization: (url) => `Bearer ${keys.sign({ ...channelClaims(url), aud: 'another-bot-app-id' })}`,
  },
  {
    name: 'a token signed with another key under the published kid',
    authorization: (url) => `Bearer ${keys.sign(channelClaims(url), { key: otherKey, kid: keys.kid })}`,
  },
  {
    name: 'a token signed with another key under an unknown kid',
    authorization: (url) => `Bearer ${keys.sign(channelClaims(url), { key: otherKey, kid: 'unknown-key' })}`,
  },
  {
    name: 'a token from another issuer',
    authorization: (url) => `Bearer ${keys.sign({ ...channelClaims(url), iss: 'https://sts.example.org/' })}`,
  },
  {
    name: 'a token whose serviceurl claim is not the activity’s serviceUrl',
    authorization: () => `Bearer ${keys.sign(channelClaims('https://smba.trafficmanager.net/emea/'))}`,
  },
  {
    name: 'a token signed by a published key that is not endorsed for msteams',
    authorization: (url) => `Bearer ${keys.sign(channelClaims(url), { kid: 'webchat-only-key' })}`,
  },
  {
    // jsonwebtoken takes a token without exp as valid for ever; we do not (issue 13).
    name: 'a token without exp, signed by the trusted key',
    authorization: (url) => `Bearer ${keys.sign({ ...channelClaims(url), exp: undefined })}`,
  },
  {
    name: 'a token whose nbf is 10 minutes in the future',
    authorization: (url) => `Bearer ${keys.sign({ ...channelClaims(url), nbf: Math.floor(Date.now() / 1000) + 600 })}`,
  },
  { name: 'a bearer value that is not a JWT', authorization: () => 'Bearer not-a-jwt' },
  {
    name: 'a valid token under another scheme',
    authorization: (url) => `Basic ${keys.sign(channelClaims(url))}`,
  },
];

async function postActivity(botUrl: string, activity: unknown, authorization: string | null) {
  const res = await fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(activity),
    // A bot stuck on an unanswered outgoing call fails the test instead of hanging the run.
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: await res.text() };
}

const context = (what: string) => `${what}; botbuilder logged: ${logged.join(' | ') || '(nothing)'}`;

describe('createBotAdapter: /api/messages with MicrosoftAppId and a local key server', () => {
  let connector: FakeBotConnector;
  let server: restify.Server;
  let botUrl = '';
  let turns = 0;

  before(async () => {
    connector = await new FakeBotConnector().start();
    const config = loadConfig({
      MicrosoftAppId: appId,
      MicrosoftAppPassword: appPassword,
      BOT_OPENID_METADATA_URL: keys.metadataUrl,
      LOG_LEVEL: 'silent',
    });
    const adapter = createBotAdapter(config);
    const logic = async (turn: TurnContext) => {
      turns += 1;
      await turn.sendActivity(`pong: ${turn.activity.text}`);
    };
    // The same wiring as src/start-lagebot.ts: the HTTP surface hands the request to adapter.handleRequest.
    server = createHttpServer({
      processActivity: (req, res) => adapter.handleRequest(req, res, logic),
      readiness: [],
      metricsText: async () => ({ contentType: 'text/plain', body: '' }),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.server.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await connector?.close();
  });
  beforeEach(() => {
    turns = 0;
    connector.reset();
  });

  test('a valid channel token: 200, the turn runs and its reply reaches the connector signed by the bot', async () => {
    const activity = message('ping', { serviceUrl: connector.url });
    const res = await postActivity(botUrl, activity, `Bearer ${keys.sign(channelClaims(connector.url))}`);
    assert.equal(res.status, 200, context(`answered ${res.status} ${res.body}`));
    assert.equal(turns, 1);
    const [reply] = connector.messages(activity.conversation.id);
    assert.ok(reply, 'a reply reached the connector');
    assert.equal(replyText(reply.activity), 'pong: ping');
    assert.equal(reply.headers.authorization, `Bearer ${outboundToken}`);
    // The keys came from the local server, not from login.botframework.com.
    assert.ok(keys.requests.includes('/.well-known/openid-configuration'), `requests: ${keys.requests.join(', ')}`);
    assert.ok(keys.requests.includes('/keys'), `requests: ${keys.requests.join(', ')}`);
  });

  for (const c of refused) {
    test(`${c.name}: 401 with a generic body and no turn`, async () => {
      const activity = message('ping', { serviceUrl: connector.url });
      const res = await postActivity(botUrl, activity, c.authorization(connector.url));
      assert.equal(res.status, 401, context(`answered ${res.status} ${res.body}`));
      // Not botbuilder's reasons, which quote the token's claims (the attacker's aud among them).
      assert.deepEqual(JSON.parse(res.body), { error: 'unauthorized' });
      assert.equal(turns, 0, 'the turn logic ran');
      assert.equal(connector.calls.length, 0, 'something reached the connector');
    });
  }
});

/** An authenticating bot whose JSON log is captured, on a clock the test moves. */
async function startLoggedBot(metadataUrl: string) {
  const log = createCaptureStream();
  let nowMs = Date.now();
  const adapter = createBotAdapter(
    loadConfig({ MicrosoftAppId: appId, MicrosoftAppPassword: appPassword, BOT_OPENID_METADATA_URL: metadataUrl }),
  );
  const server = createHttpServer({
    processActivity: (req, res) =>
      adapter.handleRequest(req, res, async (turn) => void (await turn.sendActivity('pong'))),
    readiness: [],
    metricsText: async () => ({ contentType: 'text/plain', body: '' }),
    logger: createLogger('info', log.stream),
    now: () => nowMs,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    advance: (ms: number) => {
      nowMs += ms;
    },
    refusals: () => log.records().filter((r) => r.msg === 'request to /api/messages refused'),
    async close() {
      server.server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('refused requests are quiet and correct (issue 13)', () => {
  let stderr: string[] = [];
  beforeEach(() => {
    stderr = [];
    const write = process.stderr.write.bind(process.stderr);
    mock.method(process.stderr, 'write', (chunk: unknown, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    });
  });

  test('a rejected token: exactly one JSON log line, no stack, nothing on stderr, a generic 401', async () => {
    const bot = await startLoggedBot(keys.metadataUrl);
    try {
      const serviceUrl = 'https://smba.trafficmanager.net/emea/';
      const forged = `Bearer ${keys.sign({ ...channelClaims(serviceUrl), aud: 'another-bot-app-id' }, { key: otherKey, kid: keys.kid })}`;
      const res = await postActivity(bot.url, message('ping', { serviceUrl }), forged);
      assert.equal(res.status, 401);
      assert.equal(res.body, JSON.stringify({ error: 'unauthorized' }));
      const lines = bot.log.text().trim().split('\n');
      assert.equal(lines.length, 1, bot.log.text());
      const [record] = bot.log.records();
      assert.equal(record!.msg, 'request to /api/messages refused');
      assert.equal(record!.status, 401);
      assert.equal(record!.source, '127.0.0.1');
      assert.doesNotMatch(bot.log.text(), /\n\s+at |\\n\s+at /, 'no stack trace in the log');
      // botbuilder's own console.error output went into that line, not to stderr.
      assert.deepEqual(logged, []);
      assert.deepEqual(stderr, []);
    } finally {
      await bot.close();
    }
  });

  test('the log lines are limited per source; what was left out is counted in the next line', async () => {
    const bot = await startLoggedBot(keys.metadataUrl);
    try {
      const activity = message('ping', { serviceUrl: 'https://smba.trafficmanager.net/emea/' });
      for (let i = 0; i < 50; i++) {
        assert.equal((await postActivity(bot.url, activity, 'Bearer not-a-jwt')).status, 401);
      }
      assert.equal(bot.refusals().length, 5, 'a burst of five lines, then silence');
      bot.advance(60_000);
      assert.equal((await postActivity(bot.url, activity, null)).status, 401);
      const last = bot.refusals().at(-1)!;
      assert.equal(last.suppressedSinceLast, 45);
      assert.deepEqual(stderr, []);
    } finally {
      await bot.close();
    }
  });

  test('signing keys unreachable or failing: 503 with Retry-After, not 500', async () => {
    const failing = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream exploded at 10.0.0.7');
    });
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    const failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/.well-known/openid-configuration`;
    // A port nothing listens on: take one and give it back.
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/.well-known/openid-configuration`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    try {
      for (const metadataUrl of [closedUrl, failingUrl]) {
        const bot = await startLoggedBot(metadataUrl);
        try {
          const serviceUrl = 'https://smba.trafficmanager.net/emea/';
          const res = await fetch(`${bot.url}/api/messages`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${keys.sign(channelClaims(serviceUrl))}`,
            },
            body: JSON.stringify(message('ping', { serviceUrl })),
          });
          assert.equal(res.status, 503, metadataUrl);
          assert.equal(res.headers.get('retry-after'), '30');
          assert.deepEqual(await res.json(), { error: 'authentication_unavailable' });
          assert.equal(bot.refusals().length, 1);
          assert.equal(bot.refusals()[0]!.status, 503);
          assert.deepEqual(stderr, []);
        } finally {
          await bot.close();
        }
      }
    } finally {
      failing.closeAllConnections();
      await new Promise<void>((resolve) => failing.close(() => resolve()));
    }
  });
});

describe('createBotAdapter in local mode (no MicrosoftAppId)', () => {
  test('unauthenticated traffic is accepted and the reply carries no token', async () => {
    const connector = await new FakeBotConnector().start();
    const adapter = createBotAdapter(loadConfig({ BOT_OPENID_METADATA_URL: keys.metadataUrl, LOG_LEVEL: 'silent' }));
    const server = createHttpServer({
      processActivity: (req, res) =>
        adapter.handleRequest(req, res, async (turn) => void (await turn.sendActivity('pong'))),
      readiness: [],
      metricsText: async () => ({ contentType: 'text/plain', body: '' }),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    try {
      server.listen(0, '127.0.0.1');
      await once(server.server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await postActivity(url, message('ping', { serviceUrl: connector.url }), null);
      assert.equal(res.status, 200, context(`answered ${res.status} ${res.body}`));
      const [reply] = connector.messages();
      assert.ok(reply, 'a reply reached the connector');
      assert.equal(reply.headers.authorization, undefined);
    } finally {
      server.server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connector.close();
    }
  });
});

// The whole bot (startLagebot) authenticates the same way once the composition root builds its
// adapter with createBotAdapter; until then this part is skipped, saying why.
const startUsesFactory = readFileSync(new URL('../../src/start-lagebot.ts', import.meta.url), 'utf8').includes(
  'createBotAdapter(',
);

describe('the whole bot with MicrosoftAppId and BOT_OPENID_METADATA_URL', {
  skip: startUsesFactory ? false : 'src/start-lagebot.ts does not build its adapter with createBotAdapter yet',
}, () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot(
      {
        MicrosoftAppId: appId,
        MicrosoftAppPassword: appPassword,
        BOT_OPENID_METADATA_URL: keys.metadataUrl,
        // With an app id the bot would listen on 0.0.0.0 (src/config.ts); tests stay on loopback.
        HOST: '127.0.0.1',
        // Outside local mode the audit log's key is required (issue 13).
        AUDIT_KEY: 'test-1:0123456789abcdef0123456789abcdef',
      },
      { devices: 300 },
    );
  });
  after(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.connector.reset();
  });

  test('hilfe with a valid channel token: 200 and the help reply reaches the connector signed by the bot', async () => {
    const activity = message('hilfe', { serviceUrl: t.connector.url });
    const res = await postActivity(t.botUrl, activity, `Bearer ${keys.sign(channelClaims(t.connector.url))}`);
    assert.equal(res.status, 200, context(`answered ${res.status} ${res.body}`));
    const [reply] = await t.connector.waitFor((calls) => calls.length > 0);
    assert.ok(reply, 'a reply reached the connector');
    assert.equal(reply.conversationId, activity.conversation.id);
    assert.equal(reply.headers.authorization, `Bearer ${outboundToken}`);
    assert.match(replyText(reply.activity), /Lagebot – was ich kann/);
  });

  for (const c of refused) {
    test(`${c.name}: 401 and no reply`, async () => {
      const activity = message('hilfe', { serviceUrl: t.connector.url });
      const res = await postActivity(t.botUrl, activity, c.authorization(t.connector.url));
      assert.equal(res.status, 401, context(`answered ${res.status} ${res.body}`));
      // The turn would have replied before the HTTP answer (teams-ai sends within the turn).
      assert.equal(t.connector.calls.length, 0, 'something reached the connector');
    });
  }
});
