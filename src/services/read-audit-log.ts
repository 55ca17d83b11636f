import type { RegionIndex } from '../domain/region-index.ts';
import { resolveScope, resolveScopeId } from '../domain/region-index.ts';
import type { ReleaseDirection, RequestKind } from '../domain/release-request.ts';
import { scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import type { AuditEntry, Store } from '../domain/store-port.ts';
import { releaseOf } from './release-service.ts';

// `protokoll [scope]`: what people did, newest first, as lines a person reads: one per request event
// (who asked, who approved, who rejected), the per-domain gateway results of a request folded into one
// line, alert subscriptions and acknowledgements. Language-free: the card words it. *Mehr* pages on.

/** What a line about a request says about the request itself. */
export interface AuditRequestFacts {
  kind: RequestKind;
  scopeId: string;
  scopeName: string;
  direction: ReleaseDirection | null;
  requesterName: string;
}

export type AuditLine =
  | {
      kind: 'request';
      at: string;
      // requested, approve, reject, cancel, expire, confirm_block, retry_failed (release-request.ts events)
      event: string;
      by: string;
      request: AuditRequestFacts;
      // The request's state after the event ("pending" after the first of two approvals).
      state: string | null;
      override: boolean;
    }
  | { kind: 'domains'; at: string; request: AuditRequestFacts; succeeded: number; failed: number; open: number }
  | {
      kind: 'alert';
      at: string;
      event: 'subscribe' | 'unsubscribe' | 'ack' | 'mute' | 'test';
      by: string;
      scopeId: string | null;
      scopeName: string | null;
      hours: number | null;
    }
  | { kind: 'other'; at: string; action: string; actor: string };

export type AuditLogResult =
  | {
      kind: 'ok';
      // null for everything.
      scope: { id: string; name: string } | null;
      lines: AuditLine[];
      // Where *Mehr* continues (entries with a smaller seq); null when nothing older is left.
      olderThan: number | null;
    }
  | { kind: 'unknown'; input: string };

export interface AuditLogReader {
  latest(tenantId: string | null, scopeText: string): Promise<AuditLogResult>;
  /** An older page, from a *Mehr* button: scopeId null for everything. */
  older(tenantId: string | null, scopeId: string | null, olderThan: number): Promise<AuditLogResult>;
}

export const AUDIT_LINES_SHOWN = 15;
const BATCH = 200;
// A page reads at most this many entries (a 64-domain release writes ~130): enough for a page of
// lines, bounded for a log of any size.
const MAX_READ = 2_000;

const DOMAIN_ACTIONS = /^(release|block)\.(domain_succeeded|domain_failed)$|^gateway\.intent$/;
const REQUEST_ACTION = /^(release|block)\.([a-z_]+)$/;
const ALERT_ACTION = /^alert\.(subscribe|unsubscribe|ack|mute|test)$/;

export function createAuditLogReader(deps: {
  store: Pick<Store, 'listAudit' | 'getRequest'>;
  regions: () => Promise<RegionIndex>;
}): AuditLogReader {
  async function page(
    tenantId: string | null,
    scope: { id: string; name: string } | null,
    olderThan: number | undefined,
  ): Promise<AuditLogResult> {
    const index = await deps.regions();
    const requests = new Map<string, Promise<AuditRequestFacts>>();
    const factsOf = (requestId: string, scopeId: string | null) => {
      let p = requests.get(requestId);
      if (!p) {
        p = requestFacts(requestId, scopeId);
        requests.set(requestId, p);
      }
      return p;
    };
    async function requestFacts(requestId: string, scopeId: string | null): Promise<AuditRequestFacts> {
      const stored = await deps.store.getRequest(requestId);
      if (!stored) {
        return {
          kind: 'release',
          scopeId: scopeId ?? '',
          scopeName: nameOf(index, scopeId),
          direction: null,
          requesterName: '',
        };
      }
      const r = releaseOf(stored);
      return {
        kind: r.kind,
        scopeId: r.scope.id,
        scopeName: r.scope.name,
        direction: r.direction,
        requesterName: r.requester.name,
      };
    }
    const folded = new Set<string>();
    const lines: AuditLine[] = [];
    let cursor = olderThan;
    let lastConsumed: number | null = null;
    let read = 0;
    let more = false;
    outer: while (read < MAX_READ) {
      const batch = await deps.store.listAudit({
        limit: BATCH,
        ...(scope ? { scopeId: scope.id } : {}),
        ...(cursor !== undefined ? { beforeSeq: cursor } : {}),
      });
      if (batch.length === 0) break;
      read += batch.length;
      for (const e of batch) {
        cursor = e.seq;
        if (e.tenantId !== null && e.tenantId !== tenantId) {
          lastConsumed = e.seq;
          continue;
        }
        const line = await lineOf(e);
        if (line === 'skip') {
          lastConsumed = e.seq;
          continue;
        }
        if (lines.length === AUDIT_LINES_SHOWN) {
          more = true;
          break outer;
        }
        lines.push(line);
        lastConsumed = e.seq;
      }
      if (batch.length < BATCH) break;
    }
    if (read >= MAX_READ) more = true;
    return { kind: 'ok', scope, lines, olderThan: more && lastConsumed !== null ? lastConsumed : null };

    async function lineOf(e: AuditEntry): Promise<AuditLine | 'skip'> {
      const d = (e.details ?? {}) as Record<string, unknown>;
      const by = typeof d.by === 'string' ? d.by : typeof d.name === 'string' ? d.name : e.actor;
      if (DOMAIN_ACTIONS.test(e.action) && e.requestId) {
        // The request's gateway results, once, where its newest one is; a newer page already showed it.
        if (folded.has(e.requestId)) return 'skip';
        folded.add(e.requestId);
        if (olderThan !== undefined && (await newestDomainSeq(e.requestId)) >= olderThan) return 'skip';
        return {
          kind: 'domains',
          at: e.at,
          request: await factsOf(e.requestId, e.scopeId),
          ...(await outcomes(e.requestId)),
        };
      }
      const request = REQUEST_ACTION.exec(e.action);
      if (request && e.requestId) {
        return {
          kind: 'request',
          at: e.at,
          event: request[2]!,
          by,
          request: await factsOf(e.requestId, e.scopeId),
          state: typeof d.state === 'string' ? d.state : null,
          override: d.override === true,
        };
      }
      const alert = ALERT_ACTION.exec(e.action);
      if (alert) {
        return {
          kind: 'alert',
          at: e.at,
          event: alert[1] as 'subscribe',
          by,
          scopeId: e.scopeId && e.scopeId !== 'test' ? e.scopeId : null,
          scopeName: e.scopeId && e.scopeId !== 'test' ? nameOf(index, e.scopeId) : null,
          hours: typeof d.hours === 'number' ? d.hours : null,
        };
      }
      return { kind: 'other', at: e.at, action: e.action, actor: by };
    }
  }

  async function domainEntries(requestId: string): Promise<AuditEntry[]> {
    return (await deps.store.listAudit({ requestId, limit: 1000 })).filter((x) => DOMAIN_ACTIONS.test(x.action));
  }

  async function newestDomainSeq(requestId: string): Promise<number> {
    return Math.max(...(await domainEntries(requestId)).map((x) => x.seq));
  }

  // Per domain the latest outcome: a retry that succeeded counts as succeeded, not as both.
  async function outcomes(requestId: string): Promise<{ succeeded: number; failed: number; open: number }> {
    const latest = new Map<string, string>();
    for (const x of (await domainEntries(requestId)).sort((a, b) => a.seq - b.seq)) {
      const domain = (x.details as { domain?: unknown } | null)?.domain;
      if (typeof domain !== 'string') continue;
      const outcome = x.action.endsWith('domain_succeeded')
        ? 'succeeded'
        : x.action.endsWith('domain_failed')
          ? 'failed'
          : 'open';
      // An intent after an outcome is a retry under way.
      latest.set(domain, outcome);
    }
    const n = (o: string) => [...latest.values()].filter((v) => v === o).length;
    return { succeeded: n('succeeded'), failed: n('failed'), open: n('open') };
  }

  return {
    async latest(tenantId, scopeText) {
      let scope: { id: string; name: string } | null = null;
      if (scopeText.trim()) {
        const resolved = resolveScope(await deps.regions(), scopeText);
        // An audit question names one place; a question back ("Olpe: which one?") is not worth a card here.
        if (resolved.kind === 'ambiguous' || resolved.kind === 'unknown') return { kind: 'unknown', input: scopeText };
        if (resolved.kind !== 'all') scope = { id: scopeIdOf(resolved), name: scopeNameOf(resolved) };
      }
      return page(tenantId, scope, undefined);
    },
    async older(tenantId, scopeId, olderThan) {
      const index = await deps.regions();
      const resolved = scopeId === null ? null : resolveScopeId(index, scopeId);
      if (scopeId !== null && !resolved) return { kind: 'unknown', input: scopeId };
      const scope =
        resolved && resolved.kind !== 'all' ? { id: scopeIdOf(resolved), name: scopeNameOf(resolved) } : null;
      return page(tenantId, scope, olderThan);
    },
  };
}

function nameOf(index: RegionIndex, scopeId: string | null): string {
  if (!scopeId) return '';
  const scope = resolveScopeId(index, scopeId);
  return scope ? scopeNameOf(scope) : scopeId;
}
