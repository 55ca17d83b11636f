import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { PatchCompliance, RegionCompliance, StateCounts } from '../../../src/domain/model.ts';
import { defaultReleasePolicy, evaluateReleasePolicy, isWorse } from '../../../src/domain/release-policy.ts';

function counts(installed: number, total: number): StateCounts {
  const open = total - installed;
  return { total, installed, pending: open, pending_reboot: 0, failed: 0, unknown: 0, notApplicable: 0, stale: 0 };
}

const none = counts(0, 0);

function scope(...patches: [string, StateCounts, StateCounts][]): RegionCompliance {
  return {
    regionId: 'kr-olpe',
    name: 'Kreis Olpe',
    kind: 'kreis',
    patches: patches.map(
      ([patchId, clients, servers]): PatchCompliance => ({ patchId, clients, servers, exchangeServers: servers }),
    ),
  };
}

// Nordverband on Monday afternoon: everything patched.
const nord = scope(['exchange-2024-02', none, counts(40, 40)], ['outlook-2024-02', counts(5_200, 5_200), none]);
// Kreis Olpe the same day: servers done, 100 rebuilt clients on the old Outlook.
const olpe = scope(['exchange-2024-02', none, counts(4, 4)], ['outlook-2024-02', counts(2_100, 2_200), none]);

describe('evaluateReleasePolicy', () => {
  test('the default asks for every server and every client: a fully patched scope meets it', () => {
    assert.deepEqual(defaultReleasePolicy, { patches: [], minClientPct: 100, minServerPct: 100 });
    assert.deepEqual(evaluateReleasePolicy(nord), { meets: true, shortfalls: [], missingPatches: [] });
  });

  test('one unpatched client is a shortfall with its numbers', () => {
    assert.deepEqual(evaluateReleasePolicy(olpe, defaultReleasePolicy), {
      meets: false,
      shortfalls: [
        { patchId: 'outlook-2024-02', kind: 'client', installed: 2_100, total: 2_200, pct: 95.5, required: 100 },
      ],
      missingPatches: [],
    });
    const almost = scope(['outlook-2024-02', counts(9_999, 10_000), none]);
    const r = evaluateReleasePolicy(almost);
    assert.equal(r.meets, false);
    assert.equal(r.shortfalls[0]!.pct, 99.9);
  });

  test('server shortfalls are reported as kind server', () => {
    const r = evaluateReleasePolicy(scope(['exchange-2024-02', none, counts(3, 4)]));
    assert.deepEqual(r.shortfalls, [
      { patchId: 'exchange-2024-02', kind: 'server', installed: 3, total: 4, pct: 75, required: 100 },
    ]);
  });

  test('thresholds are compared on the exact share, inclusive', () => {
    const p = { patches: [], minClientPct: 95, minServerPct: 100 };
    assert.equal(evaluateReleasePolicy(scope(['outlook-2024-02', counts(95, 100), none]), p).meets, true);
    assert.equal(evaluateReleasePolicy(scope(['outlook-2024-02', counts(949, 1_000), none]), p).meets, false);
    // 2,100 of 2,200 is 95.45 %: enough for 95, not for 95.5
    assert.equal(evaluateReleasePolicy(olpe, p).meets, true);
    assert.equal(evaluateReleasePolicy(olpe, { ...p, minClientPct: 95.5 }).meets, false);
  });

  test('policy patches narrow the check; listed patches the inventory does not report fail it', () => {
    const onlyExchange = { ...defaultReleasePolicy, patches: ['exchange-2024-02'] };
    assert.deepEqual(evaluateReleasePolicy(olpe, onlyExchange), { meets: true, shortfalls: [], missingPatches: [] });
    const withUnknown = { ...defaultReleasePolicy, patches: ['exchange-2024-02', 'edge-2024-03'] };
    assert.deepEqual(evaluateReleasePolicy(olpe, withUnknown), {
      meets: false,
      shortfalls: [],
      missingPatches: ['edge-2024-03'],
    });
  });

  test('a scope with no devices of a kind has nothing to patch for that kind', () => {
    assert.equal(evaluateReleasePolicy(scope(['outlook-2024-02', none, none])).meets, true);
  });

  test('property: meets at 100 % exactly when nothing is unpatched', () => {
    const c = fc.tuple(fc.nat(50), fc.nat(50)).map(([i, open]) => counts(i, i + open));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), c, c), { maxLength: 3 }), (rows) => {
        const unique = [...new Map(rows.map((r) => [r[0], r])).values()];
        const s = scope(...unique);
        const open = unique.some(([, cl, sv]) => cl.installed < cl.total || sv.installed < sv.total);
        assert.equal(evaluateReleasePolicy(s).meets, !open);
      }),
      { numRuns: 500 },
    );
  });
});

describe('isWorse', () => {
  test('more unpatched clients than at the request is worse (rebuilt clients appeared)', () => {
    const later = scope(['exchange-2024-02', none, counts(4, 4)], ['outlook-2024-02', counts(2_100, 2_230), none]);
    assert.equal(isWorse(olpe, later), true);
  });

  test('progress, or unchanged, is not worse', () => {
    const later = scope(['exchange-2024-02', none, counts(4, 4)], ['outlook-2024-02', counts(2_150, 2_200), none]);
    assert.equal(isWorse(olpe, later), false);
    assert.equal(isWorse(olpe, olpe), false);
  });

  test('devices that left the inventory are not worse; new ones that arrive patched are not either', () => {
    const fewer = scope(['exchange-2024-02', none, counts(4, 4)], ['outlook-2024-02', counts(2_090, 2_150), none]);
    assert.equal(isWorse(olpe, fewer), false);
    const grownPatched = scope(
      ['exchange-2024-02', none, counts(5, 5)],
      ['outlook-2024-02', counts(2_200, 2_300), none],
    );
    assert.equal(isWorse(olpe, grownPatched), false);
  });

  test('a server falling back is worse', () => {
    const later = scope(['exchange-2024-02', none, counts(3, 4)], ['outlook-2024-02', counts(2_100, 2_200), none]);
    assert.equal(isWorse(olpe, later), true);
  });

  test('only the policy patches count', () => {
    const later = scope(['exchange-2024-02', none, counts(4, 4)], ['outlook-2024-02', counts(2_000, 2_200), none]);
    assert.equal(isWorse(olpe, later, { ...defaultReleasePolicy, patches: ['exchange-2024-02'] }), false);
    assert.equal(isWorse(olpe, later, { ...defaultReleasePolicy, patches: ['outlook-2024-02'] }), true);
  });

  test('a patch that vanished from the report is worse; a new one with unpatched devices too', () => {
    const vanished = scope(['exchange-2024-02', none, counts(4, 4)]);
    assert.equal(isWorse(olpe, vanished), true);
    const added = scope(
      ...olpe.patches.map((p): [string, StateCounts, StateCounts] => [p.patchId, p.clients, p.servers]),
      ['edge-2024-03', counts(0, 3), none],
    );
    assert.equal(isWorse(olpe, added), true);
  });
});
