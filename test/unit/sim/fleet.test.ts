import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apportion, createFleet, type Fleet, KIND_CLIENT, ROLE_EXCHANGE, splitFleet } from '../../../src/sim/fleet.ts';
import { buildGeography } from '../../../src/sim/geography.ts';
import { createSimulator } from '../../../src/sim/simulator.ts';

const geo = buildGeography();
const KREISE = ['kr-soest', 'kr-hsk', 'kr-mk', 'kr-olpe', 'kr-siegen-wittgenstein'];

function kreisOfDevice(fleet: Fleet, i: number): string {
  return geo.nodes[geo.kreisOf[fleet.node[i]!]!]!.id;
}

describe('sim fleet', () => {
  const fleet = createFleet(geo, { seed: 1, devices: 10_400 });

  test('the default size is 10,000 clients and 400 servers', () => {
    assert.deepEqual(splitFleet(10_400), { clients: 10_000, servers: 400 });
    assert.deepEqual(createSimulator({ speed: 0 }).fleetSize(), { devices: 10_400, clients: 10_000, servers: 400 });
    assert.equal(fleet.size, 10_400);
    let clients = 0;
    for (let i = 0; i < fleet.size; i++) if (fleet.kind[i] === KIND_CLIENT) clients++;
    assert.equal(clients, 10_000);
  });

  test('`devices` sizes the fleet exactly', () => {
    for (const devices of [0, 5, 50, 1_000, 20_000]) {
      const f = createFleet(geo, { seed: 3, devices });
      assert.equal(f.size, devices);
      assert.equal(f.clients + f.servers, devices);
    }
  });

  test('the same seed gives the same fleet, another seed another one', () => {
    const again = createFleet(geo, { seed: 1, devices: 10_400 });
    assert.deepEqual(again.hostname, fleet.hostname);
    assert.deepEqual(again.role, fleet.role);
    assert.deepEqual(again.os, fleet.os);
    assert.deepEqual(again.interval, fleet.interval);
    const other = createFleet(geo, { seed: 2, devices: 10_400 });
    assert.notDeepEqual(other.role, fleet.role);
  });

  test('at least one Exchange server in every Kreis, even in a tiny fleet', () => {
    for (const f of [fleet, createFleet(geo, { seed: 9, devices: 40 })]) {
      const withExchange = new Set<string>();
      for (let i = 0; i < f.size; i++) if (f.role[i] === ROLE_EXCHANGE) withExchange.add(kreisOfDevice(f, i));
      assert.deepEqual([...withExchange].sort(), [...KREISE].sort());
    }
  });

  test('hostnames: unique, Kreis-town-role-number, and byHostname is their sorted order', () => {
    assert.equal(new Set(fleet.hostname).size, fleet.size);
    for (const h of fleet.hostname) assert.match(h, /^(SO|HSK|MK|OE|SI)-[A-Z]{2,3}-(WS|NB|EX|FS|DC|DB|WEB|APP)\d{4}$/);
    assert.ok(fleet.hostname.includes('OE-ATT-WS0001'));
    for (let k = 1; k < fleet.size; k++) {
      assert.ok(fleet.hostname[fleet.byHostname[k - 1]!]! < fleet.hostname[fleet.byHostname[k]!]!);
    }
    for (let k = 0; k < fleet.size; k += 997) assert.equal(fleet.rank[fleet.byHostname[k]!], k);
  });

  test('clients follow population; the Kreis administrations have devices of their own', () => {
    const clientsIn = (id: string) => {
      const node = geo.index.get(id);
      let n = 0;
      for (let i = 0; i < fleet.size; i++) if (fleet.node[i] === node && fleet.kind[i] === KIND_CLIENT) n++;
      return n;
    };
    assert.ok(clientsIn('ko-siegen') > 5 * clientsIn('ko-erndtebrueck'));
    assert.ok(clientsIn('ko-hallenberg') >= 10);
    for (const k of KREISE) assert.ok(clientsIn(k) > 50, k);
  });

  test('apportion: shares sum to the total and follow the weights', () => {
    assert.deepEqual(apportion([1, 1, 1], 10), [4, 3, 3]);
    assert.deepEqual(apportion([0.5, 0.25, 0.25], 4), [2, 1, 1]);
    assert.deepEqual(apportion([1, 2], 0), [0, 0]);
    const shares = apportion([3, 7, 11, 13], 1_000);
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      1_000,
    );
  });

  test('100,000 devices build and answer', () => {
    const sim = createSimulator({ speed: 0, devices: 100_000 });
    assert.equal(sim.fleetSize().devices, 100_000);
    const c = sim.compliance('vb-nord', 'outlook-2024-02');
    assert.ok(c.region.patches[0]!.clients.total > 60_000);
    const page = sim.patchStates({ patch: 'outlook-2024-02', region: 'kr-olpe', limit: 5 });
    assert.equal(page.items.length, 5);
  });
});
