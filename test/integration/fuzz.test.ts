import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createStore } from '../../src/adapters/store/create-store.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { invoke, message, post, type TestUser, tenantId, users } from '../fakes/activities.ts';
import { cardOf, FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { findInternals } from '../fakes/find-internals.ts';
import { type BotChild, spawnBotChild } from '../fakes/spawn-bot-child.ts';
import { advanceToMondayAfternoon, type CardRef, refOf, writeTestRoles } from '../helpers/release-helpers.ts';

// docs/decisions/hardening.md: random and malformed activities and invoke payloads at /api/messages. The bot runs in its
// own process so a crash shows. Properties: the process stays up, no answer is a 500, no answer or
// reply carries internals (stack frames, source paths, error classes), and nothing changes: the
// gateway's domains and audit, the real requests the payloads aim at. The senders are people without
// a role, some of them posing as approvers through malformed identity fields, so any state change is
// a hole in the checks. Seeded (FUZZ_SEED to replay), FUZZ_RUNS runs (default 300).

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20240219);

let sim: Awaited<ReturnType<typeof startSimServer>>;
let connector: FakeBotConnector;
let bot: BotChild;
let dataDir: string;
const targets: CardRef[] = [];
let gatewayBefore: string;
let gatewayAuditBefore: number;

async function gatewaySnapshot() {
  const res = await fetch(`${sim.url}/gateway/v1/domains`);
  assert.equal(res.status, 200);
  return JSON.stringify(await res.json());
}

before(async () => {
  sim = await startSimServer({ port: 0, speed: 0, seed: 42, devices: 2000 });
  connector = await new FakeBotConnector().start();
  dataDir = mkdtempSync(join(tmpdir(), 'lagebot-fuzz-'));
  await advanceToMondayAfternoon({ simUrl: sim.url });
  bot = await spawnBotChild({
    DATA_DIR: dataDir,
    INVENTORY_API_URL: `${sim.url}/inventory/v1`,
    GATEWAY_API_URL: `${sim.url}/gateway/v1`,
    ROLES_FILE: writeTestRoles(),
    UPSTREAM_TIMEOUT_MS: '2000',
    REPLICA_ID: 'fuzz',
  });
  // Real requests for the payloads to aim at: a pending release and a block awaiting confirmation.
  for (const text of ['freigabe Kreis Soest eingehend Alle Geräte gepatcht', 'sperren olpe.de beides Spam-Welle']) {
    const sent = connector.calls.length;
    const res = await post(bot.url, message(text, { serviceUrl: connector.url, user: users.operator }));
    assert.equal(res.status, 200);
    const reply = connector.calls.slice(sent).find((c) => c.activity.type === 'message');
    targets.push(refOf(cardOf(reply!.activity)));
  }
  gatewayBefore = await gatewaySnapshot();
  gatewayAuditBefore = sim.sim.audit({ limit: 1000 }).items.length;
});

after(async () => {
  await bot?.kill();
  await connector?.close();
  await sim?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ---- generators ------------------------------------------------------------------------------------

const approver = users.approver2.aadObjectId;
/** Identity fields as Teams would never send them, several posing as an approver. */
const aadObjectId = fc.oneof(
  fc.constantFrom(
    users.viewer.aadObjectId,
    approver.toUpperCase(),
    ` ${approver}`,
    `${approver} `,
    `${approver}\u200b`,
    `aad-approver-２`,
    '',
    '*',
    'null',
  ),
  fc.constant([approver]),
  fc.constant({ id: approver }),
  fc.constant(null),
  fc.constant(42),
  fc.string({ maxLength: 40 }),
);

const verbs = [
  'request.approve',
  'request.confirm',
  'request.confirm_override',
  'request.reject',
  'request.cancel',
  'request.confirm_block',
  'request.retry',
  'request.view',
  'request.create',
  'status.refresh',
  'status.show',
];

const cardData = fc.oneof(
  fc.record(
    {
      requestId: fc.oneof(
        // The real requests (read when generating: they exist only once the bot has started).
        fc.nat().map((i) => targets[i % Math.max(1, targets.length)]?.requestId ?? 'r-00000000'),
        fc.constantFrom('r-00000000', '../../etc/passwd', "' OR 1=1 --"),
        fc.string({ maxLength: 120 }),
      ),
      version: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.string({ maxLength: 5 })),
      justification: fc.string({ maxLength: 2100 }),
      approvedBy: fc.constant(approver),
      scopeId: fc.oneof(fc.constantFrom('kr-olpe', 'all', 'domain:olpe.de', 'kr-', 'domain:'), fc.string()),
      kind: fc.constantFrom('release', 'block', 'unblock', 7),
      direction: fc.constantFrom('inbound', 'outbound', 'both', 'sideways'),
      reason: fc.string({ maxLength: 600 }),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

const words = fc.constantFrom(
  'status',
  'lage',
  'freigabe',
  'release',
  'sperren',
  'block',
  'anträge',
  'protokoll',
  'hilfe',
  'alarme',
  'Kreis Olpe',
  'olpe.de',
  'Südverband',
  'alle',
  'eingehend',
  'beides',
  '<at>Lagebot</at>',
  '<script>alert(1)</script>',
  '&amp;',
  '\u0000',
  '%s%n',
  '${process.env}',
);
const text = fc.oneof(
  fc.array(fc.oneof(words, fc.string({ maxLength: 20 })), { maxLength: 8 }).map((w) => w.join(' ')),
  fc.string({ maxLength: 300, unit: 'binary' }),
  fc.string({ minLength: 1990, maxLength: 2100, unit: 'grapheme-ascii' }),
  fc.jsonValue({ maxDepth: 2 }),
);

type Mutation = { path: string[]; value: unknown } | { path: string[]; remove: true };
const paths: string[][] = [
  ['type'],
  ['text'],
  ['from'],
  ['from', 'id'],
  ['from', 'aadObjectId'],
  ['conversation'],
  ['conversation', 'id'],
  ['conversation', 'tenantId'],
  ['conversation', 'conversationType'],
  ['channelData'],
  ['channelData', 'tenant'],
  ['serviceUrl'],
  ['locale'],
  ['entities'],
  ['name'],
  ['value'],
  ['value', 'action'],
  ['value', 'action', 'verb'],
  ['value', 'action', 'data'],
  ['replyToId'],
  ['recipient'],
  ['channelId'],
];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ path: fc.constantFrom(...paths), remove: fc.constant(true as const) }),
  fc.record({
    path: fc.constantFrom(...paths),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      // serviceUrl: garbage or a closed port, never a foreign host.
      fc.constantFrom('not a url', '', 'ftp://127.0.0.1/', 'http://127.0.0.1:1/', 'javascript:alert(1)'),
      fc.constantFrom('message', 'invoke', 'conversationUpdate', 'messageReaction', 'typing', 'endOfConversation'),
      fc.constantFrom('adaptiveCard/action', 'task/fetch', 'composeExtension/query', 'signin/verifyState'),
    ),
  }),
);

function applyMutation(activity: Record<string, unknown>, m: Mutation): void {
  let node: Record<string, unknown> = activity;
  for (const key of m.path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return;
    node = next as Record<string, unknown>;
  }
  const last = m.path.at(-1)!;
  if ('remove' in m) delete node[last];
  else node[last] = m.value;
}

const sender: fc.Arbitrary<TestUser & { aad: unknown }> = fc
  .record({ name: fc.string({ maxLength: 30 }), aad: aadObjectId })
  .map(({ name, aad }) => ({ id: '29:fuzz', name, aadObjectId: 'placeholder', aad }));

interface Input {
  body: string;
  contentType: string;
}

const activityInput: fc.Arbitrary<Input> = fc
  .record({
    kind: fc.constantFrom('message', 'invoke'),
    user: sender,
    text,
    verb: fc.oneof(fc.constantFrom(...verbs), fc.string({ maxLength: 30 })),
    data: cardData,
    mutations: fc.array(mutation, { maxLength: 4 }),
  })
  .map(({ kind, user, text, verb, data, mutations }) => {
    const o = { serviceUrl: connector.url, user, conversation: { id: 'a:fuzz', type: 'personal' as const } };
    const activity =
      kind === 'message'
        ? (message(typeof text === 'string' ? text : '', o) as unknown as Record<string, unknown>)
        : (invoke(verb, (data ?? {}) as Record<string, unknown>, o) as unknown as Record<string, unknown>);
    (activity.from as Record<string, unknown>).aadObjectId = user.aad;
    if (kind === 'message' && typeof text !== 'string') activity.text = text;
    for (const m of mutations) applyMutation(activity, m);
    return { body: JSON.stringify(activity), contentType: 'application/json' };
  });

const rawInput: fc.Arbitrary<Input> = fc.oneof(
  fc.string({ maxLength: 400, unit: 'binary' }).map((body) => ({ body, contentType: 'application/json' })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ body: JSON.stringify(v) ?? 'null', contentType: 'application/json' })),
  // A real activity cut off anywhere.
  fc.integer({ min: 0, max: 600 }).map((n) => ({
    body: JSON.stringify(message('status Kreis Olpe', { serviceUrl: connector.url })).slice(0, n),
    contentType: 'application/json',
  })),
  fc.string({ maxLength: 100 }).map((body) => ({ body, contentType: 'text/plain' })),
  fc.string({ maxLength: 100 }).map((body) => ({ body, contentType: 'application/x-www-form-urlencoded' })),
);

// ---- the property ----------------------------------------------------------------------------------

const kindOf = (finding: string) => finding.split(':')[0]!;

interface Outcome {
  status: number;
  body: string;
  replies: string;
}

async function send(input: Input): Promise<Outcome> {
  const sent = connector.calls.length;
  const res = await fetch(`${bot.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': input.contentType },
    body: input.body,
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.text();
  const replies = JSON.stringify(connector.calls.slice(sent).map((c) => c.activity));
  return { status: res.status, body, replies };
}

describe('fuzzing /api/messages', () => {
  const statuses = new Map<number, number>();
  // Violations of the stricter promise (no 500, no internal error text at all), collected while the
  // property below runs and reported by the todo test.
  const strict: string[] = [];

  test(`${RUNS} random and malformed payloads: no crash, no stack trace or source path anywhere (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: activityInput, weight: 3 }, { arbitrary: rawInput, weight: 1 }),
        async (input) => {
          const outcome = await send(input);
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          assert.ok(bot.isAlive(), `the bot process died: ${bot.stderr().slice(-2000)}`);
          // What the input itself contains (echoed text) is not a leak.
          const echoed = new Set(findInternals(input.body).map(kindOf));
          const leaks = [...findInternals(outcome.body), ...findInternals(outcome.replies)].filter(
            (k) => !echoed.has(kindOf(k)),
          );
          const severe = leaks.filter((k) => kindOf(k) === 'stack frame' || kindOf(k) === 'source path');
          assert.deepEqual(severe, [], `internals for ${input.body.slice(0, 300)}`);
          if (outcome.status === 500 || leaks.length > 0) {
            strict.push(
              `${outcome.status} ${JSON.stringify(outcome.body.slice(0, 160))} ${leaks.join('; ')} ← ${input.body.slice(0, 400)}`,
            );
          }
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`# statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  });

  test('no answer is a 500 and none carries an internal error message', () => {
    assert.deepEqual(strict.slice(0, 5), [], `${strict.length} answers, e.g.:\n${strict.slice(0, 5).join('\n')}`);
  });

  test('afterwards: alive, healthy, no crash report, nothing changed', async () => {
    assert.ok(bot.isAlive());
    assert.equal((await fetch(`${bot.url}/healthz`)).status, 200);
    assert.doesNotMatch(bot.stderr(), /uncaught|unhandled|FATAL ERROR|out of memory/i, bot.stderr().slice(-2000));
    assert.equal(await gatewaySnapshot(), gatewayBefore, 'gateway domains unchanged');
    assert.equal(sim.sim.audit({ limit: 1000 }).items.length, gatewayAuditBefore, 'gateway audit unchanged');
    // The requests the payloads aimed at: still undecided, never touched.
    await bot.stop();
    const store = await createStore({ dataDir });
    try {
      for (const ref of targets) {
        const stored = await store.getRequest(ref.requestId);
        assert.equal(stored?.version, ref.version, `${ref.requestId} unchanged`);
      }
      const all = await store.listRequests({ limit: 1000 });
      assert.equal(all.length, targets.length, 'no request was created');
      assert.ok(all.every((r) => r.tenantId === tenantId));
      assert.ok((await store.verifyAuditChain()).ok);
    } finally {
      await store.close();
    }
  });
});
