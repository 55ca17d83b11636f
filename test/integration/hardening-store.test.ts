import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { invoke, message, post, type TestUser, users } from '../fakes/activities.ts';
import { replyText } from '../fakes/fake-bot-connector.ts';
import { findInternals } from '../fakes/find-internals.ts';
import { clearSimFaults, hasSimFault, setSimFault } from '../fakes/set-sim-fault.ts';
import {
  advanceToMondayAfternoon,
  type CardRef,
  click,
  requestFrom,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { adminQuery, testDatabaseUrlFor, whenPostgresAnswers } from '../helpers/test-postgres.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// The store unreachable (docs/decisions/hardening.md): /readyz says 503, commands get a plain apology, nothing is half-written,
// and the bot works again when the store is back. The store is a PostgreSQL database of its own that
// the test takes away the realistic way: it stops accepting connections (ALTER DATABASE …
// ALLOW_CONNECTIONS false) and the bot's open connections are terminated (pg_terminate_backend), as
// a failover or a DBA's maintenance does.

const database = `lagebot_t_${randomBytes(5).toString('hex')}`;
const botUrl = testDatabaseUrlFor(database);

async function cutStore() {
  await adminQuery(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
  await adminQuery(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
}
async function restoreStore() {
  await adminQuery(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
}

function hardeningSuite() {
  let t: TestBot;
  before(async () => {
    await adminQuery(`CREATE DATABASE ${database}`);
    t = await startTestBot(
      { DATABASE_URL: botUrl, ROLES_FILE: writeTestRoles(), UPSTREAM_TIMEOUT_MS: '3000' },
      { devices: 2000 },
    );
    await advanceToMondayAfternoon(t);
  });
  after(async () => {
    await restoreStore().catch(() => {});
    await clearSimFaults(t.simUrl).catch(() => {});
    await t?.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  async function readyz() {
    const res = await fetch(`${t.botUrl}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
  }

  /** A chat message while the store is down: its one reply (typing indicators aside). */
  async function sayDown(text: string, user: TestUser) {
    const before = t.connector.calls.length;
    const res = await post(t.botUrl, message(text, { serviceUrl: t.connector.url, user }));
    assert.notEqual(res.status, 500, `${text}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(findInternals(JSON.stringify(res.body ?? '')), []);
    const isMessage = (c: { activity: Record<string, unknown> }) => c.activity.type === 'message';
    await t.connector.waitFor((calls) => calls.slice(before).some(isMessage), 15_000);
    const replies = t.connector.calls.slice(before).filter(isMessage);
    assert.equal(replies.length, 1, `${text}: one answer`);
    return replyText(replies[0]!.activity);
  }

  async function snapshot(refs: CardRef[]) {
    const requests = await Promise.all(refs.map((r) => t.bot.release.get(r.requestId)));
    const outbox = await Promise.all(refs.map((r) => t.bot.store.listOutboxForRequest(r.requestId)));
    return {
      requests: requests.map((r) => ({ state: r?.request.state, version: r?.version })),
      outbox: outbox.map((o) => o.length),
      all: (await t.bot.store.listRequests({ limit: 1000 })).length,
      audit: await t.bot.store.verifyAuditChain(),
      gatewayChanges: t.sim.audit({ limit: 1000 }).items.filter((a) => a.action === 'domain.change').length,
    };
  }

  describe('PostgreSQL store unreachable', () => {
    let release: CardRef;
    let block: CardRef;

    test('/readyz: 200 with the store up, 503 naming the store while it is down, 200 again after', async () => {
      assert.equal((await readyz()).status, 200);
      await cutStore();
      try {
        const down = await readyz();
        assert.equal(down.status, 503);
        assert.equal(down.body.status, 'not_ready');
        assert.notEqual(down.body.checks.store, 'ok');
        assert.equal(down.body.checks.inventory, 'ok');
        assert.equal(down.body.checks.gateway, 'ok');
        assert.doesNotMatch(JSON.stringify(down.body), /\n\s+at /, 'no stack trace');
      } finally {
        await restoreStore();
      }
      assert.equal((await readyz()).status, 200);
    });

    test('commands while it is down get a plain apology, and nothing is half-written', async () => {
      release = (await requestFrom(t, 'freigabe Kreis Soest eingehend Alle Geräte gepatcht', users.operator)).ref!;
      block = (await requestFrom(t, 'sperren olpe.de beides Spam-Welle', users.operator)).ref!;
      const before = await snapshot([release, block]);
      assert.deepEqual(
        before.requests.map((r) => r.state),
        ['pending', 'awaiting_confirmation'],
      );

      await cutStore();
      try {
        for (const [text, user] of [
          ['status Kreis Olpe', users.viewer],
          ['freigabe Hochsauerlandkreis eingehend Alle Geräte gepatcht', users.operator],
          ['sperren attendorn.de beides Spam-Welle', users.operator],
          ['anträge', users.viewer],
        ] as const) {
          const answer = await sayDown(text, user);
          assert.match(answer, /schiefgegangen|nicht erreichbar/, `${text}: ${answer}`);
          assert.deepEqual(findInternals(answer), [], answer);
        }
        // Card actions that would write: the approval of the release and the confirmation of the block.
        for (const [verb, ref, user] of [
          ['request.confirm', release, users.approver2],
          ['request.confirm_block', block, users.operator],
        ] as const) {
          const sent = t.connector.calls.length;
          const res = await post(t.botUrl, invoke(verb, { ...ref }, { serviceUrl: t.connector.url, user }));
          const body = JSON.stringify(res.body ?? '');
          assert.notEqual(res.status, 500, body);
          assert.doesNotMatch(body, /wird ausgeführt/, `${verb} must not look accepted`);
          assert.deepEqual(findInternals(body), []);
          // The user is told in plain words: in the card (invoke answer) or in the chat.
          let told = res.status === 200 ? body : '';
          if (!/schiefgegangen|nicht erreichbar/.test(told)) {
            await t.connector.waitFor((calls) => calls.slice(sent).some((c) => c.activity.type === 'message'), 15_000);
            told = t.connector.calls
              .slice(sent)
              .filter((c) => c.activity.type === 'message')
              .map((c) => replyText(c.activity))
              .join('\n');
          }
          assert.match(told, /schiefgegangen|nicht erreichbar/, `${verb}: ${told}`);
          assert.deepEqual(findInternals(told), []);
        }
      } finally {
        await restoreStore();
      }
      // Whatever the failed turns left running has finished.
      assert.ok(await t.bot.executor.idle(15_000));
      assert.ok(await t.bot.cards.flush());
      const afterwards = await snapshot([release, block]);
      assert.deepEqual(afterwards, before, 'no request, transition, audit entry, outbox row or gateway change');
      assert.ok(afterwards.audit.ok, 'the audit chain verifies');
    });

    test('a card action while the store is down is answered in the card, not with a bare 501', async () => {
      await cutStore();
      try {
        const res = await post(
          t.botUrl,
          invoke('request.confirm', { ...release }, { serviceUrl: t.connector.url, user: users.approver2 }),
        );
        assert.equal(res.status, 200);
        assert.match(JSON.stringify(res.body), /Zustandsspeicher ist nicht erreichbar|schiefgegangen/);
      } finally {
        await restoreStore();
      }
    });

    test('with the store back the same actions work and finish once', async () => {
      const confirmed = await click(t, 'request.confirm', { ...release }, users.approver2);
      assert.match(confirmed.text, /wird ausgeführt|ausgeführt/);
      const blocked = await click(t, 'request.confirm_block', { ...block }, users.operator);
      assert.match(blocked.text, /wird ausgeführt|ausgeführt/);
      assert.ok(await t.bot.executor.idle(20_000));
      for (const ref of [release, block]) {
        assert.equal((await t.bot.release.get(ref.requestId))!.request.state, 'executed');
      }
      assert.ok((await t.bot.store.verifyAuditChain()).ok);
    });

    test('an execution interrupted by a store outage finishes once the store is back', async () => {
      const ref = (await requestFrom(t, 'freigabe Hochsauerlandkreis eingehend Alle Geräte gepatcht', users.operator))
        .ref!;
      // The gateway holds each change for 1.5 s: the outage starts once every call is under way and lasts
      // until the gateway has applied them all, so no outcome can be recorded on time.
      const domains = (await t.bot.release.get(ref.requestId))!.request.scope.domains;
      await setSimFault(t.simUrl, { target: 'gateway', mode: 'latency', ms: 1500, count: domains.length });
      await click(t, 'request.confirm', { ...ref }, users.approver1);
      await waitUntil(async () => !(await hasSimFault(t.simUrl, 'gateway')), 'every change is under way');
      await cutStore();
      const applied = () =>
        t.sim
          .audit({ limit: 1000 })
          .items.filter((a) => a.action === 'domain.change' && a.idempotencyKey?.startsWith(`${ref.requestId}:`))
          .length;
      await waitUntil(() => applied() === domains.length, 'the gateway applied every change', 30_000);
      await clearSimFaults(t.simUrl);
      await restoreStore();
      assert.ok(await t.bot.executor.idle(30_000), 'the executor finished');
      assert.equal((await t.bot.release.get(ref.requestId))!.request.state, 'executed', 'the request left "executing"');
    });
  });
}

await whenPostgresAnswers('store unreachable (PostgreSQL)', hardeningSuite);
