import { deepFreeze } from '../domain/deep-freeze.ts';
import { describeError } from '../domain/describe-error.ts';
import { isLagebotError } from '../domain/errors.ts';
import { estimateCompletion } from '../domain/estimate-completion.ts';
import type { Logger } from '../domain/logger.ts';
import { mergeRegionCompliance } from '../domain/merge-compliance.ts';
import type {
  ComplianceHistory,
  ComplianceReport,
  DomainState,
  HeldQueue,
  Patch,
  PatchStateRow,
  RegionKind,
  RegionLevel,
} from '../domain/model.ts';
import type { GatewayPort, InventoryPort, Page, PatchStateQuery } from '../domain/ports.ts';
import {
  choicesOf,
  domainMatcher,
  getNode,
  type RegionChoice,
  type RegionIndex,
  resolveScope,
  resolveScopeId,
} from '../domain/region-index.ts';
import { defaultReleasePolicy, evaluateReleasePolicy, type ReleasePolicy } from '../domain/release-policy.ts';
import { type Scope, scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import { summarizePatchStatus } from '../domain/summarize-patch-status.ts';
import { createFetchCache } from './create-fetch-cache.ts';
import { readRegionIndex } from './read-region-index.ts';

// Use case "report status": what `status <scope>` shows. It asks the inventory for summaries (never
// every device), caches briefly, and shares concurrent identical fetches (bench/status measures it).

export interface StatusView {
  // level: the region's kind; null for all and for a domain.
  scope: { id: string; name: string; kind: Scope['kind']; level: RegionKind | null; domain: string | null };
  /** The levels of the breakdown's rows, top first ("Kreise", "Kommunen"), as the inventory names them. */
  breakdownLevels: RegionLevel[];
  observedAt: string;
  /** True when the inventory did not answer and these numbers are the last good ones. */
  stale: boolean;
  fetchedAt: string;
  staleAfterHours: number;
  summary: ReturnType<typeof summarizePatchStatus>;
  policy: ReturnType<typeof evaluateReleasePolicy>;
  trends: Array<{
    patchId: string;
    clients: ReturnType<typeof estimateCompletion>;
    servers: ReturnType<typeof estimateCompletion>;
  }>;
  unpatched: { rows: Array<PatchStateRow & { townName: string }>; total: number };
  mail: { domains: DomainState[]; queues: HeldQueue[] } | null;
}

export type StatusResult =
  | { kind: 'ok'; view: StatusView }
  | { kind: 'ambiguous'; input: string; candidates: RegionChoice[] }
  | { kind: 'unknown'; input: string; suggestions: RegionChoice[] }
  | { kind: 'unavailable'; what: 'inventory' };

export interface StatusService {
  /** Resolves what the user typed and reports on it. */
  report(scopeText: string): Promise<StatusResult>;
  /** Reports on a scope id from a card button: 'all', a region id, or 'domain:<name>'. */
  reportById(scopeId: string): Promise<StatusResult>;
  regionIndex(): Promise<RegionIndex>;
  patches(): Promise<Patch[]>;
  /**
   * The bot itself changed the gateway (a release, a block): the cached gateway state is dropped, so
   * the next status shows what the bot just did instead of what it read up to a cache TTL ago.
   */
  gatewayChanged(): void;
}

export interface StatusServiceDeps {
  inventory: InventoryPort;
  gateway: GatewayPort;
  now: () => Date;
  cacheSeconds: number;
  logger: Logger;
  policy?: ReleasePolicy;
  /** How far back the trend looks. */
  historyHours?: number;
}

const UNPATCHED_STATES = ['failed', 'pending', 'pending_reboot', 'unknown'] as const;
/** Views kept for reuse: one per scope asked about (~130 regions and 64 domains in the estate). */
const MAX_VIEWS = 500;

export function createStatusService(deps: StatusServiceDeps): StatusService {
  const nowMs = () => deps.now().getTime();
  const cache = createFetchCache({
    ttlMs: deps.cacheSeconds * 1000,
    now: nowMs,
    refreshAheadMs: deps.cacheSeconds * 1000,
  });
  // Regions and patches change rarely; a longer TTL keeps them out of the hot path.
  const slowCache = createFetchCache({ ttlMs: Math.max(deps.cacheSeconds, 300) * 1000, now: nowMs });
  const policy = deps.policy ?? defaultReleasePolicy;
  const historyHours = deps.historyHours ?? 24;

  const regionIndex = async () =>
    (await slowCache.get('regions', () => readRegionIndex(deps.inventory), { staleOnError: true })).value;
  const patches = async () =>
    (await slowCache.get('patches', () => deps.inventory.listPatches(), { staleOnError: true })).value;

  async function compliance(regionId: string) {
    return cache.get(`compliance:${regionId}`, () => deps.inventory.getCompliance(regionId), { staleOnError: true });
  }

  async function historyFor(regionId: string, patchId: string, observedAt: string) {
    // Bucketed to the hour of the inventory's own clock so the cache key is stable within an hour.
    const to = new Date(observedAt);
    const from = new Date(to.getTime() - historyHours * 3_600_000);
    return cache.get(
      `history:${regionId}:${patchId}:${to.toISOString().slice(0, 15)}`,
      () =>
        deps.inventory.getComplianceHistory({
          regionId,
          patchId,
          from: from.toISOString(),
          to: to.toISOString(),
          stepMinutes: 30,
        }),
      { staleOnError: true },
    );
  }

  async function unpatchedPagesFor(regionId: string | undefined, patchList: Patch[]) {
    const pages = await Promise.all(
      patchList.map((p) =>
        cache.get(
          `unpatched:${regionId ?? 'all'}:${p.id}`,
          () => deps.inventory.listPatchStates(unpatchedQuery(p.id, regionId)),
          { staleOnError: true },
        ),
      ),
    );
    return pages.map((p) => p.value);
  }

  async function gatewayState() {
    try {
      const [domains, queues] = await Promise.all([
        cache.get('domains', () => deps.gateway.listDomains()),
        cache.get('queues', () => deps.gateway.listQueues()),
      ]);
      return { domains: domains.value, queues: queues.value };
    } catch (error) {
      // The patch view is still worth showing when only the gateway is down.
      deps.logger.warn('gateway unavailable for status', { err: describeError(error) });
      return null;
    }
  }

  // The last view per scope and the back-end answers it was computed from. Within the cache window
  // every question about a scope gets the same answers (the same objects from the fetch cache), so
  // it gets the same view without summarising, estimating and merging again: that work was most of
  // what a status answer allocated (bench/status). Bounded by the number of scopes.
  const views = new Map<string, { inputs: readonly unknown[]; view: StatusView }>();

  async function reportOn(scope: Scope): Promise<StatusResult> {
    try {
      const [index, patchList] = await Promise.all([regionIndex(), patches()]);
      // "All" has no node of its own: it is the sum of the tree's roots.
      const regionIds = scope.kind === 'all' ? index.roots.map((n) => n.id) : [scope.node.id];
      const parts = await Promise.all(regionIds.map((id) => compliance(id)));
      const observedAt = parts[0]!.value.observedAt;
      const regionId = scope.kind === 'all' ? undefined : scope.node.id;
      const [histories, unpatchedPages, gateway] = await Promise.all([
        Promise.all(
          patchList.map((p) => Promise.all(regionIds.map(async (r) => (await historyFor(r, p.id, observedAt)).value))),
        ),
        unpatchedPagesFor(regionId, patchList),
        gatewayState(),
      ]);
      const fetchedAt = Math.min(...parts.map((p) => p.fetchedAt));
      const stale = parts.some((p) => p.stale);
      const inputs = [
        index,
        patchList,
        fetchedAt,
        stale,
        gateway?.domains,
        gateway?.queues,
        ...parts.map((p) => p.value),
        ...histories.flat(),
        ...unpatchedPages,
      ];
      const described = describeScope(scope);
      const seen = views.get(described.id);
      if (seen && sameInputs(seen.inputs, inputs)) return { kind: 'ok', view: seen.view };

      // One level down from "all": the tree's roots (the Verbände in the simulator's estate); with a single
      // root, that root's report as it is (its children, and its own devices as a row). Never two levels
      // at once, which would count every device twice.
      const report: ComplianceReport =
        scope.kind === 'all' && parts.length > 1
          ? {
              observedAt,
              staleAfterHours: parts[0]!.value.staleAfterHours,
              region: mergeRegionCompliance(
                parts.map((p) => p.value.region),
                { regionId: scopeIdOf(scope), name: scopeNameOf(scope), kind: 'all' },
              ),
              children: parts.map((p) => p.value.region),
            }
          : parts[0]!.value;
      const trends = patchList.map((p, i) => {
        const points = sumHistories(histories[i]!);
        const now = report.region.patches.find((x) => x.patchId === p.id);
        return {
          patchId: p.id,
          clients: estimateCompletion(points, 'client', observedAt, now?.clients.failed ?? 0),
          servers: estimateCompletion(points, 'server', observedAt, now?.servers.failed ?? 0),
        };
      });
      let mail: StatusView['mail'] = null;
      if (gateway) {
        const wanted = domainMatcher(index, scope);
        const domains = gateway.domains.filter((d) => wanted(d.domain));
        const names = new Set(domains.map((d) => d.domain));
        mail = { domains, queues: gateway.queues.filter((q) => names.has(q.domain)) };
      }
      const summary = summarizePatchStatus(report, patchList, policy);
      const childKinds = new Set(summary.children.filter((c) => !c.own).map((c) => c.kind));
      const view: StatusView = deepFreeze({
        scope: described,
        breakdownLevels: index.levels.filter((l) => childKinds.has(l.kind)),
        observedAt,
        stale,
        fetchedAt: new Date(fetchedAt).toISOString(),
        staleAfterHours: report.staleAfterHours,
        summary,
        policy: evaluateReleasePolicy(report.region, policy),
        trends,
        unpatched: mostImportantUnpatched(unpatchedPages, index),
        mail,
      });
      if (!seen && views.size >= MAX_VIEWS) views.delete(views.keys().next().value as string);
      views.set(described.id, { inputs, view });
      return { kind: 'ok', view };
    } catch (error) {
      if (isLagebotError(error) && error.code.startsWith('UPSTREAM')) {
        deps.logger.warn('inventory unavailable for status', { code: error.code, err: error.message });
        return { kind: 'unavailable', what: 'inventory' };
      }
      throw error;
    }
  }

  return {
    regionIndex,
    patches,
    gatewayChanged() {
      // One gateway read serves every scope ('domains' lists them all), so dropping it covers each
      // scope the change touched; the patch data is the inventory's and stays.
      cache.delete('domains');
      cache.delete('queues');
    },
    async report(scopeText) {
      let index: RegionIndex;
      try {
        index = await regionIndex();
      } catch (error) {
        if (isLagebotError(error) && error.code.startsWith('UPSTREAM'))
          return { kind: 'unavailable', what: 'inventory' };
        throw error;
      }
      const resolved = resolveScope(index, scopeText);
      switch (resolved.kind) {
        case 'ambiguous':
          return { kind: 'ambiguous', input: scopeText, candidates: choicesOf(index, resolved.candidates) };
        case 'unknown':
          return { kind: 'unknown', input: scopeText, suggestions: choicesOf(index, resolved.suggestions) };
        default:
          return reportOn(resolved);
      }
    },
    async reportById(scopeId) {
      let index: RegionIndex;
      try {
        index = await regionIndex();
      } catch (error) {
        if (isLagebotError(error) && error.code.startsWith('UPSTREAM'))
          return { kind: 'unavailable', what: 'inventory' };
        throw error;
      }
      const scope = resolveScopeId(index, scopeId);
      return scope ? reportOn(scope) : { kind: 'unknown', input: scopeId, suggestions: [] };
    },
  };
}

function describeScope(scope: Scope): StatusView['scope'] {
  return {
    id: scopeIdOf(scope),
    name: scopeNameOf(scope),
    kind: scope.kind,
    level: scope.kind === 'region' ? scope.node.kind : null,
    domain: scope.kind === 'domain' ? scope.domain : null,
  };
}

/** Per patch, the first ten unpatched devices in priority order: enough to merge the overall top ten. */
export function unpatchedQuery(patchId: string, regionId: string | undefined): PatchStateQuery {
  return { patchId, ...(regionId ? { regionId } : {}), states: [...UNPATCHED_STATES], sort: 'priority', limit: 10 };
}

/** The ten unpatched devices that matter most over all patches, with their town's name, and how many there are. */
export function mostImportantUnpatched(pages: ReadonlyArray<Page<PatchStateRow>>, index: RegionIndex) {
  const rows = pages.flatMap((p) => p.items).sort(compareByPriority);
  return {
    rows: rows.slice(0, 10).map((r) => ({ ...r, townName: getNode(index, r.municipality)?.name ?? r.municipality })),
    total: pages.reduce((n, p) => n + p.total, 0),
  };
}

/** Servers first, then failed, then the longest unseen: the devices an operator chases first. */
export function compareByPriority(a: PatchStateRow, b: PatchStateRow): number {
  if (a.kind !== b.kind) return a.kind === 'server' ? -1 : 1;
  const af = a.state === 'failed' ? 0 : 1;
  const bf = b.state === 'failed' ? 0 : 1;
  if (af !== bf) return af - bf;
  return a.lastSeenAt.localeCompare(b.lastSeenAt) || a.hostname.localeCompare(b.hostname);
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sumHistories(parts: ComplianceHistory[]): ComplianceHistory['points'] {
  if (parts.length === 1) return parts[0]!.points;
  const byAt = new Map<string, ComplianceHistory['points'][number]>();
  for (const part of parts) {
    for (const p of part.points) {
      const seen = byAt.get(p.at);
      byAt.set(
        p.at,
        seen
          ? {
              at: p.at,
              clients: {
                total: seen.clients.total + p.clients.total,
                installed: seen.clients.installed + p.clients.installed,
              },
              servers: {
                total: seen.servers.total + p.servers.total,
                installed: seen.servers.installed + p.servers.installed,
              },
            }
          : p,
      );
    }
  }
  return [...byAt.values()].sort((a, b) => a.at.localeCompare(b.at));
}
