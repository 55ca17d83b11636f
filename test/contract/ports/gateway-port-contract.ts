import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isLagebotError } from '../../../src/domain/errors.ts';
import type { DomainState } from '../../../src/domain/model.ts';
import type { GatewayPort } from '../../../src/domain/ports.ts';

// What every GatewayPort promises the services, whoever implements it: the HTTP client against the
// gateway-control API, an in-memory gateway, the Postfix agent. Written against the port alone; each
// adapter starts fresh, so changing its domains is fine.

export interface GatewayAdapter {
  name: string;
  /** now: the gateway's clock, for the spam metrics' range. */
  start(): Promise<{ port: GatewayPort; now: () => Date; close(): Promise<void> }>;
}

export function runGatewayPortContract(adapter: GatewayAdapter): void {
  describe(`GatewayPort contract: ${adapter.name}`, () => {
    let port: GatewayPort;
    let now: () => Date;
    let close: () => Promise<void>;
    let domains: DomainState[];
    before(async () => {
      ({ port, now, close } = await adapter.start());
      domains = await port.listDomains();
    });
    after(() => close());

    // Each test changes its own domain, so their order does not matter.
    const domainFor = (n: number) => {
      assert.ok(domains.length > n, `the gateway lists at least ${n + 1} domains`);
      return domains[n]!.domain;
    };
    const otherThan = (flow: string) => (flow === 'open' ? 'blocked' : 'open') as 'open' | 'blocked';

    test('domains: unique names, each one as getDomain reports it', async () => {
      assert.ok(domains.length > 0);
      assert.equal(new Set(domains.map((d) => d.domain.toLowerCase())).size, domains.length);
      const one = await port.getDomain(domainFor(0));
      assert.deepEqual(one, domains[0]);
      for (const d of domains) {
        assert.ok(['open', 'blocked', 'held'].includes(d.inbound) && ['open', 'blocked', 'held'].includes(d.outbound));
        assert.ok(Number.isInteger(d.version) && d.version >= 0);
      }
    });

    test('an unknown domain is NOT_FOUND', async () => {
      await assert.rejects(port.getDomain('no-such-domain.invalid'), (e) => isLagebotError(e, 'NOT_FOUND'));
    });

    test('a change takes effect once: the repeat with its key is a replay, another key changes nothing', async () => {
      const domain = domainFor(1);
      const before = await port.getDomain(domain);
      const inbound = otherThan(before.inbound);
      const change = {
        domain,
        inbound,
        reason: 'contract',
        actor: 'contract-test',
        idempotencyKey: `contract:${domain}:1`,
      };
      const first = await port.changeDomain(change);
      assert.equal(first.changed, true);
      assert.equal(first.replayed, false);
      assert.equal(first.domain.inbound, inbound);
      assert.equal(first.domain.outbound, before.outbound, 'the other direction is untouched');
      assert.ok(first.domain.version > before.version);
      const again = await port.changeDomain(change);
      assert.equal(again.replayed, true);
      assert.equal(again.domain.version, first.domain.version, 'no second change');
      const same = await port.changeDomain({ ...change, idempotencyKey: `contract:${domain}:2` });
      assert.equal(same.changed, false, 'already in that state');
      assert.equal(same.domain.version, first.domain.version);
      assert.equal((await port.getDomain(domain)).inbound, inbound);
    });

    test('a key reused for another change is refused; a stale If-Match version is a conflict', async () => {
      const domain = domainFor(2);
      const before = await port.getDomain(domain);
      const key = `contract:${domain}:reuse`;
      const by = { reason: 'contract', actor: 'contract-test' };
      await port.changeDomain({ domain, outbound: otherThan(before.outbound), ...by, idempotencyKey: key });
      await assert.rejects(port.changeDomain({ domain, outbound: before.outbound, ...by, idempotencyKey: key }), (e) =>
        isLagebotError(e, 'UPSTREAM_REJECTED'),
      );
      await assert.rejects(
        port.changeDomain({
          domain,
          inbound: otherThan(before.inbound),
          ...by,
          idempotencyKey: `contract:${domain}:stale`,
          ifMatchVersion: before.version,
        }),
        (e) => isLagebotError(e, 'UPSTREAM_CONFLICT'),
      );
      assert.equal((await port.getDomain(domain)).inbound, before.inbound, 'the conflict changed nothing');
    });

    test('a change without a reason, an actor or a direction is refused and changes nothing', async () => {
      const domain = domainFor(3);
      const before = await port.getDomain(domain);
      const key = (n: number) => `contract:${domain}:bad:${n}`;
      const inbound = otherThan(before.inbound);
      const refused = (e: unknown) => isLagebotError(e, 'UPSTREAM_REJECTED');
      await assert.rejects(
        port.changeDomain({ domain, inbound, reason: 'x', actor: 'a', idempotencyKey: key(1) }),
        refused,
      );
      await assert.rejects(
        port.changeDomain({ domain, inbound, reason: 'why', actor: '', idempotencyKey: key(2) }),
        refused,
      );
      await assert.rejects(port.changeDomain({ domain, reason: 'why', actor: 'a', idempotencyKey: key(3) }), refused);
      assert.deepEqual(await port.getDomain(domain), before);
    });

    test('queues: two directions per listed domain, never negative; one domain on request', async () => {
      const queues = await port.listQueues();
      const names = new Set(domains.map((d) => d.domain));
      for (const q of queues) {
        assert.ok(names.has(q.domain), `${q.domain} is a listed domain`);
        assert.ok(q.direction === 'inbound' || q.direction === 'outbound');
        assert.ok(q.held >= 0);
      }
      const domain = domainFor(0);
      const one = await port.listQueues({ domain });
      assert.ok(one.length > 0 && one.every((q) => q.domain === domain));
    });

    test('spam metrics: per domain one point per complete minute in the range, in order', async () => {
      const end = Math.floor(now().getTime() / 60_000) * 60_000;
      const from = new Date(end - 30 * 60_000).toISOString();
      const to = new Date(end).toISOString();
      const all = await port.getSpamMetrics({ from, to });
      assert.deepEqual(new Set(all.map((s) => s.domain)), new Set(domains.map((d) => d.domain)));
      const wanted = [domainFor(0), domainFor(1)];
      const some = await port.getSpamMetrics({ from, to, domains: wanted });
      assert.deepEqual(some.map((s) => s.domain).sort(), [...wanted].sort());
      for (const s of some) {
        assert.ok(s.points.length > 0 && s.points.length <= 30, `${s.domain}: ${s.points.length} points`);
        let previous = Date.parse(from) - 60_000;
        for (const p of s.points) {
          const at = Date.parse(p.at);
          assert.equal(at - previous, 60_000, 'one bucket a minute, none missing');
          assert.ok(at >= Date.parse(from) && at < Date.parse(to));
          assert.ok(p.spam >= 0 && p.received >= p.spam && p.rejected <= p.spam);
          previous = at;
        }
      }
    });

    test('ping answers', async () => {
      await port.ping();
    });
  });
}
