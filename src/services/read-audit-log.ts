import type { RegionIndex } from '../domain/region-index.ts';
import { resolveScope } from '../domain/region-index.ts';
import { scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import type { AuditEntry, Store } from '../domain/store-port.ts';

// `protokoll [scope]`: the latest audit entries of the caller's tenant, newest first, of everything
// or of one scope.

export type AuditLogResult =
  // scopeName: null for everything.
  { kind: 'ok'; scopeName: string | null; entries: AuditEntry[] } | { kind: 'unknown'; input: string };

export interface AuditLogReader {
  latest(tenantId: string | null, scopeText: string): Promise<AuditLogResult>;
}

const SHOWN = 15;
// Entries of other tenants are filtered out after the query; reading a few more keeps the page full.
const READ = 50;

export function createAuditLogReader(deps: {
  store: Pick<Store, 'listAudit'>;
  regions: () => Promise<RegionIndex>;
}): AuditLogReader {
  return {
    async latest(tenantId, scopeText) {
      let scope: { id: string; name: string } | null = null;
      if (scopeText.trim()) {
        const resolved = resolveScope(await deps.regions(), scopeText);
        // An audit question names one place; a question back ("Olpe: which one?") is not worth a card here.
        if (resolved.kind === 'ambiguous' || resolved.kind === 'unknown') return { kind: 'unknown', input: scopeText };
        if (resolved.kind !== 'all') scope = { id: scopeIdOf(resolved), name: scopeNameOf(resolved) };
      }
      const entries = (await deps.store.listAudit({ limit: READ, ...(scope ? { scopeId: scope.id } : {}) }))
        .filter((e) => e.tenantId === null || e.tenantId === tenantId)
        .slice(0, SHOWN);
      return { kind: 'ok', scopeName: scope?.name ?? null, entries };
    },
  };
}
