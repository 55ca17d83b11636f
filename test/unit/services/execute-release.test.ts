import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { LagebotError } from '../../../src/domain/errors.ts';
import type { ReleaseRequest } from '../../../src/domain/release-request.ts';
import { fourLevelRegions } from '../../fixtures/four-level-estate.ts';
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

describe('a large request', () => {
  // Bonn with 200 mail domains: a Regierungsbezirk's worth of changes in one request.
  const DOMAINS = 200;
  const bigEstate = fourLevelRegions.map((n) =>
    n.name === 'Bonn'
      ? { ...n, domains: [...n.domains, ...Array.from({ length: DOMAINS - 1 }, (_, i) => `bonn-${i}.nrw.example`)] }
      : n,
  );

  async function approvedBonn(c: ReleaseCore): Promise<ReleaseRequest> {
    const outcome = await c.service.requestFromWords(
      callers.operator,
      'release',
      'Bonn eingehend alles gepatcht'.split(' '),
    );
    assert.equal(outcome.kind, 'created');
    const { request, version } = outcome as Extract<typeof outcome, { kind: 'created' }>;
    assert.equal(request.scope.domains.length, DOMAINS);
    const approved = await c.service.act(callers.approver2, request.id, version, 'approve');
    assert.equal(approved.kind, 'ok');
    return (approved as Extract<typeof approved, { kind: 'ok' }>).request;
  }

  /**
   * Wraps the gateway's changeDomain: counts the calls in flight, remembers each call's key and whether
   * the gateway answered it as a replay; `hold()` makes further calls wait until `release(error)`.
   */
  function watchGateway(c: ReleaseCore) {
    const original = c.gateway.changeDomain.bind(c.gateway);
    const watch = {
      inFlight: 0,
      peak: 0,
      keys: [] as string[],
      replays: 0,
      held: [] as Array<(error: Error) => void>,
      holding: false,
      hold() {
        watch.holding = true;
      },
      /** Fails every held call with a timeout (the answer never came) and stops holding. */
      release() {
        watch.holding = false;
        for (const fail of watch.held.splice(0)) fail(new LagebotError('UPSTREAM_TIMEOUT', 'held call dropped'));
      },
    };
    c.gateway.changeDomain = async (change) => {
      watch.inFlight++;
      watch.peak = Math.max(watch.peak, watch.inFlight);
      watch.keys.push(change.idempotencyKey);
      try {
        if (watch.holding) await new Promise<never>((_, reject) => watch.held.push(reject));
        // One turn of the event loop, so that calls started together overlap.
        await new Promise((resolve) => setImmediate(resolve));
        const result = await original(change);
        if (result.replayed) watch.replays++;
        return result;
      } finally {
        watch.inFlight--;
      }
    };
    return watch;
  }

  function settledIn(request: ReleaseRequest): number {
    return Object.values(request.execution?.domains ?? {}).filter((d) => d.status !== 'pending').length;
  }

  test('at most GATEWAY_CONCURRENCY calls at once; every domain once; its outcomes in a bounded number of writes', async () => {
    const big = await startReleaseCore({ regions: bigEstate, gatewayConcurrency: 5 });
    try {
      const watch = watchGateway(big);
      const request = await approvedBonn(big);
      const before = big.transitions.length;
      await big.executor.run(request.id);
      assert.ok(await big.executor.idle());
      assert.equal((await big.service.get(request.id))!.request.state, 'executed');
      assert.equal(watch.peak, 5, 'the bound is reached and never passed');
      const counts = big.gateway.changesFor(request.id);
      assert.equal(counts.size, DOMAINS);
      assert.ok([...counts.values()].every((n) => n === 1));
      assert.ok(watch.keys.every((k) => k === `${request.id}:${k.split(':')[1]}:apply`));
      // One request write per domain made a release of n domains cost O(n²): now about 16 writes, each
      // with at least ceil(200 / 16) = 13 outcomes but the last.
      const writes = big.transitions.slice(before).filter((t) => t.request.id === request.id).length;
      assert.ok(writes >= 2 && writes <= 16, `${writes} request writes for ${DOMAINS} outcomes`);
      const audit = await big.store.listAudit({ requestId: request.id, limit: 1000 });
      const succeeded = audit.filter((a) => a.action === 'release.domain_succeeded');
      assert.equal(new Set(succeeded.map((a) => (a.details as { domain: string }).domain)).size, DOMAINS);
      assert.ok(
        succeeded.every((a) => {
          const { domain, gateway } = a.details as { domain: string; gateway: { key: string; changed: boolean } };
          return gateway.key === `${request.id}:${domain}:apply` && gateway.changed === true;
        }),
        'each domain audited with its own outcome and key',
      );
      assert.ok((await big.store.listOutboxForRequest(request.id)).every((r) => r.status === 'succeeded'));
      assert.deepEqual(await big.store.verifyAuditChain().then((v) => v.ok), true);
    } finally {
      await big.close();
    }
  });

  test('a one-domain block confirmed during the release gets the next free slot, not a place behind it', async () => {
    const big = await startReleaseCore({ regions: bigEstate, gatewayConcurrency: 2 });
    try {
      // Every call waits at a gate the test opens one call at a time.
      const original = big.gateway.changeDomain.bind(big.gateway);
      const started: string[] = [];
      const gate: Array<() => void> = [];
      let open = false;
      big.gateway.changeDomain = async (change) => {
        started.push(change.idempotencyKey);
        if (!open) await new Promise<void>((resolve) => gate.push(resolve));
        return original(change);
      };
      const until = async (condition: () => boolean) => {
        while (!condition()) await new Promise((resolve) => setImmediate(resolve));
      };
      const release = await approvedBonn(big);
      void big.executor.run(release.id);
      await until(() => started.length === 2);

      const asked = await big.service.requestFromWords(
        callers.operator,
        'block',
        'siegburg.nrw.example eingehend Spam-Welle'.split(' '),
      );
      assert.equal(asked.kind, 'created');
      const { request: block, version } = asked as Extract<typeof asked, { kind: 'created' }>;
      const confirmed = await big.service.act(callers.operator, block.id, version, 'confirm_block');
      assert.equal(confirmed.kind, 'ok');
      void big.executor.run(block.id);
      // Let the block's run read, claim and queue its one call behind the release's 198.
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(started.length, 2, 'both slots still held by the release');

      gate.shift()!();
      await until(() => started.length === 3);
      assert.ok(started[2]!.startsWith(`${block.id}:`), `the freed slot went to ${started[2]}`);

      open = true;
      for (const resolve of gate.splice(0)) resolve();
      assert.ok(await big.executor.idle());
      assert.equal((await big.service.get(block.id))!.request.state, 'executed');
      assert.equal((await big.service.get(release.id))!.request.state, 'executed');
    } finally {
      await big.close();
    }
  });

  test('killed mid-release with applied changes not yet recorded: the next process records each once, resending only with the same key', async () => {
    const big = await startReleaseCore({ regions: bigEstate, gatewayConcurrency: 4 });
    const watch = watchGateway(big);
    const a = big.executor;
    try {
      const request = await approvedBonn(big);
      // Process a: after 50 changes the gateway stops answering; a's four slots hang on it.
      const original = big.gateway.changeDomain;
      let calls = 0;
      big.gateway.changeDomain = async (change) => {
        if (++calls > 50) watch.hold();
        return original(change);
      };
      void a.run(request.id);
      while (watch.held.length < 4) await new Promise((resolve) => setImmediate(resolve));
      // Let a batch write under way finish (the in-memory store answers within a few turns).
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
      const applied = big.gateway.changesFor(request.id).size;
      const recorded = settledIn((await big.service.get(request.id))!.request);
      assert.equal(applied, 50);
      assert.ok(recorded < applied, `killed with ${applied - recorded} applied changes not yet recorded`);
      const rows = await big.store.listOutboxForRequest(request.id);
      assert.equal(rows.filter((r) => r.status === 'succeeded').length, recorded, 'outbox and request agree');

      // a is gone (SIGKILL: nothing of it runs again); its claims expire; b starts.
      big.gateway.changeDomain = original;
      watch.holding = false;
      big.advance(2);
      const b = big.newExecutor('replica-b');
      assert.equal(await b.resumeAll(), 1);
      assert.ok(await b.idle());
      const done = (await big.service.get(request.id))!.request;
      assert.equal(done.state, 'executed');
      const counts = big.gateway.changesFor(request.id);
      assert.equal(counts.size, DOMAINS);
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'no domain changed twice',
      );
      assert.ok(
        watch.keys.every((k) => k === `${request.id}:${k.split(':')[1]}:apply`),
        'one key per domain',
      );
      assert.ok(watch.replays >= applied - recorded, 'the unrecorded ones were replays at the gateway');
      const audit = await big.store.listAudit({ requestId: request.id, limit: 1000 });
      const outcomes = audit.filter((x) => x.action === 'release.domain_succeeded');
      assert.equal(outcomes.length, DOMAINS, 'one outcome entry per domain');
      assert.equal(new Set(outcomes.map((x) => (x.details as { domain: string }).domain)).size, DOMAINS);
    } finally {
      // Only now may a's hung calls end (as timeouts), so that the process can be closed.
      const closing = a.close();
      watch.release();
      await closing;
      await big.close();
    }
  });
});
