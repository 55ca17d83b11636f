// The one behaviour both engines must show. Run from sqlite.test.ts and postgres.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage, type Storage } from 'botbuilder';
import { makeAuditAnchor } from '../../../src/adapters/audit-anchor-file.ts';
import { GENESIS_HASH, hashAuditEntry } from '../../../src/adapters/store/audit-chain.ts';
import type { CreateStoreOptions } from '../../../src/adapters/store/create-store.ts';
import { formatAuditVerification } from '../../../src/adapters/store/format-audit-verification.ts';
import { migrations } from '../../../src/adapters/store/migrations.ts';
import type { AuditKeyring } from '../../../src/adapters/store/parse-audit-keys.ts';
import { isLagebotError } from '../../../src/domain/errors.ts';
import type { AuditAnchor, AuditInput, AuditVerification, NewRequest, Store } from '../../../src/domain/store-port.ts';
import { StoreTurnStorage } from '../../../src/teams/store-turn-storage.ts';
import { spawnStoreChild } from './spawn-store-child.ts';

export interface StoreHarness {
  readonly engine: 'sqlite' | 'postgres';
  // Serialisable, so child processes open the same database.
  readonly options: CreateStoreOptions;
  // A new store instance on this harness's database (its own connection/pool); closed by dispose().
  // `extra`: audit keys and the commit hook, which are not part of the serialisable options.
  open(extra?: Pick<CreateStoreOptions, 'auditKeys' | 'onAuditCommitted'>): Promise<Store>;
  // Raw SQL past the port, as someone with database access could run it.
  exec(sql: string): Promise<void>;
  dispose(): Promise<void>;
}

const T0 = Date.parse('2024-02-19T08:00:00.000Z');
// Minutes after T0 as ISO.
export function at(minutes: number): string {
  return new Date(T0 + minutes * 60_000).toISOString();
}

function newRequest(id: string, overrides: Partial<NewRequest> = {}): NewRequest {
  return {
    id,
    tenantId: 'tenant-swf',
    kind: 'release',
    state: 'pending',
    requesterId: 'aad-operator',
    scopeId: 'kreis-olpe',
    createdAt: at(0),
    expiresAt: at(60),
    data: { direction: 'inbound', reason: 'Patchstand geprüft' },
    ...overrides,
  };
}

function created(id: string, minute = 0): AuditInput[] {
  return [{ at: at(minute), actor: 'aad-operator', action: 'request.created', details: { id } }];
}

// fresh: a database no store has touched yet (migrations not applied). Otherwise the harness may hand out
// an already migrated, emptied one, which is much faster.
export type MakeHarness = (opts?: { fresh?: boolean }) => Promise<StoreHarness>;

// Every test has its own database, so they may overlap; most of the wall time is child processes starting
// and lease TTLs running out, not CPU.
const parallel = { concurrency: 4 };

export function runStoreContract(name: string, makeHarness: MakeHarness): void {
  // Each test gets its own empty database.
  async function withStore(fn: (store: Store, h: StoreHarness) => Promise<void>): Promise<void> {
    const h = await makeHarness();
    try {
      await fn(await h.open(), h);
    } finally {
      await h.dispose();
    }
  }

  describe(`store contract: ${name}`, parallel, () => {
    describe('requests', parallel, () => {
      test('a created request reads back at version 1 with its audit entry', () =>
        withStore(async (store) => {
          const r = await store.createRequest(newRequest('r1'), created('r1'));
          assert.equal(r.version, 1);
          assert.equal(r.updatedAt, r.createdAt);
          assert.deepEqual(await store.getRequest('r1'), r);
          assert.equal(await store.getRequest('nope'), null);
          const [entry] = await store.listAudit({ limit: 10 });
          // tenant, scope and request default to the request's own.
          assert.deepEqual(
            [entry!.seq, entry!.requestId, entry!.tenantId, entry!.scopeId, entry!.action],
            [1, 'r1', 'tenant-swf', 'kreis-olpe', 'request.created'],
          );
        }));

      test('timestamps are normalised to UTC milliseconds; a non-timestamp is refused', () =>
        withStore(async (store) => {
          const r = await store.createRequest(
            newRequest('r1', { createdAt: '2024-02-19T09:00:00+01:00', expiresAt: null }),
            [],
          );
          assert.equal(r.createdAt, '2024-02-19T08:00:00.000Z');
          await assert.rejects(store.createRequest(newRequest('r2', { createdAt: 'gestern' }), []), (e) =>
            isLagebotError(e, 'INVALID_INPUT'),
          );
          assert.equal(await store.getRequest('r2'), null);
        }));

      test('a duplicate id is refused and writes nothing', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          await assert.rejects(
            store.createRequest(newRequest('r1', { state: 'other' }), created('r1', 1), [
              { key: 'k1', domain: 'olpe.de', change: {} },
            ]),
            (e) => isLagebotError(e, 'STORE_CONFLICT'),
          );
          assert.equal((await store.getRequest('r1'))!.state, 'pending');
          assert.equal((await store.listAudit({ limit: 10 })).length, 1);
          assert.deepEqual(await store.listOutboxForRequest('r1'), []);
        }));

      test('listRequests filters by tenant, states, scope and expiry, newest first, limited', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('a', { createdAt: at(1), expiresAt: at(10) }), []);
          await store.createRequest(newRequest('b', { createdAt: at(2), state: 'executed', expiresAt: null }), []);
          await store.createRequest(newRequest('c', { createdAt: at(3), tenantId: 'other', scopeId: 'soest.de' }), []);
          const ids = (rs: { id: string }[]) => rs.map((r) => r.id);
          assert.deepEqual(ids(await store.listRequests()), ['c', 'b', 'a']);
          assert.deepEqual(ids(await store.listRequests({ tenantId: 'tenant-swf' })), ['b', 'a']);
          assert.deepEqual(ids(await store.listRequests({ states: ['pending'] })), ['c', 'a']);
          assert.deepEqual(ids(await store.listRequests({ states: [] })), []);
          assert.deepEqual(ids(await store.listRequests({ scopeId: 'soest.de' })), ['c']);
          assert.deepEqual(ids(await store.listRequests({ expiresBefore: at(30) })), ['a']);
          assert.deepEqual(ids(await store.listRequests({ limit: 2 })), ['c', 'b']);
        }));

      test('a transition bumps the version and writes request, audit and outbox together', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          const r = await store.transitionRequest(
            'r1',
            1,
            { state: 'approved', data: { approvals: ['aad-approver'] }, updatedAt: at(5) },
            [{ at: at(5), actor: 'aad-approver', action: 'request.approved' }],
            [
              { key: 'r1/olpe.de', domain: 'olpe.de', change: { inbound: 'open' } },
              { key: 'r1/attendorn.de', domain: 'attendorn.de', change: { inbound: 'open' } },
            ],
          );
          assert.ok(r.ok);
          assert.deepEqual(
            [r.request.version, r.request.state, r.request.updatedAt, r.request.expiresAt],
            [2, 'approved', at(5), at(60)],
          );
          assert.deepEqual(r.request.data, { approvals: ['aad-approver'] });
          assert.deepEqual(await store.getRequest('r1'), r.request);
          const audit = await store.listAudit({ requestId: 'r1', limit: 10 });
          assert.deepEqual(
            audit.map((e) => e.action),
            ['request.approved', 'request.created'],
          );
          const outbox = await store.listOutboxForRequest('r1');
          assert.deepEqual(outbox.map((o) => [o.key, o.status, o.attempts, o.createdAt]).sort(), [
            ['r1/attendorn.de', 'pending', 0, at(5)],
            ['r1/olpe.de', 'pending', 0, at(5)],
          ]);
        }));

      test('a stale version is a conflict with the current request and writes nothing', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          const first = await store.transitionRequest('r1', 1, { state: 'approved', data: 1, updatedAt: at(1) }, []);
          assert.ok(first.ok);
          const second = await store.transitionRequest(
            'r1',
            1,
            { state: 'rejected', data: 2, updatedAt: at(2) },
            [{ at: at(2), actor: 'x', action: 'request.rejected' }],
            [{ key: 'k', domain: 'olpe.de', change: {} }],
          );
          assert.deepEqual(second, { ok: false, reason: 'conflict', current: first.request });
          // The creation's entry and the store's own for the first transition, which came without one.
          assert.equal((await store.listAudit({ limit: 10 })).length, 2);
          assert.deepEqual(await store.listPendingOutbox(), []);
          assert.deepEqual(
            await store.transitionRequest('missing', 1, { state: 'x', data: null, updatedAt: at(1) }, []),
            {
              ok: false,
              reason: 'not_found',
            },
          );
        }));

      test('expiresAt: omitted keeps it, null clears it', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('r1'), []);
          const a = await store.transitionRequest('r1', 1, { state: 's', data: null, updatedAt: at(1) }, []);
          assert.ok(a.ok);
          assert.equal(a.request.expiresAt, at(60));
          const b = await store.transitionRequest(
            'r1',
            2,
            { state: 's', data: null, updatedAt: at(2), expiresAt: null },
            [],
          );
          assert.ok(b.ok);
          assert.equal(b.request.expiresAt, null);
        }));

      test('a transition that cannot write its outbox rolls back entirely', () =>
        withStore(async (store) => {
          await store.createRequest(newRequest('r1'), created('r1'), [{ key: 'dup', domain: 'olpe.de', change: {} }]);
          await assert.rejects(
            store.transitionRequest(
              'r1',
              1,
              { state: 'approved', data: null, updatedAt: at(1) },
              [{ at: at(1), actor: 'a', action: 'request.approved' }],
              [{ key: 'dup', domain: 'olpe.de', change: { again: true } }],
            ),
            (e) => isLagebotError(e, 'STORE_CONFLICT'),
          );
          const r = await store.getRequest('r1');
          assert.deepEqual([r!.version, r!.state], [1, 'pending']);
          assert.equal((await store.listAudit({ limit: 10 })).length, 1);
          assert.deepEqual((await store.verifyAuditChain()).ok, true);
        }));

      test('20 concurrent writers on one version from two store instances: exactly one wins', () =>
        withStore(async (store, h) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          const other = await h.open();
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? store : other).transitionRequest(
                'r1',
                1,
                { state: 'approved', data: { by: i }, updatedAt: at(1) },
                [{ at: at(1), actor: `approver-${i}`, action: 'request.approved' }],
                [{ key: `r1/${i}`, domain: 'olpe.de', change: { by: i } }],
              ),
            ),
          );
          const winners = results.filter((r) => r.ok);
          assert.equal(winners.length, 1);
          assert.ok(results.every((r) => r.ok || r.reason === 'conflict'));
          const winner = winners[0]!;
          assert.ok(winner.ok);
          const stored = await store.getRequest('r1');
          assert.deepEqual(stored, winner.request);
          // Only the winner's audit entry and outbox row exist.
          const audit = await store.listAudit({ requestId: 'r1', limit: 100 });
          assert.equal(audit.length, 2);
          assert.equal(audit[0]!.actor, `approver-${(winner.request.data as { by: number }).by}`);
          assert.equal((await store.listOutboxForRequest('r1')).length, 1);
          assertIntact(await store.verifyAuditChain(), 2);
        }));

      test('20 concurrent writers from two child processes: exactly one wins', () =>
        withStore(async (store, h) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          const children = [0, 1].map(() => spawnStoreChild(h.options, ['race', 'r1', '1', '10']));
          try {
            await Promise.all(children.map((c) => c.waitFor((l) => l === 'ready', 'ready')));
            for (const c of children) c.send('go');
            const lines = await Promise.all(children.map((c) => c.waitFor((l) => l.startsWith('result '), 'result')));
            const counts = lines.map((l) => JSON.parse(l.slice('result '.length)) as { ok: number; conflict: number });
            assert.equal(
              counts.reduce((n, c) => n + c.ok, 0),
              1,
            );
            assert.equal(
              counts.reduce((n, c) => n + c.conflict, 0),
              19,
            );
            assert.equal((await store.getRequest('r1'))!.version, 2);
            assertIntact(await store.verifyAuditChain(), 2);
          } finally {
            await Promise.all(children.map((c) => c.kill('SIGKILL')));
          }
        }));

      test('after close and reopen a request is listed and can be transitioned', () =>
        withStore(async (store, h) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          await store.close();
          const reopened = await h.open();
          assert.deepEqual(await reopened.migrate(), [], 'migrations are applied once');
          assert.deepEqual(
            (await reopened.listRequests({ states: ['pending'] })).map((r) => r.id),
            ['r1'],
          );
          const r = await reopened.transitionRequest('r1', 1, { state: 'approved', data: null, updatedAt: at(1) }, [
            { at: at(1), actor: 'aad-approver', action: 'request.approved' },
          ]);
          assert.ok(r.ok);
          assertIntact(await reopened.verifyAuditChain(), 2);
        }));
    });

    describe('audit log', parallel, () => {
      test('entries chain by hash, default to null ids, list newest first with filters and paging', () =>
        withStore(async (store) => {
          assertIntact(await store.verifyAuditChain(), 0);
          const written = await store.appendAudit([
            {
              at: at(1),
              actor: 'a',
              action: 'mail.blocked',
              scopeId: 'olpe.de',
              details: { b: 1, a: [2, { d: 3, c: 4 }] },
            },
            { at: at(2), actor: 'a', action: 'alert.acknowledged', scopeId: 'kreis-olpe' },
            { at: at(3), actor: 'b', action: 'mail.blocked', scopeId: 'olpe.de', requestId: 'r9', tenantId: 't' },
          ]);
          assert.deepEqual(
            written.map((e) => e.seq),
            [1, 2, 3],
          );
          assert.equal(written[0]!.prevHash, '0'.repeat(64));
          assert.equal(written[1]!.prevHash, written[0]!.hash);
          assert.equal(written[2]!.prevHash, written[1]!.hash);
          assert.deepEqual([written[1]!.tenantId, written[1]!.requestId, written[1]!.details], [null, null, null]);
          const all = await store.listAudit({ limit: 10 });
          assert.deepEqual(all, [...written].reverse());
          assert.deepEqual(
            (await store.listAudit({ scopeId: 'olpe.de', limit: 10 })).map((e) => e.seq),
            [3, 1],
          );
          assert.deepEqual(
            (await store.listAudit({ requestId: 'r9', limit: 10 })).map((e) => e.seq),
            [3],
          );
          assert.deepEqual(
            (await store.listAudit({ limit: 1, beforeSeq: 3 })).map((e) => e.seq),
            [2],
          );
          assertIntact(await store.verifyAuditChain(), 3);
        }));

      test('concurrent appends from two store instances never fork the chain', () =>
        withStore(async (store, h) => {
          const other = await h.open();
          await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? store : other).appendAudit([
                { at: at(i), actor: `a${i}`, action: 'x' },
                { at: at(i), actor: `a${i}`, action: 'y' },
              ]),
            ),
          );
          assertIntact(await store.verifyAuditChain(), 40);
          // The two entries of one append are adjacent.
          const entries = (await store.listAudit({ limit: 100 })).reverse();
          for (let i = 0; i < 40; i += 2) assert.equal(entries[i]!.actor, entries[i + 1]!.actor);
        }));

      test('the database refuses UPDATE and DELETE on audit rows', () =>
        withStore(async (store, h) => {
          await store.appendAudit([{ at: at(1), actor: 'a', action: 'x' }]);
          await assert.rejects(h.exec(`UPDATE audit_log SET actor = 'mallory'`), /append-only/);
          await assert.rejects(h.exec('DELETE FROM audit_log'), /append-only/);
          assertIntact(await store.verifyAuditChain(), 1);
        }));

      test('an edited row breaks the chain at its seq', () =>
        withStore(async (store, h) => {
          await store.appendAudit([1, 2, 3, 4].map((i) => ({ at: at(i), actor: 'a', action: 'x', details: { i } })));
          await dropAppendOnlyTriggers(h);
          await h.exec(`UPDATE audit_log SET details = '{"i":99}' WHERE seq = 3`);
          const result = await store.verifyAuditChain();
          assert.deepEqual(result, { ok: false, count: 3, brokenAtSeq: 3, reason: 'hash_mismatch' });
          assert.match(formatAuditVerification(result, 'de'), /Eintrag Nr\. 3/);
          assert.match(formatAuditVerification(result, 'en'), /entry #3/);
        }));

      test('a re-hashed edit still breaks the chain at the next entry', () =>
        withStore(async (store, h) => {
          await store.appendAudit([1, 2, 3].map((i) => ({ at: at(i), actor: 'a', action: 'x' })));
          await dropAppendOnlyTriggers(h);
          // A forger who recomputes the edited row's own hash cannot fix its successor's prevHash.
          await h.exec(`UPDATE audit_log SET hash = '${'f'.repeat(64)}' WHERE seq = 2`);
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 2,
            brokenAtSeq: 2,
            reason: 'hash_mismatch',
          });
        }));

      test('a deleted row is reported as a gap', () =>
        withStore(async (store, h) => {
          await store.appendAudit([1, 2, 3].map((i) => ({ at: at(i), actor: 'a', action: 'x' })));
          await dropAppendOnlyTriggers(h);
          await h.exec('DELETE FROM audit_log WHERE seq = 2');
          assert.deepEqual(await store.verifyAuditChain(), { ok: false, count: 2, brokenAtSeq: 3, reason: 'seq_gap' });
        }));
    });

    describe('anchored audit log (issue 13)', parallel, () => {
      const k1: AuditKeyring = { currentId: 'k1', keys: { k1: 'k1-secret-0123456789abcdef0123456789abcdef' } };

      // A keyed store whose commits are anchored as the bot anchors them (src/adapters/anchor-audit-log.ts).
      async function keyedStore(h: StoreHarness, keys: AuditKeyring = k1, anchors: AuditAnchor[] = []) {
        const store = await h.open({
          auditKeys: keys,
          onAuditCommitted: (head) =>
            anchors.push({ ...makeAuditAnchor(head, keys, new Date().toISOString()), line: anchors.length + 1 }),
        });
        return { store, anchors };
      }

      // Eight entries: the request's creation (seq 1), an approval naming the approver (seq 2), six more.
      async function workload(store: Store): Promise<void> {
        await store.createRequest(newRequest('r1'), [
          { at: at(0), actor: 'aad-operator', action: 'release.requested', details: { by: 'Olaf Operator' } },
        ]);
        const approved = await store.transitionRequest(
          'r1',
          1,
          { state: 'approved', data: { approvedBy: 'Anna Approver' }, updatedAt: at(1) },
          [{ at: at(1), actor: 'aad-approver-1', action: 'release.approve', details: { by: 'Anna Approver' } }],
        );
        assert.ok(approved.ok);
        await store.appendAudit(
          [1, 2, 3, 4, 5, 6].map((i) => ({ at: at(1 + i), actor: 'lagebot', action: 'x', details: { i } })),
        );
      }

      /** What someone with the public algorithm and write access does: edit an entry, recompute every hash after it. */
      async function rehash(h: StoreHarness, store: Store, seq: number, details: unknown): Promise<void> {
        const entries = (await store.listAudit({ limit: 1000 })).reverse();
        let prevHash = entries[seq - 2]?.hash ?? GENESIS_HASH;
        const statements: string[] = [];
        for (const e of entries.slice(seq - 1)) {
          const changed = e.seq === seq ? { ...e, details } : e;
          const hash = hashAuditEntry(prevHash, changed);
          statements.push(
            `UPDATE audit_log SET details = '${JSON.stringify(changed.details)}', prev_hash = '${prevHash}', hash = '${hash}' WHERE seq = ${e.seq};`,
          );
          prevHash = hash;
        }
        await dropAppendOnlyTriggers(h);
        await h.exec(statements.join('\n'));
      }

      test('keyed entries carry the key id and a MAC; verify checks them, the anchors and the request', () =>
        withStore(async (_s, h) => {
          const { store, anchors } = await keyedStore(h);
          await workload(store);
          const entries = await store.listAudit({ limit: 100 });
          assert.ok(entries.every((e) => e.keyId === 'k1' && /^[0-9a-f]{64}$/.test(e.mac ?? '')));
          assert.deepEqual(
            anchors.map((a) => a.seq),
            [1, 2, 8],
          );
          assert.deepEqual(await store.verifyAuditChain({ anchors }), {
            ok: true,
            count: 8,
            macs: 8,
            anchors: 3,
            requests: 1,
          });
          const [creation] = await store.listAudit({ requestId: 'r1', limit: 10 }).then((l) => l.reverse());
          assert.deepEqual(
            [creation!.request?.state, creation!.request?.version],
            ['pending', 1],
            'the store records the state a request write left',
          );
        }));

      test('a re-hashed chain passes the hash check alone but not the MACs', () =>
        withStore(async (_s, h) => {
          const { store, anchors } = await keyedStore(h);
          await workload(store);
          await rehash(h, store, 2, { by: 'Mallory' });
          const unkeyed = await h.open();
          // What `audit verify` said before issue 13: the recomputed chain is consistent.
          assert.equal((await unkeyed.verifyAuditChain()).ok, true);
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 2,
            brokenAtSeq: 2,
            reason: 'mac_mismatch',
          });
          // Without the key, the anchors still tell.
          assert.deepEqual(await unkeyed.verifyAuditChain({ anchors }), {
            ok: false,
            count: 2,
            brokenAtSeq: 2,
            reason: 'anchor_mismatch',
            anchorLine: 2,
          });
        }));

      test('a truncated tail and an emptied table are ahead of their anchors', () =>
        withStore(async (_s, h) => {
          const { store, anchors } = await keyedStore(h);
          await workload(store);
          await dropAppendOnlyTriggers(h);
          await h.exec('DELETE FROM audit_log WHERE seq > 5');
          assert.equal((await store.verifyAuditChain()).ok, true, 'what the chain alone says');
          assert.deepEqual(await store.verifyAuditChain({ anchors }), {
            ok: false,
            count: 5,
            brokenAtSeq: 6,
            reason: 'truncated',
            anchorLine: 3,
          });
          await h.exec('DELETE FROM audit_log');
          const emptied = await store.verifyAuditChain({ anchors });
          assert.deepEqual(emptied, { ok: false, count: 0, brokenAtSeq: 1, reason: 'truncated', anchorLine: 3 });
          assert.match(formatAuditVerification(emptied, 'de'), /Eintrag Nr\. 1: die Tabelle ist leer/);
        }));

      test('an inserted entry with a correct hash but no MAC; stripped MACs', () =>
        withStore(async (_s, h) => {
          const { store, anchors } = await keyedStore(h);
          await workload(store);
          const [head] = await store.listAudit({ limit: 1 });
          const forged = {
            seq: 9,
            at: at(20),
            tenantId: null,
            actor: 'aad-approver-2',
            action: 'release.approve',
            scopeId: null,
            requestId: null,
            details: { by: 'Bernd Approver' },
            request: null,
          };
          const hash = hashAuditEntry(head!.hash, forged);
          await h.exec(
            `INSERT INTO audit_log (seq, at, actor, action, details, prev_hash, hash)
             VALUES (9, '${forged.at}', '${forged.actor}', '${forged.action}', '{"by":"Bernd Approver"}', '${head!.hash}', '${hash}')`,
          );
          assert.deepEqual(await store.verifyAuditChain({ anchors }), {
            ok: false,
            count: 9,
            brokenAtSeq: 9,
            reason: 'mac_missing',
          });
          await dropAppendOnlyTriggers(h);
          await h.exec('DELETE FROM audit_log WHERE seq = 9; UPDATE audit_log SET mac = NULL, key_id = NULL;');
          assert.deepEqual(await store.verifyAuditChain({ anchors }), {
            ok: false,
            count: 1,
            brokenAtSeq: 1,
            reason: 'mac_missing',
            anchorLine: 1,
          });
        }));

      test('reordered entries and broken JSON are named by entry number', () =>
        withStore(async (_s, h) => {
          const { store } = await keyedStore(h);
          await workload(store);
          await dropAppendOnlyTriggers(h);
          await h.exec(
            'UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = -3;',
          );
          const reordered = await store.verifyAuditChain();
          assert.equal(reordered.ok, false);
          assert.equal(!reordered.ok && reordered.brokenAtSeq, 3);
          await h.exec(
            'UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = -3;',
          );
          assert.equal((await store.verifyAuditChain()).ok, true, 'swapped back');
          await h.exec(`UPDATE audit_log SET details = '{"i": ' WHERE seq = 5`);
          const broken = await store.verifyAuditChain();
          assert.deepEqual(broken, { ok: false, count: 5, brokenAtSeq: 5, reason: 'invalid_json' });
          assert.match(
            formatAuditVerification(broken, 'en'),
            /^Audit log BROKEN at entry #5: the entry is no longer valid JSON/,
          );
        }));

      test('a request set back past the store, forged, or deleted does not match its audit entries', () =>
        withStore(async (_s, h) => {
          const { store } = await keyedStore(h);
          await workload(store);
          await h.exec(`UPDATE requests SET state = 'pending', version = 1 WHERE id = 'r1'`);
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 8,
            brokenAtSeq: 2,
            reason: 'request_state_mismatch',
            requestId: 'r1',
          });
          await h.exec(
            `UPDATE requests SET state = 'approved', version = 2, requester_id = 'aad-approver-2' WHERE id = 'r1'`,
          );
          assert.equal((await store.verifyAuditChain()).ok, false, 'any other column counts too');
          await h.exec(`UPDATE requests SET requester_id = 'aad-operator' WHERE id = 'r1'`);
          assert.equal((await store.verifyAuditChain()).ok, true, 'put back as it was');
          await h.exec(
            `INSERT INTO requests (id, tenant_id, kind, state, version, requester_id, scope_id, created_at, updated_at, expires_at, data)
             VALUES ('r-forged', 'tenant-swf', 'release', 'pending', 1, 'aad-operator', 'kreis-olpe', '${at(0)}', '${at(0)}', '${at(600)}', '{}')`,
          );
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 8,
            brokenAtSeq: null,
            reason: 'request_unaudited',
            requestId: 'r-forged',
          });
          await h.exec(`DELETE FROM requests WHERE id IN ('r-forged', 'r1')`);
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 8,
            brokenAtSeq: 2,
            reason: 'request_missing',
            requestId: 'r1',
          });
        }));

      test('key rotation: old entries and anchors verify with the old key id, new ones with the new key', () =>
        withStore(async (_s, h) => {
          const anchors: AuditAnchor[] = [];
          const { store: before } = await keyedStore(h, k1, anchors);
          await workload(before);
          const k2 = 'k2-secret-fedcba9876543210fedcba9876543210';
          const rotated: AuditKeyring = { currentId: 'k2', keys: { ...k1.keys, k2 } };
          const { store: after } = await keyedStore(h, rotated, anchors);
          await after.appendAudit([{ at: at(30), actor: 'lagebot', action: 'y' }]);
          const keyIds = (await after.listAudit({ limit: 100 })).reverse().map((e) => e.keyId);
          assert.deepEqual(keyIds, ['k1', 'k1', 'k1', 'k1', 'k1', 'k1', 'k1', 'k1', 'k2']);
          assert.deepEqual(await after.verifyAuditChain({ anchors }), {
            ok: true,
            count: 9,
            macs: 9,
            anchors: 4,
            requests: 1,
          });
          // Dropping the old key from the keyring makes its entries unverifiable: keep retired keys.
          const onlyNew = await h.open({ auditKeys: { currentId: 'k2', keys: { k2 } } });
          assert.deepEqual(await onlyNew.verifyAuditChain(), {
            ok: false,
            count: 1,
            brokenAtSeq: 1,
            reason: 'unknown_key',
          });
          // A forged anchor (right seq, another hash, a MAC made without the key) is told.
          const forged = { ...anchors[0]!, hash: 'f'.repeat(64), mac: 'e'.repeat(64), line: 99 };
          assert.deepEqual(await after.verifyAuditChain({ anchors: [...anchors, forged] }), {
            ok: false,
            // The anchors are checked before the first entry.
            count: 0,
            brokenAtSeq: null,
            reason: 'anchor_forged',
            anchorLine: 99,
          });
        }));

      test('a log written without a key is sealed once under the key', () =>
        withStore(async (unkeyed, h) => {
          await workload(unkeyed);
          const { store } = await keyedStore(h);
          assert.deepEqual(await store.verifyAuditChain(), {
            ok: false,
            count: 8,
            brokenAtSeq: 8,
            reason: 'mac_missing',
          });
          assert.equal(await store.sealAuditLog(at(40)), 1);
          const [seal] = await store.listAudit({ limit: 1 });
          assert.deepEqual(
            [seal!.action, seal!.keyId, seal!.details],
            ['audit.sealed', 'k1', { keyId: 'k1', entriesBefore: 8 }],
          );
          assert.deepEqual(await store.verifyAuditChain(), { ok: true, count: 9, macs: 1, anchors: 0, requests: 1 });
          assert.equal(await store.sealAuditLog(at(41)), 0, 'nothing left to seal');
          assert.equal(await unkeyed.sealAuditLog(at(41)), 0, 'a store without a key seals nothing');
        }));
    });

    describe('outbox', parallel, () => {
      async function withItem(store: Store) {
        await store.createRequest(newRequest('r1'), [], [{ key: 'r1/olpe.de', domain: 'olpe.de', change: { a: 1 } }]);
      }

      test('a claim excludes other holders until it expires; attempts count', () =>
        withStore(async (store) => {
          await withItem(store);
          const a = await store.claimOutbox('r1/olpe.de', 'replica-a', at(1), 30_000);
          assert.deepEqual(
            [a!.claimedBy, a!.attempts, a!.claimedUntil],
            ['replica-a', 1, new Date(Date.parse(at(1)) + 30_000).toISOString()],
          );
          assert.equal(await store.claimOutbox('r1/olpe.de', 'replica-b', at(1.4), 30_000), null);
          const again = await store.claimOutbox('r1/olpe.de', 'replica-a', at(1.4), 30_000);
          assert.equal(again!.attempts, 2);
          const b = await store.claimOutbox(
            'r1/olpe.de',
            'replica-b',
            new Date(Date.parse(at(1.4)) + 30_000).toISOString(),
            30_000,
          );
          assert.deepEqual([b!.claimedBy, b!.attempts], ['replica-b', 3]);
          assert.equal(await store.claimOutbox('unknown', 'replica-a', at(2), 1000), null);
        }));

      test('concurrent claims from two store instances: exactly one holder', () =>
        withStore(async (store, h) => {
          await withItem(store);
          const other = await h.open();
          const claims = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 ? store : other).claimOutbox('r1/olpe.de', `h${i}`, at(1), 60_000),
            ),
          );
          assert.equal(claims.filter((c) => c !== null).length, 1);
        }));

      test('completion keeps the first outcome and leaves the pending list', () =>
        withStore(async (store) => {
          await withItem(store);
          await store.claimOutbox('r1/olpe.de', 'a', at(1), 60_000);
          const done = await store.completeOutbox('r1/olpe.de', 'succeeded', { changed: true }, at(2));
          assert.deepEqual(
            [done!.status, done!.result, done!.claimedBy, done!.updatedAt],
            ['succeeded', { changed: true }, null, at(2)],
          );
          const twice = await store.completeOutbox('r1/olpe.de', 'failed', new Error('timeout'), at(3));
          assert.deepEqual(twice, done);
          assert.deepEqual(await store.listPendingOutbox(), []);
          assert.equal(await store.claimOutbox('r1/olpe.de', 'b', at(4), 60_000), null);
          assert.equal(await store.completeOutbox('unknown', 'succeeded', null, at(4)), null);
        }));

      test('many items claimed and completed in one call each: the same rules as one by one', () =>
        withStore(async (store) => {
          await store.createRequest(
            newRequest('r1'),
            [],
            ['a.de', 'b.de', 'c.de'].map((d) => ({ key: `r1/${d}`, domain: d, change: { d } })),
          );
          assert.ok(await store.claimOutbox('r1/c.de', 'replica-b', at(1), 60_000));
          const claimed = await store.claimOutboxItems(
            ['r1/a.de', 'r1/b.de', 'r1/c.de', 'unknown'],
            'replica-a',
            at(1),
            30_000,
          );
          assert.deepEqual(
            claimed.map((c) => [c.key, c.claimedBy, c.attempts]).sort(),
            [
              ['r1/a.de', 'replica-a', 1],
              ['r1/b.de', 'replica-a', 1],
            ],
            "another holder's live claim is respected",
          );
          assert.deepEqual(await store.claimOutboxItems([], 'replica-a', at(1), 30_000), []);
          const changed = await store.completeOutboxItems(
            [
              { key: 'r1/a.de', outcome: 'succeeded', detail: { changed: true } },
              { key: 'r1/b.de', outcome: 'failed', detail: new Error('gateway refused') },
              { key: 'unknown', outcome: 'succeeded', detail: null },
            ],
            at(2),
          );
          assert.equal(changed, 2);
          assert.equal(
            await store.completeOutboxItems([{ key: 'r1/a.de', outcome: 'failed', detail: 'late' }], at(3)),
            0,
            'the first outcome stays',
          );
          const rows = new Map((await store.listOutboxForRequest('r1')).map((r) => [r.key, r]));
          assert.deepEqual(
            [rows.get('r1/a.de')!.status, rows.get('r1/a.de')!.result, rows.get('r1/a.de')!.claimedBy],
            ['succeeded', { changed: true }, null],
          );
          assert.deepEqual(
            [rows.get('r1/b.de')!.status, rows.get('r1/b.de')!.lastError],
            ['failed', 'gateway refused'],
          );
          assert.deepEqual([rows.get('r1/c.de')!.status, rows.get('r1/c.de')!.claimedBy], ['pending', 'replica-b']);
        }));

      test('a failed outcome records the error message', () =>
        withStore(async (store) => {
          await withItem(store);
          const failed = await store.completeOutbox('r1/olpe.de', 'failed', new Error('gateway refused'), at(2));
          assert.deepEqual([failed!.status, failed!.lastError, failed!.result], ['failed', 'gateway refused', null]);
        }));

      test('a released claim stays pending with its error and can be claimed at once', () =>
        withStore(async (store) => {
          await withItem(store);
          await store.claimOutbox('r1/olpe.de', 'a', at(1), 60_000);
          assert.equal(await store.releaseOutbox('r1/olpe.de', 'b', 'x', at(2)), false);
          assert.equal(await store.releaseOutbox('r1/olpe.de', 'a', 'UPSTREAM_TIMEOUT', at(2)), true);
          const [pending] = await store.listPendingOutbox();
          assert.deepEqual([pending!.lastError, pending!.claimedBy, pending!.attempts], ['UPSTREAM_TIMEOUT', null, 1]);
          assert.equal((await store.claimOutbox('r1/olpe.de', 'b', at(2), 60_000))!.claimedBy, 'b');
        }));
    });

    describe('conversations and subscriptions', parallel, () => {
      test('upsert keeps team and name when a later turn omits them', () =>
        withStore(async (store) => {
          const c = await store.upsertConversation({
            conversationId: '19:abc@thread.tacv2',
            tenantId: 't1',
            serviceUrl: 'https://smba.trafficmanager.net/emea/',
            kind: 'channel',
            teamId: '19:team',
            name: 'Leitstelle',
            reference: { conversation: { id: '19:abc@thread.tacv2' } },
            updatedAt: at(1),
          });
          assert.equal(c.name, 'Leitstelle');
          const later = await store.upsertConversation({
            conversationId: '19:abc@thread.tacv2',
            tenantId: 't1',
            serviceUrl: 'https://smba.trafficmanager.net/de/',
            kind: 'channel',
            reference: { v: 2 },
            updatedAt: at(2),
          });
          assert.deepEqual(
            [later.teamId, later.name, later.serviceUrl, later.reference, later.updatedAt],
            ['19:team', 'Leitstelle', 'https://smba.trafficmanager.net/de/', { v: 2 }, at(2)],
          );
          await store.upsertConversation({
            conversationId: 'a:personal',
            tenantId: 't2',
            serviceUrl: 'https://x/',
            kind: 'personal',
            reference: {},
            updatedAt: at(3),
          });
          assert.deepEqual(await store.getConversation('19:abc@thread.tacv2'), later);
          assert.equal(await store.getConversation('nope'), null);
          assert.deepEqual(
            (await store.listConversations()).map((x) => x.conversationId),
            ['19:abc@thread.tacv2', 'a:personal'],
          );
          assert.deepEqual(
            (await store.listConversations('t2')).map((x) => [x.conversationId, x.teamId, x.name]),
            [['a:personal', null, null]],
          );
        }));

      test('subscribe is idempotent; unsubscribe one or all', () =>
        withStore(async (store) => {
          assert.equal(await store.subscribe('c1', 'suedverband', at(1)), true);
          assert.equal(await store.subscribe('c1', 'suedverband', at(2)), false);
          await store.subscribe('c1', 'kreis-soest', at(3));
          await store.subscribe('c2', 'suedverband', at(4));
          assert.deepEqual(await store.listSubscriptions('c1'), [
            { conversationId: 'c1', scopeId: 'kreis-soest', createdAt: at(3), lang: 'de', mentions: [] },
            { conversationId: 'c1', scopeId: 'suedverband', createdAt: at(1), lang: 'de', mentions: [] },
          ]);
          assert.equal(await store.unsubscribe('c1', 'suedverband'), 1);
          assert.equal(await store.unsubscribe('c1', 'suedverband'), 0);
          assert.equal(await store.unsubscribe('c2'), 1);
          assert.deepEqual(
            (await store.listSubscriptions()).map((s) => [s.conversationId, s.scopeId]),
            [['c1', 'kreis-soest']],
          );
        }));
    });

    describe('subscription language (migration 005)', parallel, () => {
      test("a conversation's alert language is that of the client that subscribed last", () =>
        withStore(async (store) => {
          await store.subscribe('c1', 'suedverband', at(1));
          await store.subscribe('c2', 'suedverband', at(1), 'en');
          assert.deepEqual(
            (await store.listSubscriptions()).map((s) => [s.conversationId, s.lang]),
            [
              ['c1', 'de'],
              ['c2', 'en'],
            ],
          );
          // An English client subscribes c1 to one more region, or again: the whole conversation turns English.
          assert.equal(await store.subscribe('c1', 'kreis-soest', at(2), 'en'), true);
          assert.equal(await store.subscribe('c2', 'suedverband', at(3), 'de'), false);
          assert.deepEqual(
            (await store.listSubscriptions()).map((s) => [s.conversationId, s.scopeId, s.lang]),
            [
              ['c1', 'kreis-soest', 'en'],
              ['c1', 'suedverband', 'en'],
              ['c2', 'suedverband', 'de'],
            ],
          );
          await assert.rejects(store.subscribe('c3', 'x', at(1), 'fr' as 'de'), /lang must be de or en/);
          assert.deepEqual(await store.listSubscriptions('c3'), []);
        }));
    });

    describe('nudges: subscription mentions, planned notifications, report schedules, people (006)', parallel, () => {
      test('a subscription keeps the people it mentions; an unknown one is refused', () =>
        withStore(async (store) => {
          await store.subscribe('c1', 'suedverband', at(1));
          const anna = { id: '29:anna', name: 'Anna Approver' };
          assert.equal(await store.setSubscriptionMentions('c1', 'suedverband', [anna]), true);
          assert.equal(await store.setSubscriptionMentions('c1', 'kreis-olpe', [anna]), false);
          assert.deepEqual((await store.listSubscriptions('c1'))[0]?.mentions, [anna]);
          await store.setSubscriptionMentions('c1', 'suedverband', []);
          assert.deepEqual((await store.listSubscriptions('c1'))[0]?.mentions, []);
        }));

      test('planning a key twice is one row; due items are listed oldest first, not before their time', () =>
        withStore(async (store) => {
          const first = await store.planNotification(
            { key: 'reminder:r-1:1', kind: 'reminder', dueAt: at(15), payload: { n: 1 } },
            at(0),
          );
          assert.equal(first.created, true);
          const again = await store.planNotification(
            { key: 'reminder:r-1:1', kind: 'reminder', dueAt: at(99), payload: { n: 99 } },
            at(1),
          );
          assert.equal(again.created, false);
          assert.deepEqual(again.notification.payload, { n: 1 });
          assert.equal(again.notification.dueAt, at(15));
          await store.planNotification(
            { key: 'report:c1:2024-02-19', kind: 'report', dueAt: at(5), payload: {} },
            at(0),
          );
          await store.planNotification(
            { key: 'escalation:r-1', kind: 'escalation', dueAt: at(60), payload: {} },
            at(0),
          );
          assert.deepEqual(
            (await store.listDueNotifications(at(15))).map((n) => n.key),
            ['report:c1:2024-02-19', 'reminder:r-1:1'],
          );
          assert.deepEqual(
            (await store.listNotifications({ keyPrefix: 'reminder:r-1' })).map((n) => n.key),
            ['reminder:r-1:1'],
          );
          assert.deepEqual(
            (await store.listNotifications({ kind: 'escalation', status: 'pending' })).map((n) => n.key),
            ['escalation:r-1'],
          );
        }));

      test('one replica claims a notification; the first outcome stays; a released claim is due again', () =>
        withStore(async (store, h) => {
          await store.planNotification({ key: 'k', kind: 'report', dueAt: at(0), payload: {} }, at(0));
          await store.planNotification({ key: 'k2', kind: 'report', dueAt: at(0), payload: {} }, at(0));
          const other = await h.open();
          const claims = await Promise.all([
            store.claimNotification('k', 'replica-a', at(1), 600_000),
            other.claimNotification('k', 'replica-b', at(1), 600_000),
          ]);
          assert.equal(claims.filter((c) => c !== null).length, 1);
          assert.deepEqual(
            (await store.listDueNotifications(at(1))).map((n) => n.key),
            ['k2'],
            'a claimed notification is not due for others',
          );
          const holder = claims[0] ? 'replica-a' : 'replica-b';
          assert.deepEqual(
            (await store.listDueNotifications(at(2))).map((n) => n.key),
            ['k2'],
          );
          const sent = await store.completeNotification('k', 'sent', { activityId: 'a-1' }, at(2));
          assert.equal(sent?.status, 'sent');
          assert.deepEqual(sent?.result, { activityId: 'a-1' });
          const later = await store.completeNotification('k', 'skipped', { why: 'late' }, at(3));
          assert.equal(later?.status, 'sent');
          assert.equal(await store.claimNotification('k', holder, at(4), 60_000), null);

          const c2 = await store.claimNotification('k2', 'replica-a', at(1), 60_000);
          assert.equal(c2?.attempts, 1);
          assert.equal(await store.releaseNotification('k2', 'replica-b', 'not mine', at(2)), false);
          assert.equal(await store.releaseNotification('k2', 'replica-a', 'Teams 503', at(2)), true);
          const due = await store.listDueNotifications(at(2));
          assert.deepEqual(
            due.map((n) => [n.key, n.lastError]),
            [['k2', 'Teams 503']],
          );
          // An expired claim of a replica that died is taken over.
          await store.claimNotification('k2', 'replica-dead', at(3), 1000);
          assert.equal((await other.claimNotification('k2', 'replica-b', at(4), 60_000))?.claimedBy, 'replica-b');
          const failed = await other.completeNotification('k2', 'failed', new Error('gone'), at(5));
          assert.equal(failed?.lastError, 'gone');
          assert.equal(await store.completeNotification('nope', 'sent', {}, at(5)), null);
        }));

      test('report schedules: one per conversation, replaced, removed', () =>
        withStore(async (store) => {
          const schedule = {
            conversationId: 'c1',
            tenantId: 't',
            scopeId: 'vb-sued',
            localTime: '08:00',
            weekdaysOnly: false,
            lang: 'de' as const,
            createdBy: 'aad-operator',
            createdAt: at(0),
          };
          await store.setReportSchedule(schedule);
          await store.setReportSchedule({ ...schedule, localTime: '07:30', weekdaysOnly: true });
          await store.setReportSchedule({ ...schedule, conversationId: 'c2', lang: 'en' });
          assert.deepEqual(await store.listReportSchedules('c1'), [
            { ...schedule, localTime: '07:30', weekdaysOnly: true },
          ]);
          assert.equal((await store.listReportSchedules()).length, 2);
          assert.equal(await store.deleteReportSchedule('c1'), true);
          assert.equal(await store.deleteReportSchedule('c1'), false);
          assert.deepEqual(
            (await store.listReportSchedules()).map((r) => [r.conversationId, r.lang]),
            [['c2', 'en']],
          );
        }));

      test('people: the latest name, the 1:1 conversation kept when a later turn is elsewhere', () =>
        withStore(async (store) => {
          assert.equal(await store.getPerson('aad-anna'), null);
          const anna = { aadObjectId: 'aad-anna', tenantId: 't', userId: '29:anna', name: 'Anna', seenAt: at(0) };
          await store.notePerson({ ...anna, personalConversationId: 'a:anna' });
          await store.notePerson({ ...anna, name: 'Anna Approver', seenAt: at(5) });
          assert.deepEqual(await store.getPerson('aad-anna'), {
            ...anna,
            name: 'Anna Approver',
            seenAt: at(5),
            personalConversationId: 'a:anna',
          });
        }));
    });

    describe('alerts', parallel, () => {
      const alert = { id: 'spike-olpe-1', scopeId: 'kreis-olpe', openedAt: at(1), data: { factor: 8 } };

      test('create once, update by version', () =>
        withStore(async (store) => {
          const a = await store.createAlert(alert);
          assert.ok(a.ok);
          assert.deepEqual([a.alert.status, a.alert.version, a.alert.closedAt], ['open', 1, null]);
          const dup = await store.createAlert({ ...alert, data: { factor: 9 } });
          assert.deepEqual(dup, { ok: false, reason: 'conflict', current: a.alert });
          const closed = await store.updateAlert(alert.id, 1, {
            status: 'closed',
            closedAt: at(9),
            data: { factor: 1 },
          });
          assert.ok(closed.ok);
          assert.deepEqual([closed.alert.version, closed.alert.status, closed.alert.closedAt], [2, 'closed', at(9)]);
          const stale = await store.updateAlert(alert.id, 1, { status: 'open', closedAt: null, data: null });
          assert.deepEqual(stale, { ok: false, reason: 'conflict', current: closed.alert });
          assert.deepEqual(await store.updateAlert('nope', 1, { status: 'open', closedAt: null, data: null }), {
            ok: false,
            reason: 'not_found',
          });
          await store.createAlert({ ...alert, id: 'spike-soest-1', scopeId: 'kreis-soest', openedAt: at(5) });
          assert.deepEqual(
            (await store.listAlerts()).map((x) => x.id),
            ['spike-soest-1', 'spike-olpe-1'],
          );
          assert.deepEqual(
            (await store.listAlerts({ status: 'open' })).map((x) => x.id),
            ['spike-soest-1'],
          );
          assert.deepEqual(
            (await store.listAlerts({ scopeId: 'kreis-olpe' })).map((x) => x.id),
            ['spike-olpe-1'],
          );
        }));

      test('one delivery per alert and conversation, also after a restart', () =>
        withStore(async (store, h) => {
          await store.createAlert(alert);
          const first = await store.ensureDelivery(alert.id, 'c1', at(1));
          assert.equal(first.created, true);
          assert.deepEqual(
            [first.delivery.status, first.delivery.attempts, first.delivery.activityId, first.delivery.claimedBy],
            ['pending', 0, null, null],
          );
          await store.claimDelivery(alert.id, 'c1', 'replica-a', at(2), 60_000);
          const sent = await store.completeDelivery(
            alert.id,
            'c1',
            'replica-a',
            { status: 'sent', activityId: 'act-1' },
            at(2),
          );
          assert.deepEqual(
            [sent!.status, sent!.activityId, sent!.attempts, sent!.claimedBy, sent!.updatedAt],
            ['sent', 'act-1', 1, null, at(2)],
          );
          await store.ensureDelivery(alert.id, 'c2', at(4));
          await store.close();
          const reopened = await h.open();
          const again = await reopened.ensureDelivery(alert.id, 'c1', at(5));
          assert.deepEqual(again, { created: false, delivery: sent });
          assert.deepEqual(
            (await reopened.listDeliveries({ status: 'pending' })).map((d) => d.conversationId),
            ['c2'],
          );
          assert.equal((await reopened.listDeliveries({ alertId: alert.id })).length, 2);
        }));

      test('a delivery claim excludes other replicas until it expires; a sent delivery is never claimed again', () =>
        withStore(async (store) => {
          await store.createAlert(alert);
          await store.ensureDelivery(alert.id, 'c1', at(1));
          const a = await store.claimDelivery(alert.id, 'c1', 'replica-a', at(1), 60_000);
          assert.deepEqual(
            [a!.claimedBy, a!.claimedUntil, a!.attempts],
            ['replica-a', new Date(Date.parse(at(1)) + 60_000).toISOString(), 1],
          );
          assert.equal(await store.claimDelivery(alert.id, 'c1', 'replica-b', at(1.9), 60_000), null);
          // Renewing one's own claim moves its end.
          const renewed = await store.claimDelivery(alert.id, 'c1', 'replica-a', at(1.5), 60_000);
          assert.deepEqual([renewed!.claimedUntil, renewed!.attempts], [at(2.5), 2]);
          assert.equal(await store.claimDelivery(alert.id, 'c1', 'replica-b', at(2.4), 60_000), null);
          const b = await store.claimDelivery(alert.id, 'c1', 'replica-b', at(2.5), 60_000);
          assert.deepEqual([b!.claimedBy, b!.attempts], ['replica-b', 3]);
          const sent = await store.completeDelivery(
            alert.id,
            'c1',
            'replica-b',
            { status: 'sent', activityId: 'b-1' },
            at(3),
          );
          assert.equal(sent!.status, 'sent');
          assert.equal(await store.claimDelivery(alert.id, 'c1', 'replica-b', at(4), 60_000), null);
          assert.equal(await store.claimDelivery(alert.id, 'c9', 'replica-a', at(4), 60_000), null);
        }));

      test("only the claim's holder records the outcome, also after its claim ran out if nobody took it over", () =>
        withStore(async (store) => {
          await store.createAlert(alert);
          await store.ensureDelivery(alert.id, 'c1', at(1));
          await store.ensureDelivery(alert.id, 'c2', at(1));
          await store.ensureDelivery(alert.id, 'c3', at(1));
          // Unclaimed: nobody may record it.
          assert.equal(
            await store.completeDelivery(alert.id, 'c1', 'a', { status: 'sent', activityId: 'x' }, at(1)),
            null,
          );
          await store.claimDelivery(alert.id, 'c1', 'a', at(1), 60_000);
          assert.equal(
            await store.completeDelivery(alert.id, 'c1', 'b', { status: 'sent', activityId: 'x' }, at(1)),
            null,
          );
          // a stalled past its claim and b took over and sent: a's late answer does not overwrite b's card.
          await store.claimDelivery(alert.id, 'c1', 'b', at(3), 60_000);
          await store.completeDelivery(alert.id, 'c1', 'b', { status: 'sent', activityId: 'b-1' }, at(3.1));
          assert.equal(
            await store.completeDelivery(alert.id, 'c1', 'a', { status: 'sent', activityId: 'a-1' }, at(3.2)),
            null,
          );
          // Expired, but nobody took it over: the holder's answer still counts.
          await store.claimDelivery(alert.id, 'c2', 'a', at(1), 60_000);
          const late = await store.completeDelivery(alert.id, 'c2', 'a', { status: 'sent', activityId: 'a-2' }, at(5));
          assert.deepEqual([late!.status, late!.activityId], ['sent', 'a-2']);
          await store.claimDelivery(alert.id, 'c3', 'a', at(1), 60_000);
          const failed = await store.completeDelivery(alert.id, 'c3', 'a', { status: 'failed' }, at(2));
          assert.deepEqual([failed!.status, failed!.activityId, failed!.claimedBy], ['failed', null, null]);
          assert.deepEqual(
            (await store.listDeliveries({ alertId: alert.id })).map((d) => [d.conversationId, d.status, d.activityId]),
            [
              ['c1', 'sent', 'b-1'],
              ['c2', 'sent', 'a-2'],
              ['c3', 'failed', null],
            ],
          );
        }));

      test('concurrent delivery claims from two store instances: exactly one holder', () =>
        withStore(async (store, h) => {
          await store.createAlert(alert);
          await store.ensureDelivery(alert.id, 'c1', at(1));
          const other = await h.open();
          const claims = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 ? store : other).claimDelivery(alert.id, 'c1', `h${i}`, at(1), 60_000),
            ),
          );
          assert.equal(claims.filter((c) => c !== null).length, 1);
        }));

      test('the first acknowledgement per person counts', () =>
        withStore(async (store) => {
          await store.createAlert(alert);
          assert.deepEqual(await store.acknowledgeAlert(alert.id, 'aad-1', at(2)), {
            first: true,
            ack: { alertId: alert.id, actor: 'aad-1', at: at(2) },
          });
          assert.deepEqual(await store.acknowledgeAlert(alert.id, 'aad-1', at(3)), {
            first: false,
            ack: { alertId: alert.id, actor: 'aad-1', at: at(2) },
          });
          await store.acknowledgeAlert(alert.id, 'aad-2', at(4));
          assert.deepEqual(
            (await store.listAcknowledgements(alert.id)).map((a) => a.actor),
            ['aad-1', 'aad-2'],
          );
        }));

      test('a mute holds until its end and can be extended or lifted', () =>
        withStore(async (store) => {
          await store.muteScope('c1', 'kreis-olpe', at(60));
          assert.equal(await store.isMuted('c1', 'kreis-olpe', at(59)), true);
          assert.equal(await store.isMuted('c1', 'kreis-olpe', at(60)), false);
          assert.equal(await store.isMuted('c2', 'kreis-olpe', at(1)), false);
          await store.muteScope('c1', 'kreis-olpe', at(120));
          assert.equal(await store.isMuted('c1', 'kreis-olpe', at(90)), true);
          assert.deepEqual(await store.listMutes('c1'), [
            { conversationId: 'c1', scopeId: 'kreis-olpe', until: at(120) },
          ]);
          assert.equal(await store.unmuteScope('c1', 'kreis-olpe'), true);
          assert.equal(await store.unmuteScope('c1', 'kreis-olpe'), false);
          assert.deepEqual(await store.listMutes(), []);
        }));
    });

    describe('leases', parallel, () => {
      test('take if free, expired or mine; renew only while held; release only by the holder', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('spam-watcher', 'a', 10_000, at(0)), true);
          assert.equal(await store.acquireLease('spam-watcher', 'b', 10_000, at(0.1)), false);
          assert.equal(await store.acquireLease('spam-watcher', 'a', 10_000, at(0.1)), true);
          const held = await store.getLease('spam-watcher');
          assert.deepEqual(held, {
            name: 'spam-watcher',
            holder: 'a',
            acquiredAt: at(0),
            expiresAt: new Date(Date.parse(at(0.1)) + 10_000).toISOString(),
          });
          assert.equal(await store.renewLease('spam-watcher', 'b', 10_000, at(0.15)), false);
          assert.equal(await store.renewLease('spam-watcher', 'a', 10_000, at(0.15)), true);
          // a stops renewing: at the expiry instant b may take it and a has lost it.
          const expiry = new Date(Date.parse(at(0.15)) + 10_000).toISOString();
          assert.equal(await store.acquireLease('spam-watcher', 'b', 10_000, expiry), true);
          assert.equal(await store.renewLease('spam-watcher', 'a', 10_000, expiry), false);
          assert.equal((await store.getLease('spam-watcher'))!.acquiredAt, expiry);
          assert.equal(await store.releaseLease('spam-watcher', 'a'), false);
          assert.equal(await store.releaseLease('spam-watcher', 'b'), true);
          assert.equal(await store.getLease('spam-watcher'), null);
          assert.equal(await store.acquireLease('spam-watcher', 'a', 10_000, expiry), true);
          await assert.rejects(store.acquireLease('x', 'a', 0, at(0)), (e) => isLagebotError(e, 'INVALID_INPUT'));
        }));

      test('concurrent acquires from two store instances: one holder', () =>
        withStore(async (store, h) => {
          const other = await h.open();
          const got = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).acquireLease('w', `h${i}`, 60_000, at(0))),
          );
          assert.equal(got.filter(Boolean).length, 1);
          assert.equal((await store.getLease('w'))!.holder, `h${got.indexOf(true)}`);
        }));

      test('two processes compete: one holds it; after SIGKILL the other takes over once the TTL ran out', () =>
        withStore(async (store, h) => {
          const ttlMs = 2000;
          const children = ['p1', 'p2'].map((holder) =>
            spawnStoreChild(h.options, ['lease', 'spam-watcher', holder, String(ttlMs), '100']),
          );
          try {
            const acquiredBy = (holder: string) => (l: string) => l.startsWith(`acquired ${holder} `);
            const first = await Promise.race(
              children.map((c, i) => c.waitFor(acquiredBy(`p${i + 1}`), 'acquired').then(() => i)),
            );
            const holder = children[first]!;
            const other = children[1 - first]!;
            const otherName = `p${2 - first}`;
            // Let the other one try (and fail) a few times while the holder renews.
            const triedAfter = other.lines.length;
            await other.waitFor(
              (l) => other.lines.indexOf(l) >= triedAfter + 3 && l.startsWith('tried '),
              'three more failed tries',
            );
            assert.ok(!other.lines.some(acquiredBy(otherName)), 'both processes held the lease');
            assert.ok(!holder.lines.some((l) => l.startsWith('lost ')));
            await holder.kill('SIGKILL');
            const dead = await store.getLease('spam-watcher');
            assert.equal(dead!.holder, `p${first + 1}`);
            const takeover = await other.waitFor(acquiredBy(otherName), 'takeover');
            const takenAt = takeover.split(' ')[2]!;
            assert.ok(
              Date.parse(takenAt) >= Date.parse(dead!.expiresAt),
              `taken at ${takenAt}, before the dead holder's lease ran out at ${dead!.expiresAt}`,
            );
            assert.equal((await store.getLease('spam-watcher'))!.holder, otherName);
          } finally {
            await Promise.all(children.map((c) => c.kill('SIGKILL')));
          }
        }));
    });

    describe('durability', parallel, () => {
      test('every transition acknowledged before a SIGKILL is there after reopening', () =>
        withStore(async (store, h) => {
          await store.createRequest(newRequest('r1'), created('r1'));
          await store.close();
          const child = spawnStoreChild(h.options, ['burst', 'r1', '100000']);
          let acked: number;
          try {
            await child.waitFor((l) => l === 'ack 40', '40 acknowledged transitions');
          } finally {
            await child.kill('SIGKILL');
            acked = Math.max(...child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4))));
          }
          assert.equal(child.proc.signalCode, 'SIGKILL', 'killed in the middle, not finished');
          const reopened = await h.open();
          const r = await reopened.getRequest('r1');
          assert.ok(r!.version >= acked, `version ${r!.version} < acknowledged ${acked}`);
          const audit = await reopened.listAudit({ requestId: 'r1', limit: 1000 });
          const versions = new Set(audit.map((e) => (e.details as { version?: number } | null)?.version));
          for (let v = 2; v <= acked; v++) assert.ok(versions.has(v), `audit entry for version ${v} missing`);
          // No half transitions: each committed version has exactly its request row, audit entry and outbox row.
          assert.equal(audit.length, r!.version);
          assert.equal((await reopened.listOutboxForRequest('r1')).length, r!.version - 1);
          assertIntact(await reopened.verifyAuditChain(), r!.version);
        }));
    });

    describe('migrations', parallel, () => {
      test('two stores starting at once on a fresh database migrate once', async () => {
        const fresh = await makeHarness({ fresh: true });
        try {
          const [a, b] = await Promise.all([fresh.open(), fresh.open()]);
          await a.createRequest(newRequest('r1'), []);
          assert.equal((await b.getRequest('r1'))!.id, 'r1');
          assert.deepEqual(await a.migrate(), []);
          assert.deepEqual(await b.migrate(), []);
        } finally {
          await fresh.dispose();
        }
      });
    });

    describe('documents: request cards, the spam detector state, turn state', parallel, () => {
      test('request cards: added once, listed in order, kept when two stores add at the same time', () =>
        withStore(async (store, h) => {
          assert.deepEqual(await store.listRequestCards('r-1'), []);
          await store.addRequestCard('r-1', { conversationId: 'c-a', activityId: 'a-1' });
          await store.addRequestCard('r-1', { conversationId: 'c-a', activityId: 'a-1' });
          const other = await h.open();
          await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
              (i % 2 ? store : other).addRequestCard('r-1', { conversationId: `c-${i}`, activityId: `a-${i}` }),
            ),
          );
          const cards = await store.listRequestCards('r-1');
          assert.equal(cards.length, 7, JSON.stringify(cards));
          assert.deepEqual(cards[0], { conversationId: 'c-a', activityId: 'a-1' });
          assert.deepEqual(await store.listRequestCards('r-2'), []);
        }));

      test('spam detector state: created once, then written only on the eTag read', () =>
        withStore(async (store) => {
          assert.equal(await store.readSpamDetectorState(), null);
          const first = await store.writeSpamDetectorState({ v: 1, n: 1 }, null);
          assert.ok(first.ok);
          assert.deepEqual(await store.writeSpamDetectorState({ v: 1, n: 99 }, null), { ok: false });
          const second = await store.writeSpamDetectorState({ v: 1, n: 2 }, first.etag);
          assert.ok(second.ok);
          assert.deepEqual(await store.writeSpamDetectorState({ v: 1, n: 3 }, first.etag), { ok: false });
          assert.deepEqual(await store.readSpamDetectorState(), { etag: second.etag, data: { v: 1, n: 2 } });
        }));

      test('spam detector shards: written with the head in one transaction, none when its eTag is stale', () =>
        withStore(async (store, h) => {
          assert.deepEqual(await store.readSpamDetectorShards(), []);
          const first = await store.writeSpamDetectorState({ v: 2, n: 1 }, null, [
            { shard: 0, data: '{"a":0}' },
            { shard: 1, data: '{"b":1}' },
          ]);
          assert.ok(first.ok);
          // A second writer that read no head, and one that read an old eTag: neither head nor shards land.
          assert.deepEqual(await store.writeSpamDetectorState({ v: 2, n: 99 }, null, [{ shard: 0, data: 'x' }]), {
            ok: false,
          });
          const second = await store.writeSpamDetectorState({ v: 2, n: 2 }, first.etag, [
            { shard: 1, data: '{"b":2}' },
          ]);
          assert.ok(second.ok);
          const other = await h.open();
          assert.deepEqual(await other.writeSpamDetectorState({ v: 2, n: 3 }, first.etag, [{ shard: 0, data: 'y' }]), {
            ok: false,
          });
          // Shards not given keep what they hold; the text comes back as it was written.
          assert.deepEqual(await other.readSpamDetectorShards(), [
            { shard: 0, data: '{"a":0}' },
            { shard: 1, data: '{"b":2}' },
          ]);
          assert.deepEqual(await store.readSpamDetectorState(), { etag: second.etag, data: { v: 2, n: 2 } });
        }));

      test('decision codes: one document per request, redeemed once when two stores race on one eTag', () =>
        withStore(async (store, h) => {
          assert.equal(await store.readDecisionCodes('r-1'), null);
          const first = await store.writeDecisionCodes('r-1', { codes: [{ code: '123456' }] }, null);
          assert.ok(first.ok);
          assert.deepEqual(await store.writeDecisionCodes('r-1', { codes: [] }, null), { ok: false });
          const other = await h.open();
          const results = await Promise.all([
            store.writeDecisionCodes('r-1', { codes: [{ code: '123456', usedAt: 'a' }] }, first.etag),
            other.writeDecisionCodes('r-1', { codes: [{ code: '123456', usedAt: 'b' }] }, first.etag),
          ]);
          assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
          assert.equal(await store.readDecisionCodes('r-2'), null);
          assert.deepEqual(await store.readTurnState(['decision-codes:r-1']), {});
        }));

      test('each use has its own key space: turn state never sees the other documents', () =>
        withStore(async (store) => {
          await store.addRequestCard('r-1', { conversationId: 'c', activityId: 'a' });
          await store.writeSpamDetectorState({ v: 1 }, null);
          assert.deepEqual(await store.readTurnState(['spam-detector', 'request-cards:r-1', 'r-1']), {});
          await store.writeTurnState([{ key: 'spam-detector', data: { mine: true }, ifEtag: null }]);
          await store.deleteTurnState(['spam-detector', 'request-cards:r-1']);
          assert.deepEqual((await store.readSpamDetectorState())?.data, { v: 1 });
          assert.equal((await store.listRequestCards('r-1')).length, 1);
        }));

      test('002_documents moves what the turn_state table held into the key spaces', async () => {
        const h = await makeHarness({ fresh: true });
        try {
          const schema = h.engine === 'postgres' ? h.options.schema : undefined;
          await h.exec(
            `${schema ? `CREATE SCHEMA IF NOT EXISTS ${schema};` : ''}
             ${migrations.find((m) => m.id === '001_init')![h.engine]}
             CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT);
             INSERT INTO schema_migrations (id) VALUES ('001_init');
             INSERT INTO turn_state (key, etag, data) VALUES
               ('msteams/bot/conversations/c-1', 'e-1', '{"topic":"status"}'),
               ('lagebot:request-cards:r-7', 'e-2', '{"cards":[{"conversationId":"c-1","activityId":"a-1"}]}'),
               ('lagebot:spam-detector', 'e-3', '{"v":1,"polledTo":"2024-02-15T17:00:00.000Z"}');`,
          );
          const store = await h.open();
          assert.deepEqual(await store.readTurnState(['msteams/bot/conversations/c-1']), {
            'msteams/bot/conversations/c-1': { etag: 'e-1', data: { topic: 'status' } },
          });
          assert.deepEqual(await store.listRequestCards('r-7'), [{ conversationId: 'c-1', activityId: 'a-1' }]);
          assert.deepEqual(await store.readSpamDetectorState(), {
            etag: 'e-3',
            data: { v: 1, polledTo: '2024-02-15T17:00:00.000Z' },
          });
        } finally {
          await h.dispose();
        }
      });
    });

    describe('turn storage', parallel, () => {
      test('eTag conflicts are refused like MemoryStorage', () =>
        withStore(async (store) => {
          // The same script against botbuilder's MemoryStorage and ours must give the same outcomes.
          async function script(storage: Storage): Promise<string[]> {
            const log: string[] = [];
            const attempt = async (label: string, fn: () => Promise<unknown>) => {
              try {
                await fn();
                log.push(`${label}: ok`);
              } catch (e) {
                log.push(`${label}: ${(e as Error).message}`);
              }
            };
            await attempt('read missing', async () => assert.deepEqual(await storage.read(['k']), {}));
            await attempt('write new with made-up eTag', () => storage.write({ k: { n: 1, eTag: 'made-up' } }));
            const v1 = (await storage.read(['k']))['k']!;
            log.push(`v1 has eTag: ${typeof v1.eTag === 'string' && v1.eTag !== 'made-up'}`);
            await attempt('write with current eTag', () => storage.write({ k: { ...v1, n: 2 } }));
            await attempt('write with stale eTag', () => storage.write({ k: { ...v1, n: 3 } }));
            log.push(`n after stale write: ${(await storage.read(['k']))['k']!.n}`);
            await attempt('write with *', () => storage.write({ k: { n: 4, eTag: '*' } }));
            await attempt('write without eTag', () => storage.write({ k: { n: 5 } }));
            const v5 = (await storage.read(['k']))['k']!;
            log.push(`n=${v5.n}, new eTag: ${v5.eTag !== v1.eTag}`);
            await attempt('delete', () => storage.delete(['k']));
            await attempt('read after delete', async () => assert.deepEqual(await storage.read(['k']), {}));
            await attempt('write after delete with old eTag', () => storage.write({ k: { ...v5, n: 6 } }));
            return log;
          }
          const ours = await script(new StoreTurnStorage(store));
          assert.deepEqual(ours, await script(new MemoryStorage()));
          assert.ok(ours.includes('write with stale eTag: Storage: error writing "k" due to eTag conflict.'));
        }));

      test('a multi-key write with one conflict writes nothing; state survives a restart', () =>
        withStore(async (store, h) => {
          const storage = new StoreTurnStorage(store);
          await storage.write({ conv: { topic: 'status', nested: { list: [1, 2] } }, user: { lang: 'de' } });
          const before = await storage.read(['conv', 'user']);
          await assert.rejects(
            storage.write({ conv: { ...before['conv'], topic: 'x' }, user: { lang: 'en', eTag: 'stale' } }),
            /eTag conflict/,
          );
          assert.deepEqual(await storage.read(['conv', 'user']), before);
          await store.close();
          const reopened = new StoreTurnStorage(await h.open());
          assert.deepEqual(await reopened.read(['conv', 'user', 'none']), before);
        }));
    });
  });
}

/** The chain verified intact with `count` entries (what else was checked depends on the test). */
function assertIntact(result: AuditVerification, count: number): void {
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.count, count);
}

async function dropAppendOnlyTriggers(h: StoreHarness): Promise<void> {
  // What someone with DDL rights could do; the hash chain must still tell.
  if (h.engine === 'sqlite') {
    await h.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  } else {
    await h.exec('ALTER TABLE audit_log DISABLE TRIGGER USER');
  }
}
