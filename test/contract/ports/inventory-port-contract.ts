import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isLagebotError } from '../../../src/domain/errors.ts';
import type { PatchStateRow, RegionNode, StateCounts } from '../../../src/domain/model.ts';
import type { InventoryPort } from '../../../src/domain/ports.ts';
import { buildRegionIndex, descendants } from '../../../src/domain/region-index.ts';

// What every InventoryPort promises the services, whoever implements it: the HTTP client against an
// inventory API, an in-memory estate, an Intune façade. Written against the port alone: it reads the
// adapter's own regions and patches and checks how the answers relate, never a particular estate.

export interface InventoryAdapter {
  name: string;
  start(): Promise<{ port: InventoryPort; close(): Promise<void> }>;
}

const sumStates = (c: StateCounts) => c.installed + c.pending + c.pending_reboot + c.failed + c.unknown;

export function runInventoryPortContract(adapter: InventoryAdapter): void {
  describe(`InventoryPort contract: ${adapter.name}`, () => {
    let port: InventoryPort;
    let close: () => Promise<void>;
    let regions: RegionNode[];
    before(async () => {
      ({ port, close } = await adapter.start());
      regions = (await port.listRegions()).items;
    });
    after(() => close());

    const rootOf = () => regions.find((n) => n.parentId === null)!;

    test('regions: one tree — unique ids, known parents, at least one root, lower-case level kinds', async () => {
      const list = await port.listRegions();
      const ids = new Set(list.items.map((n) => n.id));
      assert.equal(ids.size, list.items.length, 'ids are unique');
      assert.ok(
        list.items.some((n) => n.parentId === null),
        'a root',
      );
      for (const n of list.items) {
        assert.ok(n.parentId === null || ids.has(n.parentId), `${n.id}: parent ${n.parentId} is in the list`);
        assert.match(n.kind, /^[a-z][a-z0-9-]*$/);
      }
      const domains = list.items.flatMap((n) => n.domains.map((d) => d.toLowerCase()));
      assert.equal(new Set(domains).size, domains.length, 'a mail domain belongs to one node');
      if (list.levels) {
        const kinds = new Set(list.levels.map((l) => l.kind));
        assert.equal(kinds.size, list.levels.length, 'each level once');
        for (const n of list.items) assert.ok(kinds.has(n.kind), `level ${n.kind} is named`);
      }
    });

    test('patches: at least one, unique ids', async () => {
      const patches = await port.listPatches();
      assert.ok(patches.length > 0);
      assert.equal(new Set(patches.map((p) => p.id)).size, patches.length);
    });

    test('compliance of a root: its own id, its direct children, every patch, counts that add up', async () => {
      const root = rootOf();
      const patches = await port.listPatches();
      const report = await port.getCompliance(root.id);
      assert.equal(report.region.regionId, root.id);
      assert.ok(!Number.isNaN(Date.parse(report.observedAt)));
      assert.ok(report.staleAfterHours > 0);
      const children = regions.filter((n) => n.parentId === root.id).map((n) => n.id);
      assert.deepEqual(report.children.map((c) => c.regionId).sort(), children.sort());
      assert.deepEqual(report.region.patches.map((p) => p.patchId).sort(), patches.map((p) => p.id).sort());
      for (const p of report.region.patches) {
        for (const [kind, c] of Object.entries({
          clients: p.clients,
          servers: p.servers,
          exchange: p.exchangeServers,
        })) {
          assert.equal(sumStates(c), c.total, `${p.patchId} ${kind}: the states add up to the total`);
          assert.ok(c.stale <= c.total);
        }
        assert.ok(p.exchangeServers.total <= p.servers.total, 'Exchange servers are servers');
        // The children hold at most what their parent holds (devices may also sit on the parent itself).
        for (const key of ['clients', 'servers'] as const) {
          const below = report.children.reduce(
            (n, c) => n + (c.patches.find((x) => x.patchId === p.patchId)?.[key].total ?? 0),
            0,
          );
          assert.ok(below <= p[key].total, `${p.patchId} ${key}: children ${below} ≤ ${p[key].total}`);
        }
      }
    });

    test('compliance of one patch has only that patch', async () => {
      const [patch] = await port.listPatches();
      const report = await port.getCompliance(rootOf().id, patch!.id);
      assert.deepEqual(
        report.region.patches.map((p) => p.patchId),
        [patch!.id],
      );
    });

    test('an unknown region or patch is NOT_FOUND', async () => {
      await assert.rejects(port.getCompliance('no-such-region-0815'), (e) => isLagebotError(e, 'NOT_FOUND'));
      await assert.rejects(port.getCompliance(rootOf().id, 'no-such-patch'), (e) => isLagebotError(e, 'NOT_FOUND'));
    });

    test('history: points in order, inside the range, never more installed than devices', async () => {
      const [patch] = await port.listPatches();
      const report = await port.getCompliance(rootOf().id);
      const to = report.observedAt;
      const from = new Date(Date.parse(to) - 6 * 3_600_000).toISOString();
      const history = await port.getComplianceHistory({
        regionId: rootOf().id,
        patchId: patch!.id,
        from,
        to,
        stepMinutes: 60,
      });
      assert.equal(history.regionId, rootOf().id);
      assert.equal(history.patchId, patch!.id);
      assert.ok(history.points.length > 0);
      let previous = Number.NEGATIVE_INFINITY;
      for (const p of history.points) {
        const at = Date.parse(p.at);
        assert.ok(at > previous, 'ascending');
        assert.ok(at >= Date.parse(from) - 60 * 60_000 && at <= Date.parse(to) + 60_000, `${p.at} in range`);
        assert.ok(p.clients.installed <= p.clients.total && p.servers.installed <= p.servers.total);
        previous = at;
      }
    });

    test('patch states: the pages add up to the total, each device once, filters and the priority order hold', async () => {
      const patches = await port.listPatches();
      const index = buildRegionIndex(regions);
      for (const patch of patches) {
        const rows: PatchStateRow[] = [];
        let cursor: string | undefined;
        let total = -1;
        do {
          const page = await port.listPatchStates({ patchId: patch.id, limit: 7, ...(cursor ? { cursor } : {}) });
          assert.ok(page.items.length <= 7);
          total = page.total;
          rows.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor && rows.length <= total);
        assert.equal(rows.length, total, `${patch.id}: every page followed`);
        assert.equal(new Set(rows.map((r) => r.deviceId)).size, rows.length, 'no device twice');
        assert.ok(rows.every((r) => r.patchId === patch.id && r.state !== 'not_applicable'));
        // The reports of the roots count the same devices.
        let counted = 0;
        for (const root of regions.filter((n) => n.parentId === null)) {
          const p = (await port.getCompliance(root.id, patch.id)).region.patches[0]!;
          counted += p.clients.total + p.servers.total;
        }
        assert.equal(rows.length, counted, `${patch.id}: listed devices = devices the reports count`);
      }

      const [patch] = patches;
      const failed = await port.listPatchStates({ patchId: patch!.id, states: ['failed', 'pending'], limit: 50 });
      assert.ok(failed.items.every((r) => r.state === 'failed' || r.state === 'pending'));
      const clients = await port.listPatchStates({ patchId: patch!.id, kind: 'client', limit: 50 });
      assert.ok(clients.items.every((r) => r.kind === 'client'));

      const region = regions.find((n) => n.parentId !== null && descendants(index, n.id).length > 0) ?? rootOf();
      const within = new Set([region.id, ...descendants(index, region.id).map((n) => n.id)]);
      for (const p of patches) {
        const page = await port.listPatchStates({ patchId: p.id, regionId: region.id, limit: 100 });
        assert.ok(
          page.items.every((r) => within.has(r.municipality)),
          `${p.id}: rows of ${region.id} lie in it`,
        );
        const prioritised = await port.listPatchStates({
          patchId: p.id,
          states: ['failed', 'pending', 'pending_reboot', 'unknown'],
          sort: 'priority',
          limit: 100,
        });
        const rank = (r: PatchStateRow) => (r.kind === 'server' ? 0 : 2) + (r.state === 'failed' ? 0 : 1);
        for (let i = 1; i < prioritised.items.length; i++) {
          assert.ok(rank(prioritised.items[i - 1]!) <= rank(prioritised.items[i]!), 'servers, then failed, first');
        }
      }
    });

    test('ping answers', async () => {
      await port.ping();
    });
  });
}
