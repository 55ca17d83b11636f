import { GatewayHttpClient } from '../../../src/adapters/gateway-http-client.ts';
import { InventoryHttpClient } from '../../../src/adapters/inventory-http-client.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import { startSimServer } from '../../../src/sim/server.ts';
import { createSimulator } from '../../../src/sim/simulator.ts';
import { FakeGateway } from '../../fakes/fake-gateway.ts';
import { InMemoryGateway } from '../../fakes/in-memory-gateway.ts';
import { InMemoryInventory } from '../../fakes/in-memory-inventory.ts';
import { fourLevelDevices, fourLevelLevels, fourLevelRegions } from '../../fixtures/four-level-estate.ts';
import { trackedPatches } from '../../fixtures/patches.ts';
import type { GatewayAdapter } from './gateway-port-contract.ts';
import type { InventoryAdapter } from './inventory-port-contract.ts';

// The adapters the port contracts run against (port-contracts.test.ts lists them, one line each).

const NOW = new Date('2024-02-19T14:00:00.000Z');

export const inventoryOverHttp: InventoryAdapter = {
  name: 'InventoryHttpClient on the simulator',
  async start() {
    const sim = await startSimServer({ port: 0, speed: 0, seed: 42, devices: 1200 });
    const port = new InventoryHttpClient({ baseUrl: `${sim.url}/inventory/v1`, timeoutMs: 5000, logger: silentLogger });
    return { port, close: () => sim.close() };
  },
};

export const inventoryInMemory: InventoryAdapter = {
  name: 'InMemoryInventory, four-level estate',
  async start() {
    const devices = fourLevelDevices(NOW, { 'ags:05978036': 3, 'ags:05314000': 1 });
    const port = new InMemoryInventory(
      { regions: fourLevelRegions, levels: fourLevelLevels, patches: trackedPatches, devices },
      () => NOW,
    );
    return { port, close: async () => {} };
  },
};

export const gatewayOverHttp: GatewayAdapter = {
  name: 'GatewayHttpClient on the simulator',
  async start() {
    const sim = await startSimServer({ port: 0, speed: 0, seed: 42, devices: 200 });
    const port = new GatewayHttpClient({ baseUrl: `${sim.url}/gateway/v1`, timeoutMs: 5000, logger: silentLogger });
    return { port, now: () => new Date(sim.sim.now()), close: () => sim.close() };
  },
};

export const gatewayOnSimulatorInProcess: GatewayAdapter = {
  name: 'FakeGateway on the in-process simulator',
  async start() {
    const sim = createSimulator({ speed: 0, seed: 42, devices: 200 });
    return { port: new FakeGateway(sim), now: () => new Date(sim.now()), close: async () => {} };
  },
};

export const gatewayInMemory: GatewayAdapter = {
  name: 'InMemoryGateway, four-level estate',
  async start() {
    return { port: new InMemoryGateway(fourLevelRegions, () => NOW), now: () => NOW, close: async () => {} };
  },
};
