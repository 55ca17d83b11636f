import { createStore } from '../../src/adapters/store/create-store.ts';
import type { Caller } from '../../src/domain/caller.ts';
import { silentLogger } from '../../src/domain/logger.ts';
import type { RegionNode } from '../../src/domain/model.ts';
import type { Effect, ReleaseRequest } from '../../src/domain/release-request.ts';
import type { RolesConfig } from '../../src/domain/roles.ts';
import type { Store } from '../../src/domain/store-port.ts';
import { createReleaseExecutor, type ReleaseExecutor } from '../../src/services/execute-release.ts';
import { readRegionIndex } from '../../src/services/read-region-index.ts';
import { createReleaseService, type ReleaseService } from '../../src/services/release-service.ts';
import { parseDirectionAndReason } from '../../src/teams/command-parser.ts';
import { InMemoryGateway } from '../fakes/in-memory-gateway.ts';
import { InMemoryInventory } from '../fakes/in-memory-inventory.ts';
import { fourLevelDevices, fourLevelLevels, fourLevelRegions } from '../fixtures/four-level-estate.ts';
import { trackedPatches } from '../fixtures/patches.ts';

// The release core without Teams or HTTP: the release service and the executor over an in-memory
// SQLite store, the in-memory inventory and gateway of the four-level estate, and a clock the test
// moves. Nothing waits on the wall clock: retries wait 0 ms, and executor.idle() says when all is done.

export const T0 = Date.parse('2024-02-19T14:00:00.000Z');
const TENANT = 'tenant-1';

const person = (id: string, name: string): Caller => ({ aadObjectId: id, userId: `29:${id}`, name, tenantId: TENANT });
export const callers = {
  viewer: person('aad-viewer', 'Vera Viewer'),
  operator: person('aad-operator', 'Olaf Operator'),
  // Also an operator, so that self-approval can be tried.
  approver1: person('aad-approver-1', 'Anna Approver'),
  approver2: person('aad-approver-2', 'Bernd Approver'),
  otherTenant: { ...person('aad-approver-2', 'Bernd Approver'), tenantId: 'tenant-2' },
};

export const roles: RolesConfig = {
  viewer: ['*'],
  operator: [callers.operator.aadObjectId!, callers.approver1.aadObjectId!],
  approver: [callers.approver1.aadObjectId!, callers.approver2.aadObjectId!],
};

export interface ReleaseCore {
  store: Store;
  inventory: InMemoryInventory;
  gateway: InMemoryGateway;
  service: ReleaseService;
  executor: ReleaseExecutor;
  /** Every accepted transition, as the card tracker hears of it. */
  transitions: Array<{ request: ReleaseRequest; version: number; effects: Effect[] }>;
  /** (requestId, domain) pairs the executor announced as waiting for a retry. */
  retrying: Array<[string, string]>;
  now(): Date;
  advance(minutes: number): void;
  /** A second executor on the same store, as after a restart or on another replica. */
  newExecutor(holder: string): ReleaseExecutor;
  close(): Promise<void>;
}

export async function startReleaseCore(
  options: {
    unpatchedClients?: Record<string, number>;
    ttlMinutes?: number;
    retryWindowMinutes?: number;
    roles?: RolesConfig;
    gatewayConcurrency?: number;
    /** The four-level estate's regions, e.g. with more domains in a town (the devices stay as they are). */
    regions?: RegionNode[];
  } = {},
): Promise<ReleaseCore> {
  let nowMs = T0;
  const now = () => new Date(nowMs);
  const store = await createStore({ dataDir: ':memory:' });
  const regions = options.regions ?? fourLevelRegions;
  const inventory = new InMemoryInventory(
    {
      regions,
      levels: fourLevelLevels,
      patches: trackedPatches,
      devices: fourLevelDevices(now(), options.unpatchedClients),
    },
    now,
  );
  const gateway = new InMemoryGateway(regions, now);
  const transitions: ReleaseCore['transitions'] = [];
  const retrying: ReleaseCore['retrying'] = [];
  let ids = 0;
  const service = createReleaseService({
    store,
    inventory,
    gateway,
    regions: () => readRegionIndex(inventory),
    roles: options.roles ?? roles,
    now,
    ttlMs: (options.ttlMinutes ?? 240) * 60_000,
    ...(options.retryWindowMinutes ? { retryWindowMs: options.retryWindowMinutes * 60_000 } : {}),
    newId: () => `r-${++ids}`,
    logger: silentLogger,
    parseDirectionAndReason,
    onTransition: (request, version, effects) => {
      transitions.push({ request, version, effects });
    },
  });
  const executors: ReleaseExecutor[] = [];
  const newExecutor = (holder: string) => {
    const executor = createReleaseExecutor({
      store,
      gateway,
      service,
      holder,
      now,
      logger: silentLogger,
      gatewayConcurrency: options.gatewayConcurrency ?? 16,
      retry: { baseMs: 1, maxMs: 1 },
      random: () => 0,
      onRetrying: (requestId, domain) => retrying.push([requestId, domain]),
    });
    executors.push(executor);
    return executor;
  };
  const executor = newExecutor('replica-a');
  return {
    store,
    inventory,
    gateway,
    service,
    executor,
    transitions,
    retrying,
    now,
    advance(minutes) {
      nowMs += minutes * 60_000;
    },
    newExecutor,
    async close() {
      for (const e of executors) await e.close();
      await store.close();
    },
  };
}
