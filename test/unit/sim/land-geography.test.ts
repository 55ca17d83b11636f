import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { regionNode } from '../../../src/contracts/inventory.ts';
import {
  buildLandGeography,
  LAND_BEZIRKE,
  LAND_GEMEINDEN,
  LAND_KREISE,
  LAND_LEVELS,
} from '../../../src/sim/land-geography.ts';
import { createSimulator } from '../../../src/sim/simulator.ts';

// The state-wide scenario (SIM_SCENARIO=land): its estate's shape, that every level adds up, and
// that a seed always gives the same estate, fleet and rollout.

const SEED = 4711;

describe('sim land geography', () => {
  const geo = buildLandGeography(SEED);
  const ofKind = (kind: string) => geo.nodes.filter((n) => n.kind === kind);

  test('Land > 5 Regierungsbezirke > 80 Kreise > 2,000 Gemeinden with 2,500 domains, valid on the wire', () => {
    assert.equal(ofKind('land').length, 1);
    assert.equal(ofKind('regierungsbezirk').length, LAND_BEZIRKE);
    assert.equal(ofKind('kreis').length, LAND_KREISE);
    assert.equal(ofKind('gemeinde').length, LAND_GEMEINDEN);
    assert.equal(geo.domains.length, 2_500);
    assert.equal(new Set(geo.domains.map((d) => d.name)).size, geo.domains.length);
    for (const n of geo.nodes) regionNode.parse(n);
  });

  test('every node sits on the level its kind names, below a parent one level up', () => {
    const depth = new Map(LAND_LEVELS.map((l, i) => [l.kind, i]));
    const byId = new Map(geo.nodes.map((n) => [n.id, n]));
    for (const n of geo.nodes) {
      const d = depth.get(n.kind);
      assert.notEqual(d, undefined, n.kind);
      if (n.parentId === null) assert.equal(d, 0);
      else assert.equal(depth.get(byId.get(n.parentId)!.kind), d! - 1, n.id);
    }
  });

  test('ids are unique AGS keys, nothing like the Südwestfalen ids; names are unique and pronounceable', () => {
    assert.equal(new Set(geo.nodes.map((n) => n.id)).size, geo.nodes.length);
    for (const n of geo.nodes) {
      assert.match(n.id, /^ags:17\d*$/);
      assert.equal(n.id, `ags:${n.ags}`);
      assert.doesNotMatch(n.id, /^(vb|kr|ko)-/);
    }
    const towns = ofKind('gemeinde').map((n) => n.name);
    assert.equal(new Set(towns).size, towns.length);
    // Pronounceable: one word of letters built from syllables, or "Bad " and one.
    for (const name of towns) assert.match(name, /^(Bad )?[A-ZÄÖÜ][a-zäöüß]+$/);
  });

  test('populations add up on every level', () => {
    for (const parent of geo.nodes) {
      const children = geo.nodes.filter((c) => c.parentId === parent.id);
      if (children.length === 0) continue;
      assert.equal(
        children.reduce((s, c) => s + c.population!, 0),
        parent.population,
        parent.id,
      );
    }
  });

  test('the same seed gives the same estate, another seed another one', () => {
    assert.deepEqual(buildLandGeography(SEED).nodes, geo.nodes);
    const other = buildLandGeography(SEED + 1).nodes;
    assert.notDeepEqual(
      other.map((n) => n.name),
      geo.nodes.map((n) => n.name),
    );
    // The structure of ids is the same for every seed, so scripts can name a Regierungsbezirk.
    assert.deepEqual(
      other.filter((n) => n.kind === 'regierungsbezirk').map((n) => n.id),
      ['ags:171', 'ags:172', 'ags:173', 'ags:174', 'ags:175'],
    );
  });
});

describe('sim land scenario', () => {
  const sim = createSimulator({ scenario: 'land', seed: SEED, devices: 30_000, speed: 0 });

  test('serves its four levels and its own regions', () => {
    assert.deepEqual(sim.levels(), LAND_LEVELS);
    assert.equal(sim.regions().length, 1 + LAND_BEZIRKE + LAND_KREISE + LAND_GEMEINDEN);
    assert.equal(sim.domains().length, 2_500);
    assert.deepEqual(sim.fleetSize(), { devices: 30_000, clients: 28_846, servers: 1_154 });
  });

  test('compliance: children sum to their parent on every level, Kreise adding their own administration', () => {
    const fields = ['total', 'installed', 'pending', 'pending_reboot', 'failed', 'unknown', 'stale'] as const;
    const buckets = ['clients', 'servers', 'exchangeServers'] as const;
    // The Kreis administration's own devices are the ones a device listing of the Kreis has
    // beyond its towns' ones.
    const devicesIn = (region: string) => sim.devices({ region, limit: 1 }).total;
    let checked = 0;
    for (const node of sim.regions()) {
      const report = sim.compliance(node.id);
      if (report.children.length === 0) continue;
      checked++;
      for (let p = 0; p < report.region.patches.length; p++) {
        for (const b of buckets) {
          for (const f of fields) {
            const sum = report.children.reduce((s, c) => s + c.patches[p]![b][f], 0);
            const parent = report.region.patches[p]![b][f];
            if (node.kind === 'kreis') assert.ok(parent >= sum, `${node.id} ${b}.${f}`);
            else assert.equal(sum, parent, `${node.id} ${b}.${f}`);
          }
        }
      }
      if (node.kind === 'kreis') {
        const own = devicesIn(node.id) - report.children.reduce((s, c) => s + devicesIn(c.regionId), 0);
        const total = (r: typeof report.region) =>
          r.patches[0]!.clients.total +
          r.patches[0]!.clients.notApplicable +
          r.patches[0]!.servers.total +
          r.patches[0]!.servers.notApplicable;
        assert.ok(own > 0, `${node.id} has its own administration`);
        assert.equal(total(report.region) - report.children.reduce((s, c) => s + total(c), 0), own, node.id);
      }
    }
    assert.equal(checked, 1 + LAND_BEZIRKE + LAND_KREISE);
    assert.equal(devicesIn('ags:17'), 30_000);
  });

  test('the rollout has stragglers: a week in, most Kreise are through and a few lag behind', () => {
    const s = createSimulator({ scenario: 'land', seed: SEED, devices: 30_000, speed: 0 });
    s.advance(7 * 24 * 60);
    const shares = s
      .compliance('ags:17')
      .children.flatMap((rb) => s.compliance(rb.regionId).children)
      .map((k) => {
        const c = k.patches.find((p) => p.patchId === 'outlook-2024-02')!.clients;
        return c.installed / c.total;
      })
      .sort((a, b) => a - b);
    assert.equal(shares.length, LAND_KREISE);
    assert.ok(shares[0]! < 0.9, `slowest Kreis ${shares[0]}`);
    assert.ok(shares[Math.floor(shares.length / 2)]! > 0.97, `median Kreis ${shares[40]}`);
  });

  test('deterministic for a seed: devices, states and spam are the same in two runs', () => {
    const a = createSimulator({ scenario: 'land', seed: SEED, devices: 30_000, speed: 0 });
    a.advance(90);
    sim.advance(90);
    const page = (x: typeof sim) =>
      x.patchStates({ patch: 'outlook-2024-02', region: 'ags:172', states: ['pending', 'failed'], limit: 50 });
    assert.deepEqual(page(a), page(sim));
    const q = { from: new Date(a.now() - 3_600_000).toISOString(), to: new Date(a.now()).toISOString() };
    const metrics = (x: typeof sim) => x.spamMetrics({ ...q, verband: 'ags:173', limit: 1000 });
    assert.deepEqual(metrics(a), metrics(sim));
    const spam = metrics(a).series.reduce((s, d) => s + d.points.reduce((t, pt) => t + pt.spam, 0), 0);
    assert.ok(spam > 0, 'spam arrives around the clock');
  });

  test('a spam wave on a Regierungsbezirk hits exactly its domains', () => {
    const wave = sim.injectSpam({ region: 'ags:174', factor: 8, minutes: 30 });
    const expected = sim.domains().filter((d) => d.verband === 'ags:174');
    assert.ok(expected.length > 300);
    assert.deepEqual(wave.domains.sort(), expected.map((d) => d.domain).sort());
    assert.deepEqual(
      sim.domains({ verband: 'ags:174' }).map((d) => d.domain),
      expected.map((d) => d.domain),
    );
  });

  test('300,000 devices fit: exact size, every device in a Kreis or a Gemeinde', () => {
    const big = createSimulator({ scenario: 'land', seed: SEED, devices: 300_000, speed: 0 });
    assert.deepEqual(big.fleetSize(), { devices: 300_000, clients: 288_462, servers: 11_538 });
    const land = big.compliance('ags:17').region.patches[1]!.clients;
    assert.equal(land.total, 288_462);
  });
});
