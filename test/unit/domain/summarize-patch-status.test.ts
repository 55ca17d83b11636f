import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ComplianceReport, PatchCompliance, RegionCompliance, StateCounts } from '../../../src/domain/model.ts';
import { defaultReleasePolicy } from '../../../src/domain/release-policy.ts';
import { percent, summarizePatchStatus } from '../../../src/domain/summarize-patch-status.ts';
import { trackedPatches } from '../../fixtures/patches.ts';

// Counts as the inventory reports them: total = applicable devices, the states add up to it.
function counts(installed: number, open: Partial<Omit<StateCounts, 'total' | 'installed'>> = {}): StateCounts {
  const c = { pending: 0, pending_reboot: 0, failed: 0, unknown: 0, notApplicable: 0, stale: 0, ...open };
  return { total: installed + c.pending + c.pending_reboot + c.failed + c.unknown, installed, ...c };
}

function patchCompliance(
  patchId: string,
  clients: StateCounts,
  servers: StateCounts,
  exchange = counts(0),
): PatchCompliance {
  return { patchId, clients, servers, exchangeServers: exchange };
}

const patches = trackedPatches;

function region(
  regionId: string,
  name: string,
  kind: RegionCompliance['kind'],
  p: PatchCompliance[],
): RegionCompliance {
  return { regionId, name, kind, patches: p };
}

// Südverband on Monday 19 Feb 2024: servers done, rebuilt clients in both Kreise still on old Outlook.
const olpe = region('kr-olpe', 'Kreis Olpe', 'kreis', [
  patchCompliance('outlook-2024-02', counts(2_100, { pending: 80, failed: 20, stale: 5 }), counts(0)),
  patchCompliance('exchange-2024-02', counts(0), counts(4), counts(4)),
]);
const siwi = region('kr-siegen-wittgenstein', 'Kreis Siegen-Wittgenstein', 'kreis', [
  patchCompliance('outlook-2024-02', counts(4_000, { pending: 150, pending_reboot: 30, failed: 20 }), counts(0)),
  patchCompliance('exchange-2024-02', counts(0), counts(6), counts(6)),
]);
const sued = region('vb-sued', 'Südverband', 'verband', [
  patchCompliance(
    'outlook-2024-02',
    counts(6_100, { pending: 230, pending_reboot: 30, failed: 40, stale: 5 }),
    counts(0),
  ),
  patchCompliance('exchange-2024-02', counts(0), counts(10), counts(10)),
]);
const report: ComplianceReport = {
  observedAt: '2024-02-19T13:00:00Z',
  staleAfterHours: 24,
  region: sued,
  children: [siwi, olpe],
};

describe('summarizePatchStatus', () => {
  const view = summarizePatchStatus(report, patches, defaultReleasePolicy);

  test('keeps the observation time and stale threshold', () => {
    assert.equal(view.observedAt, '2024-02-19T13:00:00Z');
    assert.equal(view.staleAfterHours, 24);
  });

  test('per patch: tallies, titles, counts by state; catalogue order', () => {
    assert.deepEqual(
      view.region.patches.map((p) => p.patchId),
      ['exchange-2024-02', 'outlook-2024-02'],
    );
    const outlook = view.region.patches[1]!;
    assert.equal(outlook.title, 'Outlook security update (CVE-2024-21413)');
    assert.deepEqual(outlook.clients, { installed: 6_100, total: 6_400, unpatched: 300, pct: 95.3 });
    assert.deepEqual(outlook.servers, { installed: 0, total: 0, unpatched: 0, pct: null });
    assert.deepEqual(outlook.counts, { pending: 230, pending_reboot: 30, failed: 40, unknown: 0, stale: 5 });
    const exchange = view.region.patches[0]!;
    assert.deepEqual(exchange.servers, { installed: 10, total: 10, unpatched: 0, pct: 100 });
    assert.deepEqual(exchange.exchange, { installed: 10, total: 10, unpatched: 0, pct: 100 });
    assert.deepEqual(exchange.clients.pct, null);
  });

  test('combined: clients and servers over all patches, Exchange not counted twice', () => {
    assert.deepEqual(view.region.combined, { installed: 6_110, total: 6_410, unpatched: 300, pct: 95.3 });
  });

  test('children worst first, each with the same numbers', () => {
    assert.deepEqual(
      view.children.map((c) => [c.regionId, c.combined.installed, c.combined.total, c.combined.pct]),
      [
        ['kr-siegen-wittgenstein', 4_006, 4_206, 95.2],
        ['kr-olpe', 2_104, 2_204, 95.5],
      ],
    );
    assert.equal(view.children[1]!.patches.length, 2);
    assert.deepEqual(view.children[1]!.patches[1]!.counts, {
      pending: 80,
      pending_reboot: 0,
      failed: 20,
      unknown: 0,
      stale: 5,
    });
  });

  test('ties on share: most unpatched first, then name; children with nothing to patch last', () => {
    const mk = (id: string, name: string, installed: number, open: number) =>
      region(id, name, 'kommune', [
        patchCompliance('outlook-2024-02', counts(installed, { pending: open }), counts(0)),
      ]);
    const v = summarizePatchStatus(
      {
        ...report,
        children: [
          region('ko-leer', 'Leerstadt', 'kommune', []),
          mk('ko-b', 'Bstadt', 90, 10),
          mk('ko-a', 'Astadt', 9, 1),
          mk('ko-c', 'Cstadt', 180, 20),
          mk('ko-d', 'Dstadt', 1, 99),
          mk('ko-e', 'Estadt', 9, 1),
        ],
      },
      patches,
      defaultReleasePolicy,
    );
    // These made-up towns do not add up to the Südverband: the rest is its own row (tested below).
    const towns = v.children.filter((c) => !c.own);
    assert.deepEqual(
      towns.map((c) => c.regionId),
      ['ko-d', 'ko-c', 'ko-b', 'ko-a', 'ko-e', 'ko-leer'],
    );
    assert.equal(towns.at(-1)!.combined.pct, null);
  });

  test('worst first by the figure that decides the policy: one unpatched Exchange server beats 28 % of clients', () => {
    // Issue example: Lennestadt's Exchange server at 0 % came last because its clients were further along.
    const town = (id: string, name: string, clientsDone: number, exchangeDone: number) =>
      region(id, name, 'kommune', [
        patchCompliance(
          'exchange-2024-02',
          counts(0),
          counts(exchangeDone, { pending: 1 - exchangeDone }),
          counts(exchangeDone, { pending: 1 - exchangeDone }),
        ),
        patchCompliance('outlook-2024-02', counts(clientsDone, { pending: 1_000 - clientsDone }), counts(0)),
      ]);
    const v = summarizePatchStatus(
      {
        ...report,
        children: [
          town('ko-olpe', 'Olpe', 288, 1),
          town('ko-attendorn', 'Attendorn', 286, 1),
          town('ko-lennestadt', 'Lennestadt', 900, 0),
        ],
      },
      patches,
      defaultReleasePolicy,
    );
    assert.deepEqual(
      v.children
        .filter((c) => !c.own)
        .map((c) => [c.regionId, c.deciding?.patchId, c.deciding?.kind, c.deciding?.tally.pct]),
      [
        ['ko-lennestadt', 'exchange-2024-02', 'server', 0],
        ['ko-attendorn', 'outlook-2024-02', 'client', 28.6],
        ['ko-olpe', 'outlook-2024-02', 'client', 28.8],
      ],
    );
    assert.equal(v.children[0]!.deciding!.meets, false);
  });

  test('the deciding figure follows the policy: only its patches, against its thresholds', () => {
    const v = summarizePatchStatus(report, patches, {
      patches: ['exchange-2024-02'],
      minClientPct: 100,
      minServerPct: 100,
    });
    assert.deepEqual(v.region.deciding, {
      patchId: 'exchange-2024-02',
      kind: 'server',
      tally: { installed: 10, total: 10, unpatched: 0, pct: 100 },
      required: 100,
      meets: true,
    });
    const lax = summarizePatchStatus(report, patches, { patches: [], minClientPct: 90, minServerPct: 100 });
    // Clients 95.3 % of 90 % leave more room than the Exchange servers' 100 % of 100 %.
    assert.equal(lax.region.deciding!.meets, true);
    assert.equal(lax.region.deciding!.kind, 'server');
  });

  test('"nicht betroffen": a patch with no device of its kind in the scope does not apply', () => {
    const wenden = region('ko-wenden', 'Wenden', 'kommune', [
      patchCompliance('exchange-2024-02', counts(0), counts(0), counts(0)),
      patchCompliance('outlook-2024-02', counts(10, { failed: 2 }), counts(0)),
    ]);
    const v = summarizePatchStatus({ ...report, region: wenden, children: [] }, patches, defaultReleasePolicy);
    assert.deepEqual(
      v.region.patches.map((p) => [p.patchId, p.applies]),
      [
        ['exchange-2024-02', false],
        ['outlook-2024-02', true],
      ],
    );
    assert.deepEqual(v.region.patches[1]!.failed, { clients: 2, servers: 0 });
    assert.equal(v.region.deciding!.patchId, 'outlook-2024-02');
  });

  test("the region's own devices (in none of its children) are a row of their own: the rows add up", () => {
    const kreis = region('kr-olpe', 'Kreis Olpe', 'kreis', [
      patchCompliance('outlook-2024-02', counts(110, { pending: 20, failed: 5 }), counts(0)),
      patchCompliance('exchange-2024-02', counts(0), counts(3), counts(3)),
    ]);
    const town = (id: string, installed: number, pending: number) =>
      region(id, id, 'kommune', [
        patchCompliance('outlook-2024-02', counts(installed, { pending }), counts(0)),
        patchCompliance('exchange-2024-02', counts(0), counts(1), counts(1)),
      ]);
    const v = summarizePatchStatus(
      { ...report, region: kreis, children: [town('ko-a', 50, 10), town('ko-b', 40, 5)] },
      patches,
      defaultReleasePolicy,
    );
    const own = v.children.find((c) => c.own)!;
    assert.equal(own.regionId, 'kr-olpe');
    assert.deepEqual(own.patches.find((p) => p.patchId === 'outlook-2024-02')!.clients, {
      installed: 20,
      total: 30,
      unpatched: 10,
      pct: 66.7,
    });
    assert.deepEqual(own.patches.find((p) => p.patchId === 'outlook-2024-02')!.failed, { clients: 5, servers: 0 });
    const sum = v.children.reduce((n, c) => n + c.combined.total, 0);
    assert.equal(sum, v.region.combined.total);
    // Children that hold everything: no such row.
    const whole = summarizePatchStatus(report, patches, defaultReleasePolicy);
    assert.equal(
      whole.children.some((c) => c.own),
      false,
    );
  });

  test('a patch missing from the catalogue keeps its id as title and goes last', () => {
    const v = summarizePatchStatus(
      {
        ...report,
        region: region('vb-sued', 'Südverband', 'verband', [
          patchCompliance('edge-2024-03', counts(1), counts(0)),
          ...sued.patches,
        ]),
      },
      patches,
      defaultReleasePolicy,
    );
    assert.deepEqual(
      v.region.patches.map((p) => [p.patchId, p.title]),
      [
        ['exchange-2024-02', 'Exchange Server 2019 CU14 (CVE-2024-21410)'],
        ['outlook-2024-02', 'Outlook security update (CVE-2024-21413)'],
        ['edge-2024-03', 'edge-2024-03'],
      ],
    );
  });

  test('a town with no children and no devices', () => {
    const v = summarizePatchStatus(
      { ...report, region: region('ko-wenden', 'Wenden', 'kommune', []), children: [] },
      patches,
      defaultReleasePolicy,
    );
    assert.deepEqual(v.children, []);
    assert.deepEqual(v.region.combined, { installed: 0, total: 0, unpatched: 0, pct: null });
  });
});

describe('percent', () => {
  const cases: [number, number, number | null][] = [
    [0, 0, null],
    [0, 10, 0],
    [10, 10, 100],
    [1, 3, 33.3],
    [2, 3, 66.7],
    [9_999, 10_000, 99.9], // never 100.0 with one device left
    [19_999, 20_000, 99.9],
    [1, 10_000, 0.1], // never 0.0 with one device done
    [6_100, 6_400, 95.3],
  ];
  for (const [installed, total, pct] of cases) {
    test(`${installed}/${total} → ${pct}`, () => {
      assert.equal(percent(installed, total), pct);
    });
  }

  test('property: 100 exactly when all installed, 0 exactly when none, one decimal', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(100_000), (a, b) => {
        const total = Math.max(a, b);
        const installed = Math.min(a, b);
        const pct = percent(installed, total);
        if (total === 0) return assert.equal(pct, null);
        assert.ok(pct !== null);
        assert.equal(pct === 100, installed === total);
        assert.equal(pct === 0, installed === 0);
        assert.equal(Math.round(pct * 10) / 10, pct);
        assert.ok(Math.abs(pct - (installed / total) * 100) <= 0.1 + 1e-9);
      }),
      { numRuns: 2000 },
    );
  });
});
