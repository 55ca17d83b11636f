import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bulkChangeResult,
  domainChangeResult,
  domainState,
  gatewayAuditPage,
  queueList,
} from '../../../src/contracts/gateway.ts';
import { createSimulator, type Simulator } from '../../../src/sim/simulator.ts';

const change = (over: Record<string, unknown> = {}) => ({
  inbound: 'open' as const,
  reason: 'fully patched',
  actor: 'op-1',
  ...over,
});

function inboundQueue(sim: Simulator, domain: string) {
  return sim.queues({ domain }).find((q) => q.direction === 'inbound')!;
}

describe('gateway: changes, idempotency, If-Match', () => {
  test('a change bumps the version, records who and why, and is audited', () => {
    const sim = createSimulator({ speed: 0 });
    sim.advance(10);
    const r = domainChangeResult.parse(sim.changeDomain('olpe.de', change(), { idempotencyKey: 'k-1' }));
    assert.equal(r.changed, true);
    assert.equal(r.replayed, false);
    assert.equal(r.domain.inbound, 'open');
    assert.equal(r.domain.outbound, 'held');
    assert.equal(r.domain.version, 2);
    assert.equal(r.domain.changedBy, 'op-1');
    assert.equal(r.domain.changedAt, '2024-02-15T17:10:00.000Z');
    const entries = sim.audit().items.filter((e) => e.action === 'domain.change');
    assert.deepEqual(entries, [
      {
        id: entries[0]!.id,
        at: '2024-02-15T17:10:00.000Z',
        actor: 'op-1',
        action: 'domain.change',
        domain: 'olpe.de',
        before: { inbound: 'held', outbound: 'held' },
        after: { inbound: 'open', outbound: 'held' },
        reason: 'fully patched',
        idempotencyKey: 'k-1',
      },
    ]);
    assert.deepEqual(sim.domain('OLPE.DE'), r.domain);
  });

  test('same key and body: the first answer is replayed, nothing changes twice', () => {
    const sim = createSimulator({ speed: 0 });
    const first = sim.changeDomain('olpe.de', change(), { idempotencyKey: 'k-1' });
    sim.changeDomain('olpe.de', change({ inbound: 'blocked' }), { idempotencyKey: 'k-2' });
    const auditBefore = sim.audit().items.length;
    const again = sim.changeDomain('olpe.de', change(), { idempotencyKey: 'k-1' });
    assert.equal(again.replayed, true);
    assert.deepEqual({ ...again, replayed: false }, first);
    assert.equal(sim.domain('olpe.de').inbound, 'blocked', 'the replay did not re-apply the change');
    assert.equal(sim.domain('olpe.de').version, 3);
    assert.equal(sim.audit().items.length, auditBefore);
  });

  test('same key, different body or domain: 422 idempotency_key_reused', () => {
    const sim = createSimulator({ speed: 0 });
    sim.changeDomain('olpe.de', change(), { idempotencyKey: 'k-1' });
    assert.throws(() => sim.changeDomain('olpe.de', change({ reason: 'another reason' }), { idempotencyKey: 'k-1' }), {
      status: 422,
      code: 'idempotency_key_reused',
    });
    assert.throws(() => sim.changeDomain('wenden.de', change(), { idempotencyKey: 'k-1' }), {
      status: 422,
      code: 'idempotency_key_reused',
    });
    assert.equal(sim.domain('wenden.de').version, 1);
  });

  test('If-Match: a stale version is refused with 409, the current one applies', () => {
    const sim = createSimulator({ speed: 0 });
    sim.changeDomain('siegen.de', change(), { idempotencyKey: 'a' });
    assert.throws(
      () => sim.changeDomain('siegen.de', change({ inbound: 'blocked' }), { idempotencyKey: 'b', ifMatch: 1 }),
      (e: { status: number; code: string; details: { currentVersion: number } }) =>
        e.status === 409 && e.code === 'version_conflict' && e.details.currentVersion === 2,
    );
    assert.equal(sim.domain('siegen.de').inbound, 'open');
    // The refused attempt is not stored under its key: a retry with the right version succeeds.
    const r = sim.changeDomain('siegen.de', change({ inbound: 'blocked' }), { idempotencyKey: 'b', ifMatch: 2 });
    assert.equal(r.domain.inbound, 'blocked');
    assert.equal(r.domain.version, 3);
  });

  test('a change to the current state is reported unchanged and keeps the version', () => {
    const sim = createSimulator({ speed: 0 });
    const r = sim.changeDomain('olpe.de', change({ inbound: 'held', outbound: 'held' }), { idempotencyKey: 'x' });
    assert.equal(r.changed, false);
    assert.equal(r.domain.version, 1);
    assert.equal(sim.audit().items.length, 0);
  });

  test('unknown domain: 404 domain_not_found', () => {
    const sim = createSimulator({ speed: 0 });
    assert.throws(() => sim.domain('example.org'), { status: 404, code: 'domain_not_found' });
    assert.throws(() => sim.changeDomain('example.org', change(), { idempotencyKey: 'x' }), { status: 404 });
  });

  test('domain listing filters by region; wrong ids are 404', () => {
    const sim = createSimulator({ speed: 0 });
    const olpe = sim.domains({ kreis: 'kr-olpe' }).map((d) => domainState.parse(d).domain);
    assert.deepEqual(olpe, [
      'attendorn.de',
      'drolshagen.de',
      'finnentrop.de',
      'kirchhundem.de',
      'kreis-olpe.de',
      'lennestadt.de',
      'olpe.de',
      'wenden.de',
    ]);
    assert.deepEqual(
      sim.domains({ municipality: 'ko-olpe' }).map((d) => d.domain),
      ['olpe.de'],
    );
    assert.equal(sim.domains({ verband: 'vb-nord' }).length, 44);
    assert.throws(() => sim.domains({ kreis: 'ko-olpe' }), { status: 404, code: 'region_not_found' });
  });
});

describe('gateway: bulk changes', () => {
  test('a selector changes each domain once, per-domain results, replay by key', () => {
    const sim = createSimulator({ speed: 0 });
    const body = {
      selector: { kreis: 'kr-olpe' },
      inbound: 'open' as const,
      reason: 'Kreis Olpe patched',
      actor: 'op-1',
    };
    const r = bulkChangeResult.parse(sim.bulkChange(body, 'bulk-1'));
    assert.equal(r.replayed, false);
    assert.equal(r.results.length, 8);
    assert.ok(r.results.every((x) => x.status === 'changed' && x.version === 2 && x.error === null));
    const audit = sim.audit().items;
    assert.equal(audit.length, 8);
    assert.ok(audit.every((e) => e.idempotencyKey === `bulk-1:${e.domain}`));
    const again = sim.bulkChange(body, 'bulk-1');
    assert.equal(again.replayed, true);
    assert.deepEqual(again.results, r.results);
    assert.equal(sim.audit().items.length, 8);
    assert.throws(() => sim.bulkChange({ ...body, inbound: 'blocked' }, 'bulk-1'), { status: 422 });
  });

  test('the per-domain key "<key>:<domain>" is shared with single changes', () => {
    const sim = createSimulator({ speed: 0 });
    const body = {
      selector: { domains: ['olpe.de', 'wenden.de'] },
      inbound: 'open' as const,
      reason: 'patched',
      actor: 'op',
    };
    sim.bulkChange(body, 'b');
    const single = sim.changeDomain(
      'olpe.de',
      { inbound: 'open', reason: 'patched', actor: 'op' },
      { idempotencyKey: 'b:olpe.de' },
    );
    assert.equal(single.replayed, true);
    assert.equal(sim.domain('olpe.de').version, 2);
  });

  test('unknown domains fail individually, the others apply; selectors combine', () => {
    const sim = createSimulator({ speed: 0 });
    const r = sim.bulkChange(
      {
        selector: { domains: ['olpe.de', 'nowhere.de', 'soest.de'], verband: 'vb-sued' },
        outbound: 'open',
        reason: 'test',
        actor: 'op',
      },
      'c',
    );
    const byDomain = Object.fromEntries(r.results.map((x) => [x.domain, x.status]));
    assert.deepEqual(byDomain, { 'nowhere.de': 'failed', 'olpe.de': 'changed' });
    assert.equal(sim.domain('soest.de').outbound, 'held');
  });
});

describe('gateway: held queues', () => {
  test('a held direction queues the domain’s non-spam mail, minute by minute', () => {
    const sim = createSimulator({ speed: 0 });
    sim.reset('feb-2024');
    assert.equal(inboundQueue(sim, 'siegen.de').held, 0);
    sim.advance(180);
    const q = queueList.parse({ items: sim.queues({ domain: 'siegen.de' }) }).items;
    const metrics = sim.spamMetrics({
      from: '2024-02-15T17:00:00Z',
      to: '2024-02-15T20:00:00Z',
      domains: ['siegen.de'],
    });
    const legit = metrics.series[0]!.points.reduce((s, p) => s + p.received - p.spam, 0);
    assert.ok(legit > 0);
    assert.equal(q.find((x) => x.direction === 'inbound')!.held, legit);
    assert.ok(q.find((x) => x.direction === 'outbound')!.held > 0);
    assert.ok(Date.parse(q[0]!.oldestAt!) >= Date.parse('2024-02-15T17:00:00Z'));
  });

  test('a spam spike grows the held queue by the non-spam share only', () => {
    const sim = createSimulator({ speed: 0, devices: 0 });
    sim.advance(15 * 60); // Friday 09:00 CET
    const before = inboundQueue(sim, 'siegen.de').held;
    sim.injectSpam({ domain: 'siegen.de', factor: 6, minutes: 30 });
    sim.advance(60);
    const metrics = sim.spamMetrics({
      from: '2024-02-16T08:00:00Z',
      to: '2024-02-16T09:00:00Z',
      domains: ['siegen.de'],
    });
    const points = metrics.series[0]!.points;
    assert.ok(points[0]!.spam > 0);
    assert.equal(
      inboundQueue(sim, 'siegen.de').held - before,
      points.reduce((s, p) => s + p.received - p.spam, 0),
    );
  });

  test('opening delivers the queue (released count audited); blocked does not queue', () => {
    const sim = createSimulator({ speed: 0 });
    sim.advance(240);
    const held = inboundQueue(sim, 'siegen.de').held;
    assert.ok(held > 0);
    sim.changeDomain('siegen.de', { inbound: 'open', reason: 'patched', actor: 'op' }, { idempotencyKey: 'open' });
    assert.deepEqual(inboundQueue(sim, 'siegen.de'), {
      domain: 'siegen.de',
      direction: 'inbound',
      held: 0,
      oldestAt: null,
    });
    const release = sim.audit().items.find((e) => e.action === 'queue.release')!;
    assert.equal(release.domain, 'siegen.de');
    assert.equal(release.idempotencyKey, 'open');
    assert.match(release.reason, new RegExp(`\\b${held}\\b`));
    sim.advance(120);
    assert.equal(inboundQueue(sim, 'siegen.de').held, 0, 'open mail is not queued');

    sim.changeDomain(
      'siegen.de',
      { inbound: 'blocked', reason: 'spam wave', actor: 'op' },
      { idempotencyKey: 'block' },
    );
    sim.advance(120);
    assert.equal(inboundQueue(sim, 'siegen.de').held, 0, 'blocked mail is rejected, not queued');
    sim.changeDomain('siegen.de', { inbound: 'held', reason: 'hold again', actor: 'op' }, { idempotencyKey: 'hold' });
    sim.advance(120);
    assert.ok(inboundQueue(sim, 'siegen.de').held > 0);
  });

  test('POST release delivers a held queue without changing the flow state; idempotent', () => {
    const sim = createSimulator({ speed: 0 });
    sim.advance(300);
    const held = sim.queues({ domain: 'olpe.de' }).find((q) => q.direction === 'outbound')!.held;
    const body = { actor: 'op', reason: 'checked, deliver' };
    const r = sim.releaseQueue('olpe.de', 'outbound', body, 'rel-1');
    assert.deepEqual(r, { result: { domain: 'olpe.de', direction: 'outbound', released: held }, replayed: false });
    assert.equal(sim.domain('olpe.de').outbound, 'held');
    const again = sim.releaseQueue('olpe.de', 'outbound', body, 'rel-1');
    assert.deepEqual(again, { result: r.result, replayed: true });
    assert.throws(() => sim.releaseQueue('olpe.de', 'inbound', body, 'rel-1'), { status: 422 });
  });

  test('queues filter by Kreis and Verband: two directions per domain', () => {
    const sim = createSimulator({ speed: 0 });
    assert.equal(sim.queues({ kreis: 'kr-olpe' }).length, 16);
    assert.equal(sim.queues({ verband: 'vb-sued' }).length, 40);
    assert.equal(sim.queues().length, 128);
  });
});

describe('gateway: audit', () => {
  test('pages in order, filters by since, cursors refuse other queries', () => {
    const sim = createSimulator({ speed: 0 });
    for (let k = 0; k < 5; k++) {
      sim.advance(10);
      sim.changeDomain(
        'olpe.de',
        { inbound: k % 2 === 0 ? 'blocked' : 'held', reason: `step ${k}`, actor: 'op' },
        { idempotencyKey: `s${k}` },
      );
    }
    const p1 = gatewayAuditPage.parse(sim.audit({ limit: 2 }));
    assert.deepEqual(
      p1.items.map((e) => e.reason),
      ['step 0', 'step 1'],
    );
    const p2 = sim.audit({ limit: 2, cursor: p1.nextCursor! });
    const p3 = sim.audit({ limit: 2, cursor: p2.nextCursor! });
    assert.deepEqual(
      [...p2.items, ...p3.items].map((e) => e.reason),
      ['step 2', 'step 3', 'step 4'],
    );
    assert.equal(p3.nextCursor, null);
    assert.deepEqual(
      sim.audit({ since: '2024-02-15T17:40:00Z' }).items.map((e) => e.reason),
      ['step 3', 'step 4'],
    );
    assert.throws(() => sim.audit({ since: '2024-02-15T17:40:00Z', cursor: p1.nextCursor! }), {
      code: 'invalid_cursor',
    });
  });
});
