import { type ConformanceCheck, expect, expectError, SkipCheck } from './conformance-check.ts';
import { pageToEnd } from './page-to-end.ts';

// The inventory API's behaviours (api/inventory.openapi.yaml) as checks; all read-only.

interface Region {
  id: string;
  parentId: string | null;
}

const UNKNOWN_REGION = 'conformance-unknown-region';

export function inventoryChecks(opts: { token?: string }): ConformanceCheck[] {
  let regions: Region[] = [];
  let patchIds: string[] = [];
  const check = (name: string, run: ConformanceCheck['run']): ConformanceCheck => ({ api: 'inventory', name, run });
  const root = (): string => {
    const r = regions.find((x) => x.parentId === null);
    if (!r) throw new SkipCheck('no region was listed');
    return r.id;
  };
  return [
    check('health', async (client) => {
      const answer = await client.call('GET', '/health');
      expect(answer.status === 200, `GET /health: status ${answer.status}`);
      return `version ${(answer.body as { version: string }).version}`;
    }),
    check('401 without token', async (client) => {
      if (!opts.token) return new SkipCheck('no --inventory-token given');
      expectError(await client.call('GET', '/regions', { token: null }), 401, 'unauthorized');
      return 'unauthorized';
    }),
    check('regions form one tree', async (client) => {
      const answer = await client.call('GET', '/regions');
      expect(answer.status === 200, `GET /regions: status ${answer.status}`);
      regions = (answer.body as { items: Region[] }).items;
      const ids = new Set(regions.map((r) => r.id));
      expect(ids.size === regions.length, 'a region id appears twice');
      const orphan = regions.find((r) => r.parentId !== null && !ids.has(r.parentId));
      expect(!orphan, `${orphan?.id} names parent ${orphan?.parentId}, which is not listed`);
      expect(
        regions.some((r) => r.parentId === null),
        'no root region',
      );
      return `${regions.length} regions`;
    }),
    check('patches', async (client) => {
      const answer = await client.call('GET', '/patches');
      expect(answer.status === 200, `GET /patches: status ${answer.status}`);
      patchIds = (answer.body as { items: { id: string }[] }).items.map((p) => p.id);
      return `${patchIds.length} patches`;
    }),
    check('devices paged to the end', async (client) => {
      const { items, pages, lastBody } = await pageToEnd(client, '/devices', { limit: '1000' }, (b) =>
        (b as { items: { id: string }[] }).items.map((d) => d.id),
      );
      const total = (lastBody as { total: number }).total;
      expect(items.length === total, `paging gave ${items.length} devices, total says ${total}`);
      expect(new Set(items).size === items.length, 'a device appears on two pages');
      return `${total} devices on ${pages} pages`;
    }),
    check('patch states paged to the end', async (client) => {
      const patch = patchIds[0];
      if (!patch) return new SkipCheck('no patch listed');
      const { items, pages, lastBody } = await pageToEnd(
        client,
        '/patch-states',
        { patch, region: root(), limit: '1000' },
        (b) => (b as { items: { deviceId: string }[] }).items.map((d) => d.deviceId),
      );
      const total = (lastBody as { total: number }).total;
      expect(items.length === total, `paging gave ${items.length} states, total says ${total}`);
      return `${patch}: ${total} on ${pages} pages`;
    }),
    check('compliance of a root', async (client) => {
      const answer = await client.call('GET', '/compliance', { query: { region: root() } });
      expect(answer.status === 200, `GET /compliance: status ${answer.status}`);
      return root();
    }),
    check('404 unknown region', async (client) => {
      expectError(
        await client.call('GET', '/compliance', { query: { region: UNKNOWN_REGION } }),
        404,
        'region_not_found',
      );
      return 'region_not_found';
    }),
    check('400 bad query', async (client) => {
      expectError(await client.call('GET', '/devices', { query: { limit: '0' } }), 400, 'invalid_request');
      expectError(await client.call('GET', '/devices', { query: { cursor: 'not-a-cursor' } }), 400, 'invalid_cursor');
      return 'invalid_request, invalid_cursor';
    }),
  ];
}
