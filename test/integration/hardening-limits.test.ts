import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { invoke, message, post, tenantId, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { findInternals } from '../fakes/find-internals.ts';
import { advanceToMondayAfternoon, type CardRef, requestFrom, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// docs/decisions/hardening.md, limits and tenants at the edge of /api/messages: oversized bodies (413), malformed JSON
// (400), over-long text (a polite "zu lang"), and activities from tenants that are not allowed (no
// reply content, nothing changed).

const KB = 1024;
const BODY_LIMIT = 256 * KB; // create-http-server.ts maxBodyBytes default

async function rawPost(botUrl: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, text: await res.text() };
}

/** A message activity whose JSON is about `bytes` long (the text pads it). */
function activityOfSize(serviceUrl: string, bytes: number): string {
  const base = message('', { serviceUrl });
  const overhead = JSON.stringify(base).length;
  return JSON.stringify({ ...base, text: `status ${'x'.repeat(Math.max(0, bytes - overhead - 7))}` });
}

describe('request limits on /api/messages', () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot({}, { devices: 2000 });
  });
  after(async () => {
    await t?.close();
  });

  test('a body over 256 KB: 413, no turn runs', async () => {
    const body = activityOfSize(t.connector.url, BODY_LIMIT + 10 * KB);
    assert.ok(Buffer.byteLength(body) > BODY_LIMIT);
    const calls = t.connector.calls.length;
    const res = await rawPost(t.botUrl, body);
    assert.equal(res.status, 413, res.text.slice(0, 300));
    assert.deepEqual(findInternals(res.text), [], res.text);
    assert.equal(t.connector.calls.length, calls, 'nothing reached the chat');
  });

  test('the same without Content-Length (chunked): 413 too', async () => {
    const body = Buffer.from(activityOfSize(t.connector.url, 2 * BODY_LIMIT));
    const chunks = Array.from({ length: Math.ceil(body.length / (16 * KB)) }, (_, i) =>
      body.subarray(i * 16 * KB, (i + 1) * 16 * KB),
    );
    const stream = Readable.toWeb(Readable.from(chunks)) as ReadableStream<Uint8Array>;
    const res = await rawPost(t.botUrl, stream);
    assert.equal(res.status, 413, res.text.slice(0, 300));
    assert.deepEqual(findInternals(res.text), [], res.text);
  });

  test('a body just under the limit is processed (its text is refused as too long, politely)', async () => {
    const body = activityOfSize(t.connector.url, BODY_LIMIT - 4 * KB);
    const calls = t.connector.calls.length;
    const res = await rawPost(t.botUrl, body);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const replies = t.connector.calls.slice(calls).filter((c) => c.activity.type === 'message');
    assert.equal(replies.length, 1);
    assert.match(replyText(replies[0]!.activity), /zu lang/);
  });

  test('malformed JSON: 400 without internals, no turn runs', async () => {
    const calls = t.connector.calls.length;
    for (const body of ['{"type": "message", "text": ', '{type: message}', '\u0000\u0001', '{"type":"message"}}']) {
      const res = await rawPost(t.botUrl, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 200)}`);
      assert.deepEqual(findInternals(res.text), [], res.text);
    }
    assert.equal(t.connector.calls.length, calls);
  });

  test('JSON that is not an activity: 400', async () => {
    for (const body of ['[]', '42', '"message"', 'null', '{}', '{"type": 7}']) {
      const res = await rawPost(t.botUrl, body);
      assert.equal(res.status, 400, `${body} → ${res.status} ${res.text.slice(0, 200)}`);
      assert.deepEqual(findInternals(res.text), [], res.text);
    }
  });

  test('a body that is not JSON at all: refused (415) without internals', async () => {
    const res = await rawPost(t.botUrl, 'status Kreis Olpe', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415, res.text.slice(0, 200));
    assert.deepEqual(findInternals(res.text), [], res.text);
  });

  for (const [where, conversation] of [
    ['personal chat', undefined],
    [
      'a channel (with the @mention around it)',
      { id: '19:limits@thread.tacv2', type: 'channel' as const, teamId: 't' },
    ],
  ] as const) {
    test(`text of 2000 characters is read, 2001 get a polite "zu lang" (${where})`, async () => {
      const ask = async (text: string) => {
        const calls = t.connector.calls.length;
        const res = await post(t.botUrl, message(text, { serviceUrl: t.connector.url, conversation }));
        assert.equal(res.status, 200);
        const replies = t.connector.calls.slice(calls).filter((c) => c.activity.type === 'message');
        assert.equal(replies.length, 1);
        return replyText(replies[0]!.activity);
      };
      const atLimit = `status ${'x'.repeat(2000 - 'status '.length)}`;
      assert.equal(atLimit.length, 2000);
      assert.doesNotMatch(await ask(atLimit), /zu lang/);
      const over = await ask(`${atLimit}y`);
      assert.match(over, /Die Nachricht ist zu lang \(2000 Zeichen höchstens\)/);
      assert.deepEqual(findInternals(over), []);
      // Nothing of the text is echoed back.
      assert.doesNotMatch(over, /xxxxxxxxxx/);
    });
  }
});

describe('ALLOWED_TENANTS', () => {
  let t: TestBot;
  let ref: CardRef;
  const foreign = '11111111-2222-4333-8444-555555555555';
  before(async () => {
    t = await startTestBot({ ALLOWED_TENANTS: tenantId, ROLES_FILE: writeTestRoles() }, { devices: 2000 });
    await advanceToMondayAfternoon(t);
    ref = (await requestFrom(t, 'freigabe Kreis Soest eingehend Alle Geräte gepatcht', users.operator)).ref!;
  });
  after(async () => {
    await t?.close();
  });

  async function state() {
    const stored = await t.bot.release.get(ref.requestId);
    return {
      request: `${stored!.request.state} v${stored!.version}`,
      requests: (await t.bot.store.listRequests({ limit: 1000 })).length,
      audit: (await t.bot.store.verifyAuditChain()).count,
      gatewayChanges: t.sim.audit({ limit: 1000 }).items.filter((a) => a.action === 'domain.change').length,
    };
  }

  test('the allowed tenant is served', async () => {
    const calls = t.connector.calls.length;
    const res = await post(t.botUrl, message('hilfe', { serviceUrl: t.connector.url }));
    assert.equal(res.status, 200);
    assert.equal(t.connector.calls.slice(calls).filter((c) => c.activity.type === 'message').length, 1);
  });

  test('messages from another tenant: nothing reaches the chat, nothing is stored, nothing changes', async () => {
    const before = await state();
    const calls = t.connector.calls.length;
    for (const text of ['hilfe', 'status Kreis Olpe', 'sperren olpe.de beides Spam-Welle', 'anträge', 'protokoll']) {
      // The operator's own account, but through another tenant.
      const activity = message(text, {
        serviceUrl: t.connector.url,
        user: users.operator,
        tenant: foreign,
        conversation: { id: 'a:personal-foreign-operator', type: 'personal' },
      });
      const res = await post(t.botUrl, activity);
      assert.ok(res.status < 500, `${text}: ${res.status}`);
      assert.deepEqual(findInternals(JSON.stringify(res.body ?? '')), []);
      // The turn has run when POST /api/messages answers (replies are sent within it).
      assert.equal(t.connector.calls.length, calls, `${text}: no reply, not even typing`);
      assert.equal(await t.bot.store.getConversation(activity.conversation.id), null, 'conversation not remembered');
    }
    assert.deepEqual(await state(), before);
  });

  test('card actions from another tenant: no card in the answer, the request unchanged', async () => {
    const before = await state();
    const calls = t.connector.calls.length;
    for (const [verb, data] of [
      ['request.confirm', { ...ref }],
      ['request.cancel', { ...ref }],
      ['request.view', { ...ref }],
      ['status.refresh', { scopeId: 'kr-olpe' }],
    ] as const) {
      const res = await post(
        t.botUrl,
        invoke(verb, data, { serviceUrl: t.connector.url, user: users.approver2, tenant: foreign }),
      );
      // botbuilder answers an invoke the bot did not handle with 501 and no body: no content either way.
      assert.notEqual(res.status, 500, `${verb}: ${res.status}`);
      const body = JSON.stringify(res.body ?? '');
      assert.doesNotMatch(
        body,
        /AdaptiveCard|Kreis Soest|Olpe|r-[0-9a-f]{8}/,
        `${verb} answered with content: ${body}`,
      );
    }
    assert.equal(t.connector.calls.length, calls);
    assert.deepEqual(await state(), before);
  });

  test('an activity without any tenant is refused the same way', async () => {
    const before = await state();
    const calls = t.connector.calls.length;
    const activity = message('status Kreis Olpe', { serviceUrl: t.connector.url }) as Record<string, unknown>;
    const conversation = { ...(activity.conversation as Record<string, unknown>) };
    delete conversation.tenantId;
    const res = await post(t.botUrl, { ...activity, conversation, channelData: {} });
    assert.ok(res.status < 500);
    assert.equal(t.connector.calls.length, calls);
    assert.deepEqual(await state(), before);
  });
});
