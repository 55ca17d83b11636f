import type { z } from 'zod';
import type { DomainStateWire, SpamMetricsWire } from '../contracts/gateway.ts';
import type {
  ComplianceHistoryWire,
  ComplianceReportWire,
  PatchWire,
  RegionLevelWire,
  RegionNodeWire,
} from '../contracts/inventory.ts';
import type { clockState, spamRequest } from '../contracts/sim.ts';
import { createFaults, type Fault, type FaultRequest, type Faults, type FaultTarget } from './faults.ts';
import { createFleet, DEFAULT_DEVICES, type Fleet } from './fleet.ts';
import {
  type BulkChangeBody,
  type BulkChangeResultWire,
  createGatewayModel,
  type DirectionName,
  type DomainChangeBody,
  type DomainChangeResultWire,
  type GatewayAuditPageWire,
  type GatewayModel,
  type HeldQueueWire,
  type QueueReleaseResultWire,
  type RegionFilter,
  type SpamQuery,
} from './gateway-model.ts';
import { buildGeography, type Geography, SUEDWESTFALEN_LEVELS } from './geography.ts';
import {
  createInventoryModel,
  type DevicePageWire,
  type DeviceQuery,
  type HistoryQuery,
  type InventoryModel,
  type PatchStatePageWire,
  type PatchStateQuery,
} from './inventory-model.ts';
import { buildLandGeography, LAND_LEVELS } from './land-geography.ts';
import { mulberry32 } from './prng.ts';
import { createSchedule, SCENARIO_START_MS, type ScenarioName } from './schedule.ts';
import { createSimClock, type SimClock } from './sim-clock.ts';
import { createTraffic, type Traffic } from './traffic.ts';

export type { ScenarioName } from './schedule.ts';
export type ClockStateWire = z.infer<typeof clockState>;
export type SpamRequest = z.infer<typeof spamRequest>;

export interface SimOptions {
  seed?: number;
  scenario?: ScenarioName;
  /** Clients + servers; default 10,400 = 10,000 clients + 400 servers. */
  devices?: number;
  /** Synthetic extra mail domains for benchmarks, default 0. */
  extraDomains?: number;
  /** Multiplier of real time (sim minutes per real minute); 0 freezes the clock. Default 1. */
  speed?: number;
  /** Bearer tokens the APIs require; an API without a token is open. */
  tokens?: { inventory?: string; gateway?: string };
  /** Injectable real clock, default Date.now. */
  realNow?: () => number;
}

export const DEFAULT_SEED = 20240215;

export interface Simulator {
  readonly settings: { seed: number; scenario: ScenarioName; devices: number; extraDomains: number };
  /** Sim time, epoch ms. */
  now(): number;
  clock(): ClockStateWire;
  /** Back to the scenario's start: fleet, schedule, gateway, spikes and faults; the speed is kept. */
  reset(scenario?: ScenarioName, seed?: number): ClockStateWire;
  advance(minutes: number): ClockStateWire;
  setSpeed(speed: number): ClockStateWire;
  fleetSize(): { devices: number; clients: number; servers: number };

  regions(): RegionNodeWire[];
  levels(): RegionLevelWire[];
  patches(): PatchWire[];
  devices(q: DeviceQuery): DevicePageWire;
  patchStates(q: PatchStateQuery): PatchStatePageWire;
  compliance(regionId: string, patchId?: string): ComplianceReportWire;
  history(q: HistoryQuery): ComplianceHistoryWire;

  domains(filter?: RegionFilter): DomainStateWire[];
  domain(name: string): DomainStateWire;
  changeDomain(
    name: string,
    body: DomainChangeBody,
    opts: { idempotencyKey: string; ifMatch?: number },
  ): DomainChangeResultWire;
  bulkChange(body: BulkChangeBody, idempotencyKey: string): BulkChangeResultWire;
  queues(filter?: RegionFilter & { domain?: string }): HeldQueueWire[];
  releaseQueue(
    name: string,
    direction: DirectionName,
    body: { actor: string; reason: string },
    idempotencyKey: string,
  ): { result: QueueReleaseResultWire; replayed: boolean };
  spamMetrics(q: SpamQuery): SpamMetricsWire;
  injectSpam(req: SpamRequest): { domains: string[]; from: string; to: string; factor: number };
  audit(q?: { since?: string; limit?: number; cursor?: string }): GatewayAuditPageWire;

  setFault(req: FaultRequest): Fault | null;
  faults(): Fault[];
  /** Whether the next request to `target` is hit by a fault (consumes one draw). */
  drawFault(target: FaultTarget): Fault | null;
}

interface World {
  levels: RegionLevelWire[];
  fleet: Fleet;
  inventory: InventoryModel;
  traffic: Traffic;
  gateway: GatewayModel;
  faults: Faults;
}

export function createSimulator(opts: SimOptions = {}): Simulator {
  const settings = {
    seed: opts.seed ?? DEFAULT_SEED,
    scenario: opts.scenario ?? 'feb-2024',
    devices: opts.devices ?? DEFAULT_DEVICES,
    extraDomains: opts.extraDomains ?? 0,
  };
  const clock: SimClock = createSimClock(SCENARIO_START_MS, opts.speed ?? 1, opts.realNow ?? Date.now);
  // The state-wide scenario has its own estate, invented from the seed; every other scenario plays
  // on Südwestfalen. Estate and fleet depend only on (estate, seed, size): keep them across resets.
  const estateOf = (scenario: ScenarioName, seed: number) => (scenario === 'land' ? `land/${seed}` : 'suedwestfalen');
  let estate: { key: string; geo: Geography } | null = null;
  const geographyFor = (scenario: ScenarioName, seed: number): Geography => {
    const key = estateOf(scenario, seed);
    if (estate?.key !== key) {
      const geo =
        scenario === 'land' ? buildLandGeography(seed, settings.extraDomains) : buildGeography(settings.extraDomains);
      estate = { key, geo };
    }
    return estate.geo;
  };
  const fleets = new Map<string, Fleet>();
  const fleetFor = (geo: Geography, seed: number, devices: number) => {
    const key = `${estateOf(settings.scenario, seed)}/${seed}/${devices}`;
    let fleet = fleets.get(key);
    if (!fleet) {
      fleets.clear();
      fleet = createFleet(geo, { seed, devices });
      fleets.set(key, fleet);
    }
    return fleet;
  };

  const build = (): World => {
    const { seed, scenario } = settings;
    const geo = geographyFor(scenario, seed);
    const fleet = fleetFor(geo, seed, scenario === 'empty' ? 0 : settings.devices);
    const schedule = createSchedule(geo, fleet, scenario, seed);
    const traffic = createTraffic(geo, seed);
    return {
      levels: scenario === 'land' ? LAND_LEVELS : SUEDWESTFALEN_LEVELS,
      fleet,
      inventory: createInventoryModel(geo, fleet, schedule),
      traffic,
      gateway: createGatewayModel(geo, traffic, scenario, SCENARIO_START_MS),
      faults: createFaults(mulberry32(seed ^ 0xfa17)),
    };
  };
  let world = build();

  const clockState = (): ClockStateWire => ({
    now: new Date(clock.now()).toISOString(),
    speed: clock.speed(),
    scenario: settings.scenario,
    seed: settings.seed,
  });

  return {
    settings,
    now: () => clock.now(),
    clock: clockState,
    reset(scenario, seed) {
      if (scenario !== undefined) settings.scenario = scenario;
      if (seed !== undefined) settings.seed = seed;
      world = build();
      clock.set(SCENARIO_START_MS);
      return clockState();
    },
    advance(minutes) {
      clock.advance(minutes);
      return clockState();
    },
    setSpeed(speed) {
      clock.setSpeed(speed);
      return clockState();
    },
    fleetSize: () => ({ devices: world.fleet.size, clients: world.fleet.clients, servers: world.fleet.servers }),

    regions: () => world.inventory.regions(),
    levels: () => world.levels,
    patches: () => world.inventory.patches(),
    devices: (q) => world.inventory.devices(q, clock.now()),
    patchStates: (q) => world.inventory.patchStates(q, clock.now()),
    compliance: (regionId, patchId) => world.inventory.compliance(regionId, patchId, clock.now()),
    history: (q) => world.inventory.history(q, clock.now()),

    domains: (filter = {}) => world.gateway.domains(filter),
    domain: (name) => world.gateway.domain(name),
    changeDomain: (name, body, o) => world.gateway.changeDomain(name, body, o, clock.now()),
    bulkChange: (body, key) => world.gateway.bulkChange(body, key, clock.now()),
    queues: (filter = {}) => world.gateway.queues(filter, clock.now()),
    releaseQueue: (name, direction, body, key) => world.gateway.releaseQueue(name, direction, body, key, clock.now()),
    spamMetrics: (q) => world.gateway.spamMetrics(q, clock.now()),
    injectSpam: (req) => world.gateway.injectSpam(req, req.factor, req.minutes, clock.now()),
    audit: (q = {}) => world.gateway.audit(q),

    setFault: (req) => world.faults.set(req),
    faults: () => world.faults.list(),
    drawFault: (target) => world.faults.draw(target),
  };
}
