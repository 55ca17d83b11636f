import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSimServer } from '../../src/sim/server.ts';
import { invoke, message, post, users } from '../fakes/activities.ts';
import { cardOf, FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { hasSimFault, setSimFault } from '../fakes/set-sim-fault.ts';
import { recordedWaits } from '../helpers/recorded-waits.ts';
import {
  advanceToMondayAfternoon,
  click,
  gatewayAudit,
  gatewayDomains,
  requestFrom,
  writeTestRoles,
} from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// Nothing may be lost or done twice (docs/architecture.md, "Exactly once"): gateway errors, lost answers,
// conflicts and a bot killed between confirmation and execution each end in exactly one change per domain.

function changesPerDomain(audit: Awaited<ReturnType<typeof gatewayAudit>>, requestId: string) {
  const counts = new Map<string, number>();
  for (const a of audit) {
    if (a.idempotencyKey?.startsWith(`${requestId}:`)) counts.set(a.domain, (counts.get(a.domain) ?? 0) + 1);
  }
  return counts;
}

describe('gateway faults during execution', () => {
  let t: TestBot;
  before(async () => {
    // The gateway client's waits before a retry (Retry-After: 1 from the faulted simulator, or its backoff)
    // are recorded, not sat out: what the client decides is in the test, not its timer.
    t = await startTestBot(
      { ROLES_FILE: writeTestRoles(), UPSTREAM_TIMEOUT_MS: '1000' },
      {},
      { upstreamSleep: recordedWaits().sleep },
    );
    await advanceToMondayAfternoon(t);
  });
  after(async () => {
    await t?.close();
  });

  // Kreis Soest, inbound.
  test('500s: every domain changes exactly once', async () => {
    const { ref } = await requestFrom(t, 'freigabe Kreis Soest eingehend Alles gepatcht', users.operator);
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 500, rate: 0.4, count: 6 });
    await click(t, 'request.confirm', { ...ref! }, users.approver2);
    await waitUntil(async () => !(await hasSimFault(t.simUrl, 'gateway')), 'six 500s answered', 30_000);
    assert.ok(await t.bot.executor.idle(60_000), 'execution finished');
    const request = (await t.bot.release.get(ref!.requestId))!.request;
    assert.equal(request.state, 'executed');
    const soest = (await gatewayDomains(t, 'vb-nord')).filter((d) => request.scope.domains.includes(d.domain));
    assert.equal(soest.length, request.scope.domains.length);
    assert.ok(soest.every((d) => d.inbound === 'open'));
    const counts = changesPerDomain(await gatewayAudit(t), ref!.requestId);
    for (const d of request.scope.domains) assert.equal(counts.get(d), 1, `${d} changed ${counts.get(d)} times`);
  });

  // The Hochsauerlandkreis, outbound: the answers get lost after the change was applied, the case
  // idempotency keys exist for. The client gives up after 1 s, the gateway answers after 1.5 s.
  test('lost answers: every domain changes exactly once', async () => {
    const { ref } = await requestFrom(t, 'freigabe Hochsauerlandkreis ausgehend Alles gepatcht', users.operator);
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'timeout', ms: 1500, rate: 0.5, phase: 'after', count: 2 });
    await click(t, 'request.confirm', { ...ref! }, users.approver2);
    await waitUntil(async () => !(await hasSimFault(t.simUrl, 'gateway')), 'two answers lost', 30_000);
    assert.ok(await t.bot.executor.idle(60_000), 'execution finished');
    const request = (await t.bot.release.get(ref!.requestId))!.request;
    assert.equal(request.state, 'executed');
    const hsk = (await gatewayDomains(t, 'vb-nord')).filter((d) => request.scope.domains.includes(d.domain));
    assert.ok(hsk.length > 0 && hsk.every((d) => d.outbound === 'open'));
    const counts = changesPerDomain(await gatewayAudit(t), ref!.requestId);
    for (const d of request.scope.domains) assert.equal(counts.get(d), 1, `${d} changed ${counts.get(d)} times`);
  });

  test('409 from the gateway: failed domains are shown and "Fehlgeschlagene wiederholen" finishes them once', async () => {
    const { ref } = await requestFrom(t, 'freigabe Märkischer Kreis eingehend Alles gepatcht', users.operator);
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 409, rate: 1, count: 2 });
    await click(t, 'request.confirm', { ...ref! }, users.approver1);
    assert.ok(await t.bot.executor.idle(30_000));
    const failed = (await t.bot.release.get(ref!.requestId))!;
    assert.equal(failed.request.state, 'partially_failed');
    const card = await click(t, 'request.view', { requestId: ref!.requestId, version: failed.version }, users.operator);
    assert.match(card.text, /Fehlgeschlagene wiederholen/);
    assert.match(card.text, /fehlgeschlagen/);
    const retried = await click(
      t,
      'request.retry',
      { requestId: ref!.requestId, version: failed.version },
      users.operator,
    );
    assert.match(retried.text, /wird ausgeführt|ausgeführt/);
    assert.ok(await t.bot.executor.idle(30_000));
    const done = (await t.bot.release.get(ref!.requestId))!.request;
    assert.equal(done.state, 'executed');
    const counts = changesPerDomain(await gatewayAudit(t), ref!.requestId);
    for (const d of done.scope.domains) assert.equal(counts.get(d), 1, `${d} changed ${counts.get(d)} times`);
  });
  test('the answer lost after the change, then the repeat refused (403): recorded done, not failed', async () => {
    const { ref } = await requestFrom(t, 'freigabe Meschede eingehend Alles gepatcht', users.operator);
    assert.ok(ref, 'a request card');
    // The gateway applies the change, then holds its answer past the bot's 1 s timeout. (The first three
    // are the run's read of the domains, tried three times; the run then goes without it and sends the change.)
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'timeout', ms: 2500, rate: 1, phase: 'after', count: 4 });
    await click(t, 'request.confirm', { ...ref }, users.approver2);
    await waitUntil(
      async () => !(await hasSimFault(t.simUrl, 'gateway')),
      'the change reached the gateway',
      10_000,
      10,
    );
    // From now on the gateway refuses the next call before its idempotency check, as after a token
    // rotation: the client's repeat with the same Idempotency-Key meets it.
    await setSimFault(t.simUrl, { target: 'gateway', mode: 'error', status: 403, rate: 1, phase: 'before', count: 1 });
    assert.ok(await t.bot.executor.idle(30_000), 'execution finished');
    assert.equal(await hasSimFault(t.simUrl, 'gateway'), false, 'the repeat was refused');

    const request = (await t.bot.release.get(ref.requestId))!.request;
    assert.equal(request.state, 'executed');
    const [domain] = request.scope.domains;
    assert.equal(changesPerDomain(await gatewayAudit(t), ref.requestId).get(domain!), 1, 'changed once');
    assert.equal((await gatewayDomains(t, 'vb-nord')).find((d) => d.domain === domain)?.inbound, 'open');
    const rows = await t.bot.store.listOutboxForRequest(ref.requestId);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.status, 'succeeded');
    assert.equal((rows[0]!.result as { verifiedAfterError?: string }).verifiedAfterError, 'UPSTREAM_REJECTED');
  });
});

describe('a bot killed between confirmation and execution', () => {
  let sim: Awaited<ReturnType<typeof startSimServer>>;
  let connector: FakeBotConnector;
  let dataDir: string;
  const children: ChildProcess[] = [];
  before(async () => {
    sim = await startSimServer({ port: 0, speed: 0, seed: 42 });
    connector = await new FakeBotConnector().start();
    dataDir = mkdtempSync(join(tmpdir(), 'lagebot-kill-'));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await connector.close();
    await sim.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const roles = writeTestRoles();
  function startChild(): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bot-child.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        DATA_DIR: dataDir,
        INVENTORY_API_URL: `${sim.url}/inventory/v1`,
        GATEWAY_API_URL: `${sim.url}/gateway/v1`,
        ROLES_FILE: roles,
        REPLICA_ID: 'kill-test',
        UPSTREAM_TIMEOUT_MS: '1000',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\S+)/.exec(out);
        if (m) resolve({ child, url: m[1]! });
      });
      child.on('exit', (code) => reject(new Error(`bot child exited with ${code} before it was ready`)));
    });
  }

  test('restarted, it completes the change exactly once', async () => {
    const t = { simUrl: sim.url } as TestBot;
    await advanceToMondayAfternoon(t);
    const first = await startChild();
    const req = message('freigabe Hochsauerlandkreis eingehend Alles gepatcht', {
      serviceUrl: connector.url,
      user: users.operator,
    });
    assert.equal((await post(first.url, req)).status, 200);
    const replies = await connector.waitFor((calls) => calls.some((c) => c.method === 'POST'));
    const card = cardOf(replies.find((c) => c.method === 'POST')!.activity)!;
    const ref = (card.actions as Array<{ data: { requestId: string; version: number } }>)[0]!.data;

    // The gateway holds every call: the confirmation is recorded, the execution cannot finish.
    await setSimFault(sim.url, { target: 'gateway', mode: 'timeout', ms: 60_000, rate: 1 });
    const res = await post(
      first.url,
      invoke('request.confirm', ref, { serviceUrl: connector.url, user: users.approver2 }),
    );
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /wird ausgeführt/);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    await setSimFault(sim.url, { target: 'gateway', mode: 'none', rate: 1 });
    assert.ok(
      (await gatewayDomains(t, 'vb-nord')).every((d) => d.inbound === 'held'),
      'nothing applied before the restart',
    );

    const second = await startChild();
    // Another process: only what it does to the gateway can be watched.
    await waitUntil(
      async () => (await gatewayDomains(t, 'vb-nord')).filter((d) => d.inbound === 'open').length >= 13,
      'the restarted bot opened the Hochsauerlandkreis',
      30_000,
      200,
    );
    const counts = changesPerDomain(await gatewayAudit(t), ref.requestId);
    assert.ok(counts.size >= 13, `domains changed: ${counts.size}`);
    for (const [domain, n] of counts) assert.equal(n, 1, `${domain} changed ${n} times`);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});
