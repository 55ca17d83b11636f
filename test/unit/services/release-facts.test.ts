import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Caller } from '../../../src/domain/caller.ts';
import type { ReleaseDirection, ReleaseRequest } from '../../../src/domain/release-request.ts';
import type { ActOutcome, RequestOutcome } from '../../../src/services/release-service.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';

// Every release is decided on current facts (docs/decisions/release-workflow.md): one open change per
// domain and direction, a block supersedes, the effect comes from the gateway, retries are decisions,
// refusals are cheap and audited. Service tier: in-memory store, gateway and inventory, injected clock.

const KREIS_UNNA = 'ags:05978';
const TOWN_UNNA = 'ags:05978036'; // unna.nrw.example, stadt-unna.nrw.example
const HSK = 'ags:05958';
const RHEIN_SIEG = 'ags:05382'; // below the policy when Siegburg has unpatched clients
const JUSTIFICATION = 'Lagebesprechung: Restrisiko bewusst akzeptiert';
const DAY = 24 * 60;

let core: ReleaseCore;
afterEach(() => core.close());

function created(outcome: RequestOutcome) {
  assert.equal(outcome.kind, 'created', JSON.stringify(outcome).slice(0, 300));
  return outcome as Extract<RequestOutcome, { kind: 'created' }>;
}

function ok(outcome: ActOutcome) {
  assert.equal(outcome.kind, 'ok', JSON.stringify(outcome).slice(0, 400));
  return outcome as Extract<ActOutcome, { kind: 'ok' }>;
}

function refusedWith(outcome: ActOutcome, code: string) {
  assert.equal(outcome.kind, 'refused', JSON.stringify(outcome).slice(0, 400));
  assert.equal(outcome.kind === 'refused' && outcome.refusal.code, code);
}

async function current(requestId: string) {
  return (await core.service.get(requestId))!;
}

async function stateOf(requestId: string): Promise<ReleaseRequest> {
  return (await current(requestId)).request;
}

function ask(
  scopeId: string,
  options: { kind?: 'release' | 'block'; direction?: ReleaseDirection; by?: Caller; domains?: string[] } = {},
) {
  return core.service.create(options.by ?? callers.operator, {
    kind: options.kind ?? 'release',
    scopeId,
    direction: options.direction ?? 'inbound',
    reason: 'Alle Clients gepatcht, abgestimmt',
    ...(options.domains ? { domains: options.domains } : {}),
  });
}

async function run(requestId: string) {
  await core.executor.run(requestId);
  assert.ok(await core.executor.idle());
  return stateOf(requestId);
}

/** A block of exactly these domains, confirmed and executed. */
async function block(domains: string[], scopeId = KREIS_UNNA): Promise<ReleaseRequest> {
  const { request: r, version } = created(await ask(scopeId, { kind: 'block', domains }));
  ok(await core.service.act(callers.approver1, r.id, version, 'confirm_block'));
  return run(r.id);
}

async function approveAndRun(requestId: string, by: Caller = callers.approver2, justification?: string) {
  const { version } = await current(requestId);
  ok(await core.service.act(by, requestId, version, 'approve', justification ? { justification } : {}));
  return run(requestId);
}

async function auditOf(requestId: string) {
  return core.store.listAudit({ requestId, limit: 200 });
}

async function inbound(domain: string) {
  return (await core.gateway.getDomain(domain)).inbound;
}

describe('one open change per domain and direction', () => {
  test('20 identical requests at once make one request; the others are answered with it', async () => {
    core = await startReleaseCore();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => ask(KREIS_UNNA)));
    const made = outcomes.filter((o) => o.kind === 'created');
    assert.equal(made.length, 1);
    const id = created(made[0]!).request.id;
    for (const o of outcomes.filter((o) => o.kind !== 'created')) {
      assert.equal(o.kind, 'existing');
      assert.equal(o.kind === 'existing' && o.request.id, id);
    }
    assert.equal((await core.store.listRequests()).length, 1);
  });

  test('a town request overlapping a Kreis request is refused with a pointer to it, and audited', async () => {
    core = await startReleaseCore();
    const kreis = created(await ask(KREIS_UNNA));
    const town = await ask(TOWN_UNNA, { by: callers.approver1 });
    assert.equal(town.kind, 'conflict');
    const conflict = town as Extract<RequestOutcome, { kind: 'conflict' }>;
    assert.equal(conflict.existing.id, kreis.request.id);
    assert.equal(conflict.existing.requester.name, 'Olaf Operator');
    assert.deepEqual(conflict.domains.sort(), ['stadt-unna.nrw.example', 'unna.nrw.example']);
    assert.equal((await core.store.listRequests()).length, 1);
    const log = await core.store.listAudit({ limit: 10 });
    assert.ok(log.some((e) => e.action === 'release.refused' && (e.details as { code: string }).code === 'overlap'));
    // Another direction is another change.
    assert.equal((await ask(TOWN_UNNA, { by: callers.approver1, direction: 'outbound' })).kind, 'created');
    // While the Kreis request executes it still holds its domains.
    ok(await core.service.act(callers.approver2, kreis.request.id, kreis.version, 'approve'));
    assert.equal((await ask(TOWN_UNNA, { by: callers.approver1, direction: 'both' })).kind, 'conflict');
    await core.executor.idle();
  });
});

describe('a block supersedes', () => {
  test('a pending release it covers ends "superseded", naming the block; approving it changes nothing', async () => {
    core = await startReleaseCore();
    const release = created(await ask(KREIS_UNNA));
    const other = created(await ask(HSK));
    const blocked = await block(['unna.nrw.example']);
    const superseded = await stateOf(release.request.id);
    assert.ok(superseded.state === 'superseded');
    assert.equal(superseded.supersession.requestId, blocked.id);
    assert.equal(superseded.supersession.by.name, 'Anna Approver');
    const topics = core.transitions
      .filter((t) => t.request.id === release.request.id)
      .flatMap((t) => t.effects.map((e) => (e.type === 'notify' ? e.topic : e.type)));
    assert.deepEqual(topics, ['superseded']);
    assert.ok((await auditOf(release.request.id)).some((e) => e.action === 'release.supersede'));
    assert.equal((await stateOf(other.request.id)).state, 'pending', 'a release it does not cover stays');
    const late = await core.service.act(
      callers.approver2,
      release.request.id,
      (await current(release.request.id)).version,
      'approve',
    );
    refusedWith(late, 'already_decided');
    assert.equal(await inbound('kreis-unna.nrw.example'), 'held', 'nothing was released');
    assert.equal(await inbound('unna.nrw.example'), 'blocked');
  });

  test('a release executing when the block comes finishes its calls first; the block has the last word', async () => {
    core = await startReleaseCore();
    const release = created(await ask(TOWN_UNNA));
    ok(await core.service.act(callers.approver2, release.request.id, release.version, 'approve'));
    // unna.nrw.example's release call times out twice before it goes through.
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_TIMEOUT', count: 2, domain: 'unna.nrw.example' });
    const blk = created(await ask(TOWN_UNNA, { kind: 'block', domains: ['unna.nrw.example'], by: callers.approver1 }));
    ok(await core.service.act(callers.operator, blk.request.id, blk.version, 'confirm_block'));
    // The block is handed out first; it must still come last.
    void core.executor.run(blk.request.id);
    void core.executor.run(release.request.id);
    assert.ok(await core.executor.idle());
    assert.equal((await stateOf(release.request.id)).state, 'executed');
    assert.equal((await stateOf(blk.request.id)).state, 'executed');
    const changes = core.gateway.changes.filter((c) => c.domain === 'unna.nrw.example');
    assert.equal(changes.at(-1)!.idempotencyKey.startsWith(`${blk.request.id}:`), true);
    assert.equal(await inbound('unna.nrw.example'), 'blocked');
    assert.equal(await inbound('stadt-unna.nrw.example'), 'open');
  });
});

describe('the effect comes from the gateway', () => {
  test('the approver sees how many domains change; a domain already open is not sent again', async () => {
    core = await startReleaseCore();
    await core.gateway.changeDomain({
      domain: 'unna.nrw.example',
      inbound: 'open',
      reason: 'von Hand',
      actor: 'Gateway-Admin',
      idempotencyKey: 'manual-1',
    });
    const r = created(await ask(KREIS_UNNA));
    const facts = await core.service.confirmFacts(callers.approver2, r.request.id);
    assert.ok(!('kind' in facts), JSON.stringify(facts).slice(0, 200));
    assert.deepEqual(facts.effect.already, ['unna.nrw.example']);
    assert.equal(facts.effect.toChange.length, 3);
    const done = await approveAndRun(r.request.id);
    assert.ok(done.state === 'executed');
    assert.equal(done.execution.domains['unna.nrw.example']!.unchanged, true);
    assert.deepEqual(core.gateway.changesFor(r.request.id).get('unna.nrw.example'), undefined, 'not sent again');
    assert.equal(core.gateway.changesFor(r.request.id).size, 3);
  });

  test('a request with nothing left to do ends without a gateway change', async () => {
    core = await startReleaseCore();
    for (const domain of ['unna.nrw.example', 'stadt-unna.nrw.example']) {
      await core.gateway.changeDomain({
        domain,
        inbound: 'open',
        reason: 'von Hand',
        actor: 'x',
        idempotencyKey: `m-${domain}`,
      });
    }
    const r = created(await ask(TOWN_UNNA));
    const facts = await core.service.confirmFacts(callers.approver2, r.request.id);
    assert.ok(!('kind' in facts));
    assert.deepEqual(facts.effect.toChange, []);
    const calls = core.gateway.calls.filter((c) => c === 'changeDomain').length;
    const done = await approveAndRun(r.request.id);
    assert.ok(done.state === 'executed');
    assert.ok(Object.values(done.execution.domains).every((d) => d.unchanged));
    assert.equal(core.gateway.calls.filter((c) => c === 'changeDomain').length, calls, 'no gateway change call');
  });
});

describe('retries are decisions too', () => {
  /** The stale retry: release fails for unna.nrw.example (422), an operator blocks it, days pass. */
  async function staleRetry(options: { retryWindowMinutes?: number } = {}) {
    core = await startReleaseCore(options);
    const r = created(await ask(TOWN_UNNA));
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', domain: 'unna.nrw.example' });
    const failed = await approveAndRun(r.request.id);
    assert.equal(failed.state, 'partially_failed');
    core.gateway.clearFaults();
    await block(['unna.nrw.example'], TOWN_UNNA);
    core.advance(3 * DAY);
    return r.request.id;
  }

  test('after the retry window the retry is refused in words, nothing changes, the refusal is audited', async () => {
    const id = await staleRetry();
    const before = core.gateway.changes.length;
    const retry = await core.service.act(callers.operator, id, (await current(id)).version, 'retry_failed');
    refusedWith(retry, 'retry_window_over');
    assert.equal(core.gateway.changes.length, before);
    assert.equal(await inbound('unna.nrw.example'), 'blocked');
    const log = await auditOf(id);
    assert.ok(
      log.some((e) => e.action === 'release.refused' && (e.details as { code: string }).code === 'retry_window_over'),
    );
    // The sweep ends it; the card keeps what was done.
    assert.equal(await core.service.expireDue(), 1);
    const expired = await stateOf(id);
    assert.ok(expired.state === 'expired' && expired.execution !== null);
  });

  test('within the window but after the lifetime: four eyes again, and the block since is skipped', async () => {
    const id = await staleRetry({ retryWindowMinutes: 7 * DAY });
    // Anna (operator and approver) asks for the retry: alone she changes nothing.
    const retry = ok(await core.service.act(callers.approver1, id, (await current(id)).version, 'retry_failed'));
    assert.equal(retry.request.state, 'retry_pending');
    assert.equal(
      retry.effects.some((e) => e.type === 'execute'),
      false,
    );
    refusedWith(await core.service.act(callers.approver1, id, retry.version, 'approve'), 'self_approval');
    const done = await approveAndRun(id, callers.approver2);
    assert.ok(done.state === 'executed');
    assert.equal(done.execution.domains['unna.nrw.example']!.status, 'skipped');
    assert.equal(await inbound('unna.nrw.example'), 'blocked', 'the later block stands');
    assert.equal(core.gateway.changesFor(id).get('unna.nrw.example'), undefined);
  });

  test('a failed domain nobody touched since is retried with its key, when policy and lifetime allow', async () => {
    core = await startReleaseCore();
    const r = created(await ask(TOWN_UNNA));
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', domain: 'unna.nrw.example' });
    await approveAndRun(r.request.id);
    core.gateway.clearFaults();
    refusedWith(
      await core.service.act(callers.viewer, r.request.id, (await current(r.request.id)).version, 'retry_failed'),
      'not_operator',
    );
    ok(await core.service.act(callers.operator, r.request.id, (await current(r.request.id)).version, 'retry_failed'));
    const done = await run(r.request.id);
    assert.equal(done.state, 'executed');
    assert.equal(await inbound('unna.nrw.example'), 'open');
    assert.ok(core.gateway.changes.some((c) => c.idempotencyKey === `${r.request.id}:unna.nrw.example:apply`));
  });

  test('below the policy a retry needs two approvers and a justification', async () => {
    core = await startReleaseCore();
    const r = created(await ask(RHEIN_SIEG, { domains: ['troisdorf.nrw.example', 'rhein-sieg.nrw.example'] }));
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', domain: 'troisdorf.nrw.example' });
    assert.equal((await approveAndRun(r.request.id)).state, 'partially_failed');
    core.gateway.clearFaults();
    // A Troisdorf client fell back: the Kreis no longer meets the policy.
    core.inventory.setState('dev-05382068-c0', 'outlook-2024-02', 'failed');
    const retry = ok(
      await core.service.act(callers.operator, r.request.id, (await current(r.request.id)).version, 'retry_failed'),
    );
    assert.ok(retry.request.state === 'retry_pending');
    assert.equal(retry.request.execution.pendingRetry!.requiredApprovals, 2);
    refusedWith(
      await core.service.act(callers.approver2, r.request.id, retry.version, 'approve'),
      'justification_required',
    );
    const one = ok(
      await core.service.act(callers.approver2, r.request.id, retry.version, 'approve', {
        justification: JUSTIFICATION,
      }),
    );
    assert.equal(one.request.state, 'retry_pending');
    assert.equal(await inbound('troisdorf.nrw.example'), 'held');
    ok(await core.service.act(callers.approver1, r.request.id, one.version, 'approve'));
    const done = await run(r.request.id);
    assert.equal(done.state, 'executed');
    assert.equal(await inbound('troisdorf.nrw.example'), 'open');
    // A new decision, a new key: the gateway records who decided the retry.
    const change = core.gateway.changes.find(
      (c) => c.idempotencyKey === `${r.request.id}:troisdorf.nrw.example:apply:r2`,
    );
    assert.ok(change);
  });
});

describe('cheap refusals', () => {
  test('a click by someone without the role is refused before any back-end call, and audited', async () => {
    core = await startReleaseCore();
    const r = created(await ask(KREIS_UNNA));
    const inventoryCalls = core.inventory.calls.length;
    const gatewayCalls = core.gateway.calls.length;
    const facts = await core.service.confirmFacts(callers.viewer, r.request.id);
    assert.equal('kind' in facts && facts.kind, 'refused');
    refusedWith(await core.service.act(callers.viewer, r.request.id, r.version, 'approve'), 'not_approver');
    refusedWith(await core.service.act(callers.operator, r.request.id, r.version, 'approve'), 'not_approver');
    assert.equal(core.inventory.calls.length, inventoryCalls);
    assert.equal(core.gateway.calls.length, gatewayCalls);
    const refusals = (await auditOf(r.request.id)).filter((e) => e.action === 'release.refused');
    assert.equal(refusals.length, 3);
  });

  test('below the policy both approvers’ justifications are on the request and in the audit log', async () => {
    core = await startReleaseCore({ unpatchedClients: { 'ags:05382060': 2 } });
    const r = created(await ask(RHEIN_SIEG));
    assert.equal(r.request.requiredApprovals, 2);
    refusedWith(
      await core.service.act(callers.approver1, r.request.id, r.version, 'approve'),
      'justification_required',
    );
    const first = ok(
      await core.service.act(callers.approver2, r.request.id, r.version, 'approve', { justification: JUSTIFICATION }),
    );
    assert.equal(first.request.state, 'pending');
    const second = 'Zweite Prüfung: Siegburg ist isoliert';
    const done = ok(
      await core.service.act(callers.approver1, r.request.id, first.version, 'approve', { justification: second }),
    );
    assert.deepEqual(
      done.request.approvals.map((a) => a.justification),
      [JUSTIFICATION, second],
    );
    const log = (await auditOf(r.request.id)).filter((e) => e.action === 'release.approve');
    assert.deepEqual(
      log.map((e) => (e.details as { justification: string }).justification).sort(),
      [JUSTIFICATION, second].sort(),
    );
    await core.executor.idle();
  });
});
