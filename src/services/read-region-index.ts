import type { InventoryPort } from '../domain/ports.ts';
import { buildRegionIndex, type RegionIndex } from '../domain/region-index.ts';

/** The inventory's region tree and level names as one index (uncached: the status service caches it). */
export async function readRegionIndex(inventory: Pick<InventoryPort, 'listRegions'>): Promise<RegionIndex> {
  const list = await inventory.listRegions();
  return buildRegionIndex(list.items, list.levels);
}
