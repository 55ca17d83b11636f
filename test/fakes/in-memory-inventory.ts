import { LagebotError } from '../../src/domain/errors.ts';
import type {
  ComplianceHistory,
  ComplianceReport,
  DeviceKind,
  HistoryPoint,
  Patch,
  PatchState,
  PatchStateRow,
  RegionCompliance,
  RegionLevel,
  RegionList,
  RegionNode,
  StateCounts,
} from '../../src/domain/model.ts';
import type { InventoryPort, Page, PatchStateQuery } from '../../src/domain/ports.ts';

// An InventoryPort over a hand-written estate held in memory: regions of any shape, devices placed on
// any node, per patch a state (and when it was installed, for the trend). It answers as the inventory
// API does (api/inventory.openapi.yaml) — the port contract suite checks that — and fails like the
// HTTP client does (coded LagebotErrors), so services cannot tell it from a real inventory.

export interface EstateDevice {
  id: string;
  hostname: string;
  kind: DeviceKind;
  role: string;
  /** The node the device belongs to (usually a town). */
  regionId: string;
  build: string;
  lastSeenAt: string;
  /** Per tracked patch the device's state; a patch missing here does not apply to the device. */
  patches: Record<string, { state: PatchState; installedAt?: string }>;
}

export interface InventoryEstate {
  regions: RegionNode[];
  levels?: RegionLevel[];
  patches: Patch[];
  devices: EstateDevice[];
  staleAfterHours?: number;
}

export type InventoryOp = 'listRegions' | 'listPatches' | 'getCompliance' | 'getComplianceHistory' | 'listPatchStates';

const MAX_PAGE = 1000;
const UNAPPLIED = ['pending', 'pending_reboot', 'failed', 'unknown'] as const;

export class InMemoryInventory implements InventoryPort {
  readonly calls: InventoryOp[] = [];
  private readonly failures = new Map<InventoryOp | 'ping', { code: 'UPSTREAM_UNAVAILABLE'; left: number }>();
  private readonly byId: Map<string, RegionNode>;
  private readonly children = new Map<string, RegionNode[]>();

  constructor(
    readonly estate: InventoryEstate,
    private readonly now: () => Date,
  ) {
    this.byId = new Map(estate.regions.map((n) => [n.id, n]));
    for (const n of estate.regions) {
      if (n.parentId === null) continue;
      this.children.set(n.parentId, [...(this.children.get(n.parentId) ?? []), n]);
    }
  }

  /** The next `count` calls of op fail as an unreachable inventory does. */
  failNext(op: InventoryOp | 'ping', count = 1): void {
    this.failures.set(op, { code: 'UPSTREAM_UNAVAILABLE', left: count });
  }

  /** Sets a device's state for a patch (installedAt: now, when it becomes installed). */
  setState(deviceId: string, patchId: string, state: PatchState): void {
    const device = this.estate.devices.find((d) => d.id === deviceId);
    if (!device?.patches[patchId]) throw new Error(`no device ${deviceId} with patch ${patchId}`);
    device.patches[patchId] = { state, ...(state === 'installed' ? { installedAt: this.now().toISOString() } : {}) };
  }

  async listRegions(): Promise<RegionList> {
    this.enter('listRegions');
    const items = this.estate.regions.map((n) => structuredClone(n));
    return this.estate.levels ? { items, levels: structuredClone(this.estate.levels) } : { items };
  }

  async listPatches(): Promise<Patch[]> {
    this.enter('listPatches');
    return structuredClone(this.estate.patches);
  }

  async getCompliance(regionId: string, patchId?: string): Promise<ComplianceReport> {
    this.enter('getCompliance');
    const node = this.node(regionId);
    const patches = patchId === undefined ? this.estate.patches : [this.patch(patchId)];
    const at = this.now();
    return {
      observedAt: at.toISOString(),
      staleAfterHours: this.staleAfterHours,
      region: this.complianceOf(node, patches, at),
      children: (this.children.get(node.id) ?? []).map((c) => this.complianceOf(c, patches, at)),
    };
  }

  async getComplianceHistory(q: {
    regionId: string;
    patchId: string;
    from: string;
    to: string;
    stepMinutes: number;
  }): Promise<ComplianceHistory> {
    this.enter('getComplianceHistory');
    const node = this.node(q.regionId);
    const patch = this.patch(q.patchId);
    const from = Date.parse(q.from);
    const to = Math.min(Date.parse(q.to), this.now().getTime());
    if (!(q.stepMinutes >= 1) || Number.isNaN(from) || Number.isNaN(to) || to < from) {
      throw new LagebotError('UPSTREAM_REJECTED', 'inventory API: bad history query', { service: 'inventory' });
    }
    const devices = this.devicesWithin(node.id);
    const points: HistoryPoint[] = [];
    for (let t = from; t <= to; t += q.stepMinutes * 60_000) {
      const tally = (kind: DeviceKind) => {
        const applicable = devices.filter((d) => d.kind === kind && d.patches[patch.id]);
        const installed = applicable.filter((d) => {
          const s = d.patches[patch.id]!;
          return s.state === 'installed' && (s.installedAt === undefined || Date.parse(s.installedAt) <= t);
        });
        return { total: applicable.length, installed: installed.length };
      };
      points.push({ at: new Date(t).toISOString(), clients: tally('client'), servers: tally('server') });
    }
    return { regionId: node.id, patchId: patch.id, stepMinutes: q.stepMinutes, points };
  }

  async listPatchStates(q: PatchStateQuery): Promise<Page<PatchStateRow>> {
    this.enter('listPatchStates');
    const patch = this.patch(q.patchId);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new LagebotError('UPSTREAM_REJECTED', `inventory API: limit must be 1..${MAX_PAGE}`, {
        service: 'inventory',
      });
    }
    const devices = q.regionId === undefined ? this.estate.devices : this.devicesWithin(this.node(q.regionId).id);
    const states = q.states && q.states.length > 0 ? new Set<PatchState>(q.states) : null;
    const stateOf = (d: EstateDevice): PatchState => d.patches[patch.id]?.state ?? 'not_applicable';
    const rows = devices
      .filter(
        (d) => (q.kind === undefined || d.kind === q.kind) && (states ? states.has(stateOf(d)) : d.patches[patch.id]),
      )
      .sort(comparatorFor(q.sort ?? 'priority', stateOf))
      .map(
        (d): PatchStateRow => ({
          deviceId: d.id,
          hostname: d.hostname,
          kind: d.kind,
          role: d.role,
          municipality: d.regionId,
          kreis: this.byId.get(d.regionId)?.parentId ?? d.regionId,
          build: d.build,
          lastSeenAt: d.lastSeenAt,
          patchId: patch.id,
          state: stateOf(d),
          observedAt: d.lastSeenAt,
        }),
      );
    const offset = q.cursor === undefined ? 0 : Number(/^o:(\d+)$/.exec(q.cursor)?.[1] ?? Number.NaN);
    if (!Number.isInteger(offset)) {
      throw new LagebotError('UPSTREAM_REJECTED', 'inventory API: bad cursor', { service: 'inventory' });
    }
    return {
      items: rows.slice(offset, offset + limit),
      nextCursor: offset + limit < rows.length ? `o:${offset + limit}` : null,
      total: rows.length,
    };
  }

  async ping(): Promise<void> {
    this.enter('ping');
  }

  private get staleAfterHours(): number {
    return this.estate.staleAfterHours ?? 168;
  }

  private enter(op: InventoryOp | 'ping'): void {
    if (op !== 'ping') this.calls.push(op);
    const failure = this.failures.get(op);
    if (failure && failure.left > 0) {
      failure.left--;
      throw new LagebotError('UPSTREAM_UNAVAILABLE', `inventory API unreachable (${op})`, { service: 'inventory' });
    }
  }

  private node(id: string): RegionNode {
    const node = this.byId.get(id);
    if (!node) throw new LagebotError('NOT_FOUND', `inventory API: unknown region '${id}'`, { service: 'inventory' });
    return node;
  }

  private patch(id: string): Patch {
    const patch = this.estate.patches.find((p) => p.id === id);
    if (!patch) throw new LagebotError('NOT_FOUND', `inventory API: unknown patch '${id}'`, { service: 'inventory' });
    return patch;
  }

  // Devices on the node or anywhere below it.
  private devicesWithin(regionId: string): EstateDevice[] {
    const within = new Set<string>([regionId]);
    const walk = (id: string) => {
      for (const c of this.children.get(id) ?? []) {
        if (within.has(c.id)) continue;
        within.add(c.id);
        walk(c.id);
      }
    };
    walk(regionId);
    return this.estate.devices.filter((d) => within.has(d.regionId));
  }

  private complianceOf(node: RegionNode, patches: readonly Patch[], at: Date): RegionCompliance {
    const devices = this.devicesWithin(node.id);
    const staleBefore = at.getTime() - this.staleAfterHours * 3_600_000;
    const counts = (patchId: string, which: (d: EstateDevice) => boolean): StateCounts => {
      const c: StateCounts = {
        total: 0,
        installed: 0,
        pending: 0,
        pending_reboot: 0,
        failed: 0,
        unknown: 0,
        notApplicable: 0,
        stale: 0,
      };
      for (const d of devices) {
        if (!which(d)) continue;
        const s = d.patches[patchId];
        if (!s) {
          c.notApplicable++;
          continue;
        }
        c.total++;
        if (s.state === 'installed') c.installed++;
        else if ((UNAPPLIED as readonly string[]).includes(s.state)) c[s.state as (typeof UNAPPLIED)[number]]++;
        if (Date.parse(d.lastSeenAt) < staleBefore) c.stale++;
      }
      return c;
    };
    return {
      regionId: node.id,
      name: node.name,
      kind: node.kind,
      patches: patches.map((p) => ({
        patchId: p.id,
        clients: counts(p.id, (d) => d.kind === 'client'),
        servers: counts(p.id, (d) => d.kind === 'server'),
        exchangeServers: counts(p.id, (d) => d.kind === 'server' && d.role === 'exchange'),
      })),
    };
  }
}

// Servers first, then failed, then the longest unseen, then by hostname — as the inventory API sorts.
function comparatorFor(
  sort: 'priority' | 'hostname' | 'lastSeenAt',
  stateOf: (d: EstateDevice) => PatchState,
): (a: EstateDevice, b: EstateDevice) => number {
  const byHostname = (a: EstateDevice, b: EstateDevice) => a.hostname.localeCompare(b.hostname);
  const bySeen = (a: EstateDevice, b: EstateDevice) => a.lastSeenAt.localeCompare(b.lastSeenAt) || byHostname(a, b);
  if (sort === 'hostname') return byHostname;
  if (sort === 'lastSeenAt') return bySeen;
  return (a, b) => {
    if (a.kind !== b.kind) return a.kind === 'server' ? -1 : 1;
    const fa = stateOf(a) === 'failed' ? 0 : 1;
    const fb = stateOf(b) === 'failed' ? 0 : 1;
    return fa - fb || bySeen(a, b);
  };
}
