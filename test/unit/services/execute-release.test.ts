import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ReleaseRequest } from '../../../src/domain/release-request.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';

// The exactly-once executor at the service tier: gateway errors, lost answers, refusals, a restart
// and a second replica — each must end in one recorded outcome and one change per domain. The gateway
// is the in-memory one with scripted faults; executor.idle() is the hook that says everything settled.

let core: ReleaseCore;
beforeEach(async () => {
  core = await startReleaseCore();
});
afterEach(() => core.close());

/** A confirmed release of the Regierungsbezirk Arnsberg (7 domains), not yet executed. */
async function approvedRelease(): Promise<ReleaseRequest> {
  const outcome = await core.service.requestFromWords(
    callers.operator,
    'release',
    'Regierungsbezirk Arnsberg eingehend alles gepatcht'.split(' '),
  );
  assert.equal(outcome.kind, 'created');
  const { request, version } = outcome as Extract<typeof outcome, { kind: 'created' }>;
  const approved = await core.service.act(callers.approver2, request.id, version, 'approve');
  assert.equal(approved.kind, 'ok');
  return (approved as Extract<typeof approved, { kind: 'ok' }>).request;
}

async function stateOf(requestId: string) {
  return (await core.service.get(requestId))!.request;
}

function assertChangedOnce(request: ReleaseRequest) {
  const counts = core.gateway.changesFor(request.id);
  assert.deepEqual([...counts.keys()].sort(), [...request.scope.domains].sort(), 'every domain changed');
  for (const [domain, n] of counts) assert.equal(n, 1, `${domain} changed ${n} times`);
}

async function assertInboundOpen(request: ReleaseRequest) {
  for (const d of request.scope.domains) assert.equal((await core.gateway.getDomain(d)).inbound, 'open', d);
}

describe('execution', () => {
  test('every domain once, with its idempotency key; the request ends "executed"', async () => {
    const request = await approvedRelease();
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
    await assertInboundOpen(request);
    assert.ok(core.gateway.changes.every((c) => c.idempotencyKey === `${request.id}:${c.domain}:apply`));
    const rows = await core.store.listOutboxForRequest(request.id);
    assert.ok(rows.every((r) => r.status === 'succeeded'));
    // Run again (a second click, the sweep): nothing more happens.
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assertChangedOnce(request);
  });

  test('the gateway down for a while: "will retry" per domain, still executing, then done once each', async () => {
    const request = await approvedRelease();
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_UNAVAILABLE', count: 20 });
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
    assert.deepEqual(new Set(core.retrying.map(([, d]) => d)), new Set(request.scope.domains), 'each said "retrying"');
    assert.ok(core.retrying.every(([id]) => id === request.id));
  });

  test('answers lost after the gateway applied the change: the repeat is a replay, not a second change', async () => {
    const request = await approvedRelease();
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_TIMEOUT', count: 4, afterApplying: true });
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
  });

  test('a refusal (409): the domain fails with its code; "retry failed" finishes it once', async () => {
    const request = await approvedRelease();
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_CONFLICT', count: 2 });
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    const failed = (await core.service.get(request.id))!;
    assert.equal(failed.request.state, 'partially_failed');
    const errors = Object.values(failed.request.execution!.domains).filter((d) => d.status === 'failed');
    assert.equal(errors.length, 2);
    assert.ok(errors.every((d) => d.error === 'UPSTREAM_CONFLICT'));

    const retried = await core.service.act(callers.operator, request.id, failed.version, 'retry_failed');
    assert.equal(retried.kind, 'ok');
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
    const keys = (await core.store.listOutboxForRequest(request.id)).map((r) => r.key);
    assert.equal(keys.filter((k) => k.endsWith('#2')).length, 2, 'a new outbox row per retried attempt');
  });

  test('the answer lost, then the repeat refused before the idempotency check: recorded done, not failed', async () => {
    const request = await approvedRelease();
    const [domain] = request.scope.domains;
    // The change applied with its answer lost; the repeat meets a refusal (a rotated token: 403).
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_TIMEOUT', count: 1, afterApplying: true, domain });
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', count: 1, domain });
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
    const rows = await core.store.listOutboxForRequest(request.id);
    const verified = rows.filter((r) => (r.result as { verifiedAfterError?: string } | null)?.verifiedAfterError);
    assert.equal(verified.length, 1, `one domain (${domain}) recorded from its state after the refusal`);
    assert.equal((verified[0]!.result as { verifiedAfterError: string }).verifiedAfterError, 'UPSTREAM_REJECTED');
  });

  test('a refusal for a change that is not in effect stays failed, with the provider’s message in the audit log', async () => {
    const request = await approvedRelease();
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', count: 1 });
    await core.executor.run(request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(request.id)).state, 'partially_failed');
    const audit = await core.store.listAudit({ requestId: request.id, limit: 100 });
    const failed = audit.find((a) => a.action === 'release.domain_failed')!;
    assert.match(String((failed.details as { gatewayError?: unknown }).gatewayError), /injected UPSTREAM_REJECTED/);
  });
});

describe('restarts and replicas', () => {
  test('a process that stopped after the approval: the next one resumes and changes each domain once', async () => {
    const request = await approvedRelease();
    // The first process never ran it (it crashed right after writing the intents).
    const restarted = core.newExecutor('replica-a');
    assert.equal(await restarted.resumeAll(), 1);
    assert.ok(await restarted.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
  });

  test('crashed mid-way with claims held: another replica takes over once the claims expire', async () => {
    const request = await approvedRelease();
    // Replica a claims every item and dies before calling the gateway.
    for (const row of await core.store.listOutboxForRequest(request.id)) {
      assert.ok(await core.store.claimOutbox(row.key, 'replica-a', core.now().toISOString(), 60_000));
    }
    const b = core.newExecutor('replica-b');
    await b.resumeAll();
    assert.ok(await b.idle());
    assert.equal(core.gateway.changes.length, 0, 'claims of a live replica are respected');
    assert.equal((await stateOf(request.id)).state, 'executing');
    core.advance(2);
    await b.resumeAll();
    assert.ok(await b.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
  });

  test('close(): retries waiting for a dead gateway are dropped, the intents stay for the next start', async () => {
    const request = await approvedRelease();
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_UNAVAILABLE' });
    void core.executor.run(request.id);
    // Until the first retry is announced, the executor is at work; then it only waits and retries.
    while (core.retrying.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await core.executor.close();
    const calls = core.gateway.calls.length;
    assert.ok(await core.executor.idle(), 'nothing left in flight after close');
    assert.equal(core.gateway.calls.length, calls, 'no call after close');
    assert.equal((await stateOf(request.id)).state, 'executing');
    assert.ok((await core.store.listOutboxForRequest(request.id)).every((r) => r.status === 'pending'));

    core.gateway.clearFaults();
    const next = core.newExecutor('replica-a');
    assert.equal(await next.resumeAll(), 1);
    assert.ok(await next.idle());
    assert.equal((await stateOf(request.id)).state, 'executed');
    assertChangedOnce(request);
  });
});
