import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { findInternals } from '../fakes/find-internals.ts';
import { clearSimFaults, setSimFault } from '../fakes/set-sim-fault.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import {
  advanceToMondayAfternoon,
  type CardRef,
  click,
  gatewayDomains,
  requestFrom,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// The gateway down or slow during a release, end to end over HTTP: the request says "wird ausgeführt",
// the domains waiting for the gateway say "wird wiederholt", and when the gateway is back the release
// completes with exactly one change per domain (docs/architecture.md, "Exactly once"). The executor's
// cases — lost answers, refusals, retries, idle() — are tested at the service tier
// (test/unit/services/execute-release.test.ts) and over HTTP with lost answers in release-faults.test.ts;
// here it is what the cards say while the gateway is down or refuses.
// Waits are for the gateway's HTTP timing (waitUntil) or on the bot's hooks (executor.idle, cards.flush);
// the gateway client's waits before a retry (Retry-After: 1 from the faulted simulator) are recorded.

let t: TestBot;
const upstream = recordedWaits();
before(async () => {
  t = await startTestBot(
    { ROLES_FILE: writeTestRoles(), UPSTREAM_TIMEOUT_MS: '1000' },
    { devices: 2000 },
    { upstreamSleep: upstream.sleep },
  );
  await advanceToMondayAfternoon(t);
});
after(async () => {
  await t?.close();
});
// A failed test must not leave the next one with a broken gateway.
afterEach(async () => {
  await clearSimFaults(t.simUrl);
});

/** Opens the request card as the operator until it shows what we wait for (the executor works meanwhile). */
async function viewUntil(ref: CardRef, pattern: RegExp, timeoutMs: number): Promise<string> {
  let text = '';
  await waitUntil(
    async () => {
      const version = (await t.bot.release.get(ref.requestId))!.version;
      text = (await click(t, 'request.view', { requestId: ref.requestId, version }, users.operator)).text;
      return pattern.test(text);
    },
    `the request card shows ${pattern}`,
    timeoutMs,
    100,
  );
  return text;
}

/** domain.change entries of a request, read from the simulator itself (its HTTP API may be faulted). */
function changesFor(requestId: string): Map<string, number> {
  const counts = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = t.sim.audit({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const a of page.items) {
      if (a.action === 'domain.change' && a.idempotencyKey?.startsWith(`${requestId}:`)) {
        counts.set(a.domain, (counts.get(a.domain) ?? 0) + 1);
      }
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return counts;
}

/** The request once the executor has nothing left to do for it (idle() also waits for retries). */
async function settled(requestId: string, timeoutMs = 30_000) {
  assert.ok(await t.bot.executor.idle(timeoutMs), 'the executor finished');
  return (await t.bot.release.get(requestId))!;
}

async function assertExecutedOnce(ref: CardRef, verband: string) {
  const { request } = await settled(ref.requestId);
  assert.equal(request.state, 'executed');
  const counts = changesFor(ref.requestId);
  assert.deepEqual([...counts.keys()].sort(), [...request.scope.domains].sort(), 'every domain changed');
  for (const [domain, n] of counts) assert.equal(n, 1, `${domain} changed ${n} times`);
  const states = (await gatewayDomains(t, verband)).filter((d) => request.scope.domains.includes(d.domain));
  assert.ok(
    states.every((d) => d.inbound === 'open'),
    JSON.stringify(states.filter((d) => d.inbound !== 'open')),
  );
}

/** The card the requester sees in the chat, after the in-place updates (PUT) of the fake connector. */
function latestCardText(activityId: string): string | null {
  const puts = t.connector.updates().filter((c) => c.activityId === activityId);
  return puts.length ? replyText(puts.at(-1)!.activity) : null;
}

describe('gateway down or slow during a release', () => {
  test('gateway answering 503: "wird ausgeführt", "wird wiederholt", then done once per domain', async () => {
    const created = await requestFrom(t, 'freigabe Kreis Soest eingehend Alle Geräte gepatcht', users.operator);
    const ref = created.ref!;
    const cardId = t.connector.messages().at(-1)!.id;
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 503 });

    const confirmed = await click(t, 'request.confirm', { ...ref }, users.approver2);
    assert.match(confirmed.text, /wird ausgeführt/);
    assert.deepEqual(findInternals(JSON.stringify(confirmed.card)), []);
    const retrying = await viewUntil(ref, /wird wiederholt/, 15_000);
    assert.deepEqual(findInternals(retrying), []);
    assert.equal((await t.bot.release.get(ref.requestId))!.request.state, 'executing');
    assert.equal(changesFor(ref.requestId).size, 0, 'nothing reached the gateway while it was down');
    assert.ok(
      upstream.waits.length > 0 && upstream.waits.every((ms) => ms === 1000),
      `the client waited what the answers' Retry-After: 1 asked for: ${upstream.waits.join(', ')}`,
    );
    // Everybody's copy of the card says so too (updated in place).
    await t.connector.waitFor(() => /wird wiederholt/.test(latestCardText(cardId) ?? ''), 10_000);

    await clearSimFaults(t.simUrl);
    await assertExecutedOnce(ref, 'vb-nord');
    // The coalesced card update after the last transition.
    assert.ok(await t.bot.cards.flush());
    const final = latestCardText(cardId)!;
    assert.match(final, /ausgeführt/);
    assert.doesNotMatch(final, /wird wiederholt|wird ausgeführt/, final);
  });

  test('a domain the gateway refused is explained in plain words on the card, without internal codes or API paths', async () => {
    // Outbound, which nothing here opened: a refused change that is in effect anyway would be recorded
    // done (release-faults.test.ts), not failed.
    const created = await requestFrom(t, 'freigabe Stadt Iserlohn ausgehend Alle Geräte gepatcht', users.operator);
    const ref = created.ref!;
    // Two faults: the executor's one read of the gateway before it sends (unreadable: every call is sent),
    // then the change itself.
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 409, count: 2 });
    await click(t, 'request.confirm', { ...ref }, users.approver2);
    const { request, version } = await settled(ref.requestId);
    assert.equal(request.state, 'partially_failed');
    const card = await click(t, 'request.view', { requestId: ref.requestId, version }, users.operator);
    assert.match(card.text, /fehlgeschlagen/);
    assert.deepEqual(findInternals(card.text), [], card.text);
    assert.doesNotMatch(card.text, /\/gateway\/v1|PATCH|answered/, card.text);
  });
});
