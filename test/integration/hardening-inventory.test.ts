import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatTime } from '../../src/teams/i18n.ts';
import { invoke, message, post, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { findInternals } from '../fakes/find-internals.ts';
import { clearSimFaults, setSimFault } from '../fakes/set-sim-fault.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// docs/decisions/hardening.md, inventory down: `status` answers from the last good data, marked stale with its time;
// without such data a plain "Inventar nicht erreichbar"; never a stack trace, never a hang beyond
// the client's timeout. startTestBot sets STATUS_CACHE_SECONDS=0, so every answer below that is not
// "nicht erreichbar" while the inventory fails comes from the stale fallback of create-fetch-cache.

const TIMEOUT_MS = 400;
// Per call: 3 attempts of TIMEOUT_MS and two waits between them (the simulator's fault answers say
// Retry-After: 1; http-json-client.ts defaultRetry); a status turn makes two rounds of calls
// (compliance, then history/unpatched in parallel). Beyond this bound the bot hangs. The waits are
// recorded, not sat out (upstream.waits).
const TURN_BOUND_MS = 2 * (3 * TIMEOUT_MS + 2 * 1000) + 3000;

let t: TestBot;
const upstream = recordedWaits();
before(async () => {
  t = await startTestBot(
    { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) },
    { devices: 2000 },
    { upstreamSleep: upstream.sleep },
  );
});
after(async () => {
  await t?.close();
});

async function status(text: string) {
  const before = t.connector.calls.length;
  const res = await post(t.botUrl, message(text, { serviceUrl: t.connector.url, user: users.viewer }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  // Typing indicators may come first on a slow turn; the answer is the one message.
  const isMessage = (c: { activity: Record<string, unknown> }) => c.activity.type === 'message';
  const calls = await t.connector.waitFor((c) => c.slice(before).some(isMessage), TURN_BOUND_MS);
  const replies = calls.slice(before).filter(isMessage);
  assert.equal(replies.length, 1, 'one reply per command');
  const text_ = replyText(replies[0]!.activity);
  assert.deepEqual(findInternals(JSON.stringify(replies[0]!.activity)), [], text_);
  return text_;
}

async function observedAt(regionId: string): Promise<string> {
  const res = await fetch(`${t.simUrl}/inventory/v1/compliance?region=${regionId}`);
  return ((await res.json()) as { observedAt: string }).observedAt;
}

describe('inventory down', () => {
  test('no data yet and the inventory answers 503: a plain "Inventar nicht erreichbar"', async () => {
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'error', status: 503 });
    const waitsBefore = upstream.waits.length;
    const text = await status('status Kreis Olpe');
    assert.match(text, /Inventar nicht erreichbar/);
    assert.doesNotMatch(text, /Lage: Kreis Olpe/);
    // Between its attempts the client waited what the answers' Retry-After: 1 asked for.
    const waits = upstream.waits.slice(waitsBefore);
    assert.ok(waits.length >= 2 && waits.every((ms) => ms === 1000), `waits: ${waits.join(', ')}`);
  });

  test('no data yet and the inventory does not answer at all: the same, after the client timeout', async () => {
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'timeout', ms: 30_000 });
    const text = await status('status Kreis Olpe');
    assert.match(text, /Inventar nicht erreichbar/);
  });

  test('after one good answer, a failing inventory gets the last data marked "Veraltete Daten vom …"', async () => {
    await clearSimFaults(t.simUrl);
    const fresh = await status('status Kreis Olpe');
    assert.match(fresh, /Lage: Kreis Olpe/);
    assert.doesNotMatch(fresh, /Veraltete Daten/);
    const at = await observedAt('kr-olpe');

    // The connection dropped without an answer (ms 0: the simulator closes the socket at once).
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'timeout', ms: 0 });
    const stale = await status('status Kreis Olpe');
    assert.match(stale, /Lage: Kreis Olpe/);
    assert.ok(
      stale.includes(`Veraltete Daten vom ${formatTime('de', at)}`),
      `stale marker with the data's time ${formatTime('de', at)}:\n${stale}`,
    );
    // The same numbers as the last good answer: everything but the marker is unchanged.
    assert.equal(stale.replace(/\n?Veraltete Daten vom [^\n]*/, ''), fresh);
  });

  test('stale also when the inventory does not answer at all', async () => {
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'timeout', ms: 30_000 });
    assert.match(await status('status Kreis Olpe'), /Veraltete Daten vom/);
  });

  test('the Aktualisieren button gets the stale card too', async () => {
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'error', status: 502 });
    const res = await post(t.botUrl, invoke('status.refresh', { scopeId: 'kr-olpe' }, { serviceUrl: t.connector.url }));
    assert.equal(res.status, 200);
    const card = JSON.stringify((res.body as { value: unknown }).value);
    assert.match(card, /Veraltete Daten vom/);
    assert.match(card, /Lage: Kreis Olpe/);
    assert.deepEqual(findInternals(card), []);
  });

  test('a scope never fetched before gets "Inventar nicht erreichbar", not someone else\'s data', async () => {
    await setSimFault(t.simUrl, { target: 'inventory', mode: 'timeout', ms: 0 });
    const text = await status('status Kreis Soest');
    assert.match(text, /Inventar nicht erreichbar/);
    assert.doesNotMatch(text, /Olpe/);
  });

  test('the inventory back: fresh data, no stale marker', async () => {
    await clearSimFaults(t.simUrl);
    const text = await status('status Kreis Olpe');
    assert.match(text, /Lage: Kreis Olpe/);
    assert.doesNotMatch(text, /Veraltete Daten/);
  });
});
