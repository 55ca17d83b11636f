import type { Storage, StoreItems } from 'botbuilder';
import type { Store, TurnStateWrite } from '../domain/store-port.ts';

// botbuilder Storage over the store's turn state (its own key space in the documents table), so teams-ai
// turn state survives restarts and is shared between replicas. eTag semantics follow botbuilder's MemoryStorage
// (botbuilder-core/lib/memoryStorage.js): no eTag or '*' writes unconditionally, any other eTag must equal
// the stored one (or nothing is stored yet), every write gets a fresh eTag, and a conflict rejects with
// the same message. Unlike MemoryStorage a write of several keys is all-or-nothing.
export class StoreTurnStorage implements Storage {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async read(keys: string[]): Promise<StoreItems> {
    if (!keys) throw new ReferenceError('Keys are required when reading.');
    const found = await this.#store.readTurnState(keys);
    const items: StoreItems = {};
    for (const [key, item] of Object.entries(found)) {
      items[key] = { ...(item.data as Record<string, unknown>), eTag: item.etag };
    }
    return items;
  }

  async write(changes: StoreItems): Promise<void> {
    if (!changes) throw new ReferenceError('Changes are required when writing.');
    const writes: TurnStateWrite[] = Object.entries(changes).map(([key, item]) => {
      const { eTag, ...data } = (item ?? {}) as Record<string, unknown>;
      const ifEtag = typeof eTag === 'string' && eTag !== '' && eTag !== '*' ? eTag : null;
      return { key, data, ifEtag };
    });
    const result = await this.#store.writeTurnState(writes);
    if (!result.ok) throw new Error(`Storage: error writing "${result.conflictKey}" due to eTag conflict.`);
  }

  async delete(keys: string[]): Promise<void> {
    await this.#store.deleteTurnState(keys);
  }
}

export function createTurnStorage(store: Store): Storage {
  return new StoreTurnStorage(store);
}
