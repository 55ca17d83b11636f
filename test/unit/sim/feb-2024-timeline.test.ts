import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { complianceHistory, complianceReport, patchStatePage } from '../../../src/contracts/inventory.ts';
import { BUILDS } from '../../../src/sim/patches.ts';
import { createSimulator, type Simulator } from '../../../src/sim/simulator.ts';

// The February-2024 story as the simulator tells it (docs/product.md): Nordverband fully patched by
// Monday 14:00 CET, Südverband servers too, but re-imaged clients in Kreis Olpe and
// Siegen-Wittgenstein stay on an old Outlook until the remediation around 2024-02-29.

const START = '2024-02-15T17:00:00.000Z';
const SUNDAY_NOON = '2024-02-18T12:00:00.000Z';
const MONDAY_1400_CET = '2024-02-19T13:00:00.000Z';

function at(sim: Simulator, iso: string): void {
  const minutes = (Date.parse(iso) - sim.now()) / 60_000;
  if (minutes < 0) {
    sim.reset();
    sim.advance((Date.parse(iso) - sim.now()) / 60_000);
  } else {
    sim.advance(minutes);
  }
  assert.equal(new Date(sim.now()).toISOString(), iso);
}

function counts(sim: Simulator, region: string) {
  const r = sim.compliance(region);
  const exchange = r.region.patches.find((p) => p.patchId === 'exchange-2024-02')!;
  const outlook = r.region.patches.find((p) => p.patchId === 'outlook-2024-02')!;
  return { exchangeServers: exchange.exchangeServers, servers: exchange.servers, clients: outlook.clients };
}

for (const seed of [undefined, 7]) {
  describe(`feb-2024 timeline (seed ${seed ?? 'default'})`, () => {
    const sim = createSimulator({ speed: 0, ...(seed === undefined ? {} : { seed }) });

    test('starts Thursday 2024-02-15 18:00 CET with all external mail held both ways', () => {
      assert.equal(sim.clock().now, START);
      assert.equal(sim.clock().scenario, 'feb-2024');
      const domains = sim.domains();
      assert.equal(domains.length, 64);
      for (const d of domains) {
        assert.equal(d.inbound, 'held', d.domain);
        assert.equal(d.outbound, 'held', d.domain);
      }
    });

    test('at the start patching is under way, not done', () => {
      at(sim, START);
      for (const region of ['vb-nord', 'vb-sued']) {
        const c = counts(sim, region);
        assert.ok(c.clients.installed > 0 && c.clients.installed < c.clients.total, region);
        assert.ok(c.exchangeServers.installed < c.exchangeServers.total, region);
        assert.ok(c.clients.unknown > 0, `${region}: some devices unseen for over a week`);
      }
    });

    test('Sunday noon: the Nordverband is not yet at 100 %', () => {
      at(sim, SUNDAY_NOON);
      const nord = counts(sim, 'vb-nord');
      assert.ok(nord.clients.installed < nord.clients.total);
    });

    test('Monday 14:00 CET: Nordverband 100 % servers and clients, nobody unknown', () => {
      at(sim, MONDAY_1400_CET);
      const nord = counts(sim, 'vb-nord');
      assert.ok(nord.exchangeServers.total >= 3);
      assert.equal(nord.exchangeServers.installed, nord.exchangeServers.total);
      assert.equal(nord.servers.installed, nord.servers.total);
      assert.ok(nord.clients.total > 5_000);
      assert.equal(nord.clients.installed, nord.clients.total);
      assert.equal(nord.clients.unknown, 0);
      for (const kreis of ['kr-soest', 'kr-hsk', 'kr-mk']) {
        const c = counts(sim, kreis);
        assert.equal(c.clients.installed, c.clients.total, kreis);
      }
    });

    test('Monday 14:00 CET: Südverband servers 100 %, a few hundred re-imaged clients pending or failed', () => {
      at(sim, MONDAY_1400_CET);
      const sued = counts(sim, 'vb-sued');
      assert.ok(sued.exchangeServers.total >= 2);
      assert.equal(sued.exchangeServers.installed, sued.exchangeServers.total);
      assert.ok(sued.clients.installed < sued.clients.total);
      assert.ok(sued.clients.failed > 0);
      assert.ok(sued.clients.pending > 0);
      for (const kreis of ['kr-olpe', 'kr-siegen-wittgenstein']) {
        assert.ok(counts(sim, kreis).clients.failed > 0, `${kreis} has failed clients`);
      }
      const oldImage = sim.patchStates({
        patch: 'outlook-2024-02',
        region: 'vb-sued',
        states: ['pending', 'failed'],
        limit: 1000,
      });
      assert.ok(oldImage.total >= 150 && oldImage.total <= 400, `re-imaged clients: ${oldImage.total}`);
      assert.ok(oldImage.items.every((r) => r.kind === 'client' && r.kreis !== 'kr-soest'));
      assert.ok(oldImage.items.some((r) => r.build === BUILDS.outlookOldImage));
    });

    test('the Nordverband stays complete, the Südverband completes with the remediation', () => {
      at(sim, '2024-02-20T12:00:00.000Z');
      const nord = counts(sim, 'vb-nord');
      assert.equal(nord.clients.installed, nord.clients.total);
      assert.equal(nord.clients.unknown, 0);
      at(sim, '2024-02-28T00:00:00.000Z');
      const before = counts(sim, 'vb-sued');
      assert.ok(before.clients.installed < before.clients.total);
      at(sim, '2024-03-01T00:00:00.000Z');
      const after = counts(sim, 'vb-sued');
      assert.equal(after.clients.installed, after.clients.total);
    });
  });
}

describe('feb-2024 inventory views agree with each other', () => {
  const sim = createSimulator({ speed: 0 });
  sim.advance((Date.parse(MONDAY_1400_CET) - sim.now()) / 60_000);

  test('compliance: region and direct children, kommune without children; contract-valid', () => {
    const kreis = complianceReport.parse(sim.compliance('kr-olpe'));
    assert.equal(kreis.region.regionId, 'kr-olpe');
    assert.equal(kreis.children.length, 7);
    assert.equal(kreis.observedAt, MONDAY_1400_CET);
    const town = sim.compliance('ko-attendorn', 'outlook-2024-02');
    assert.deepEqual(town.children, []);
    assert.deepEqual(
      town.region.patches.map((p) => p.patchId),
      ['outlook-2024-02'],
    );
    const verband = sim.compliance('vb-nord');
    assert.deepEqual(verband.children.map((c) => c.regionId).sort(), ['kr-hsk', 'kr-mk', 'kr-soest']);
  });

  test('a Kreis counts its towns plus the Kreis administration, a Verband its Kreise', () => {
    const outlookClients = (r: { patches: { patchId: string; clients: { total: number } }[] }) =>
      r.patches.find((p) => p.patchId === 'outlook-2024-02')!.clients.total;
    const verband = sim.compliance('vb-sued');
    assert.equal(
      outlookClients(verband.region),
      verband.children.reduce((s, c) => s + outlookClients(c), 0),
    );
    const kreis = sim.compliance('kr-olpe');
    const adminDevices = sim.devices({ region: 'kr-olpe', kind: 'client', limit: 1000 });
    const ownClients = adminDevices.total - kreis.children.reduce((s, c) => s + outlookClients(c), 0);
    assert.ok(ownClients > 0);
    assert.equal(outlookClients(kreis.region), adminDevices.total);
  });

  test('counts: total = sum of states, not_applicable excluded', () => {
    const c = counts(sim, 'vb-sued').clients;
    assert.equal(c.total, c.installed + c.pending + c.pending_reboot + c.failed + c.unknown);
    const exchange = sim.compliance('vb-sued', 'exchange-2024-02').region.patches[0]!;
    assert.equal(exchange.clients.total, 0);
    assert.equal(exchange.clients.notApplicable, counts(sim, 'vb-sued').clients.total);
    assert.ok(exchange.servers.notApplicable > 0, 'non-Exchange servers are not applicable');
  });

  test('patch-states: filters match compliance; rows are contract-valid; pages cover all rows once', () => {
    const failed = sim.compliance('kr-siegen-wittgenstein', 'outlook-2024-02').region.patches[0]!.clients.failed;
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = patchStatePage.parse(
        sim.patchStates({
          patch: 'outlook-2024-02',
          region: 'kr-siegen-wittgenstein',
          states: ['failed'],
          limit: 7,
          cursor,
        }),
      );
      assert.equal(page.total, failed);
      for (const row of page.items) {
        assert.equal(row.state, 'failed');
        assert.equal(row.kreis, 'kr-siegen-wittgenstein');
        seen.add(row.deviceId);
      }
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(seen.size, failed);
    assert.equal(pages, Math.ceil(failed / 7));
  });

  test('patch-states sort=priority: servers first, then failed, then the longest unseen', () => {
    sim.reset();
    const page = sim.patchStates({
      patch: 'outlook-2024-02',
      region: 'vb-sued',
      states: ['failed', 'pending', 'unknown'],
      limit: 1000,
    });
    const failedEnd = page.items.findIndex((r) => r.state !== 'failed');
    assert.ok(failedEnd > 0, 'failed rows come first');
    assert.ok(page.items.slice(failedEnd).every((r) => r.state !== 'failed'));
    const rest = page.items.slice(failedEnd).map((r) => Date.parse(r.lastSeenAt));
    for (let k = 1; k < rest.length; k++) assert.ok(rest[k - 1]! <= rest[k]!, 'oldest lastSeenAt first');
    const servers = sim.patchStates({ patch: 'exchange-2024-02', states: ['pending'], sort: 'priority', limit: 3 });
    assert.ok(servers.items.every((r) => r.kind === 'server' && r.role === 'exchange'));
    const byName = sim.patchStates({ patch: 'outlook-2024-02', region: 'kr-olpe', sort: 'hostname', limit: 50 });
    const names = byName.items.map((r) => r.hostname);
    assert.deepEqual(names, [...names].sort());
  });

  test('a cursor keeps its snapshot and refuses another query', () => {
    sim.reset();
    const first = sim.patchStates({ patch: 'outlook-2024-02', region: 'vb-nord', states: ['pending'], limit: 10 });
    sim.advance(24 * 60);
    const second = sim.patchStates({
      patch: 'outlook-2024-02',
      region: 'vb-nord',
      states: ['pending'],
      limit: 10,
      cursor: first.nextCursor!,
    });
    assert.equal(second.total, first.total, 'same snapshot minute as the first page');
    assert.throws(
      () => sim.patchStates({ patch: 'outlook-2024-02', region: 'vb-sued', limit: 10, cursor: first.nextCursor! }),
      { code: 'invalid_cursor' },
    );
  });

  test('history points equal compliance at the same minutes', () => {
    sim.reset();
    sim.advance(16 * 24 * 60);
    const from = '2024-02-13T00:00:00.000Z';
    for (const [region, patch] of [
      ['vb-sued', 'outlook-2024-02'],
      ['kr-hsk', 'outlook-2024-02'],
      ['vb-nord', 'exchange-2024-02'],
    ] as const) {
      const h = complianceHistory.parse(
        sim.history({ region, patch, from, to: '2024-03-01T00:00:00.000Z', stepMinutes: 7 * 60 + 13 }),
      );
      assert.equal(h.points[0]!.at, from);
      const probe = createSimulator({ speed: 0 });
      let checked = 0;
      for (const point of h.points.filter((_, k) => k % 9 === 0)) {
        if (Date.parse(point.at) < probe.now()) continue; // the probe's clock cannot go before the start
        probe.advance((Date.parse(point.at) - probe.now()) / 60_000);
        const c = probe.compliance(region, patch).region.patches[0]!;
        assert.deepEqual(
          point.clients,
          { total: c.clients.total, installed: c.clients.installed },
          `${region} ${point.at}`,
        );
        assert.deepEqual(
          point.servers,
          { total: c.servers.total, installed: c.servers.installed },
          `${region} ${point.at}`,
        );
        checked++;
      }
      assert.ok(checked >= 4, `compared ${checked} points`);
    }
  });

  test('history ends now and refuses more than 2000 points', () => {
    sim.reset();
    const h = sim.history({
      region: 'kr-olpe',
      patch: 'outlook-2024-02',
      from: '2024-02-15T00:00:00Z',
      to: '2024-02-20T00:00:00Z',
      stepMinutes: 60,
    });
    assert.equal(h.points.at(-1)!.at, START);
    assert.equal(h.points.length, 18);
    assert.throws(
      () =>
        sim.history({
          region: 'kr-olpe',
          patch: 'outlook-2024-02',
          from: '2024-02-01T00:00:00Z',
          to: '2024-02-15T00:00:00Z',
          stepMinutes: 1,
        }),
      { code: 'range_too_large' },
    );
    assert.throws(() => sim.history({ region: 'kr-nowhere', patch: 'outlook-2024-02', from: START, to: START }), {
      code: 'region_not_found',
    });
    assert.throws(() => sim.compliance('kr-olpe', 'windows-1999'), { code: 'patch_not_found' });
  });
});

describe('other scenarios', () => {
  test('all-patched: every applicable device installed, every domain open', () => {
    const sim = createSimulator({ speed: 0, scenario: 'all-patched' });
    const c = counts(sim, 'vb-sued');
    assert.equal(c.clients.installed, c.clients.total);
    assert.equal(c.exchangeServers.installed, c.exchangeServers.total);
    assert.ok(sim.domains().every((d) => d.inbound === 'open' && d.outbound === 'open'));
    assert.equal(sim.clock().now, START);
  });

  test('empty: geography and domains, no devices', () => {
    const sim = createSimulator({ speed: 0, scenario: 'empty' });
    assert.equal(sim.fleetSize().devices, 0);
    assert.equal(sim.regions().length, 66);
    assert.equal(sim.domains().length, 64);
    assert.equal(counts(sim, 'vb-nord').clients.total, 0);
    assert.equal(sim.devices({}).total, 0);
  });

  test('reset switches scenario and seed', () => {
    const sim = createSimulator({ speed: 0 });
    sim.advance(600);
    const state = sim.reset('all-patched', 5);
    assert.deepEqual(state, { now: START, speed: 0, scenario: 'all-patched', seed: 5 });
    assert.equal(sim.domain('olpe.de').inbound, 'open');
  });
});
