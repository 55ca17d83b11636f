import type { Caller } from '../domain/caller.ts';
import { describeError, messageOf } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { RegionCompliance } from '../domain/model.ts';
import type { GatewayPort, InventoryPort, PeopleDirectory, ProactiveSender } from '../domain/ports.ts';
import {
  choicesOf,
  domainMatcher,
  type RegionChoice,
  type RegionIndex,
  resolveScope,
  resolveScopeId,
} from '../domain/region-index.ts';
import { defaultReleasePolicy, evaluateReleasePolicy, type ReleasePolicy } from '../domain/release-policy.ts';
import { latestReportSlot } from '../domain/report-slot.ts';
import { hasRole, listedMembers, type RolesConfig } from '../domain/roles.ts';
import { type Scope, scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import type { PlannedNotification, ReportSchedule, Store } from '../domain/store-port.ts';
import { releaseOf } from './release-service.ts';

// The daily situation report (docs/decisions/nudges.md): `bericht an [HH:MM] [werktags] <scope>` stores a
// schedule per conversation; `tick()` plans each schedule's latest slot as a planned notification (key
// `report:<conversation>:<local date>`, so planning twice is one row), and the replica that claims it sends
// it. A slot missed while no replica ran is sent late within CATCH_UP_WINDOW, later skipped and logged —
// never twice. The report compares with the numbers the previous report of that conversation sent, which
// are kept as that notification's result.

export interface ReportRegionLine {
  id: string;
  name: string;
  /** Devices (clients and servers, all tracked patches) with the patch installed, in percent. */
  percent: number | null;
  /** Percentage points since the previous report; null for the first report. */
  delta: number | null;
  meets: boolean;
  /** Meets the release policy now and did not at the previous report. */
  newlyMeets: boolean;
  /** Not complete and no progress since the previous report. */
  stalled: boolean;
}

export interface ReportView {
  scope: { id: string; name: string };
  localDate: string;
  at: string;
  previousAt: string | null;
  regions: ReportRegionLine[];
  /** waitingFor: the names of the approvers who have not decided yet. */
  openRequests: Array<{ id: string; scopeName: string; direction: string; since: string; waitingFor: string[] }>;
  alerts: Array<{ scopeName: string; openedAt: string; open: boolean }>;
  mail: { domains: number; inboundOpen: number; outboundOpen: number; changed: string[] };
}

export interface ReportSnapshot {
  at: string;
  regions: Record<string, { percent: number | null; meets: boolean }>;
  mail: Record<string, string>;
}

export type ScheduleOutcome =
  | { kind: 'scheduled'; schedule: ReportSchedule; scopeName: string }
  | { kind: 'missing' }
  | { kind: 'ambiguous' | 'unknown'; input: string; choices: RegionChoice[] }
  | { kind: 'forbidden' };

export interface DailyReportDeps {
  store: Pick<
    Store,
    | 'setReportSchedule'
    | 'deleteReportSchedule'
    | 'listReportSchedules'
    | 'planNotification'
    | 'listDueNotifications'
    | 'listNotifications'
    | 'claimNotification'
    | 'completeNotification'
    | 'releaseNotification'
    | 'listRequests'
    | 'listAlerts'
    | 'appendAudit'
  >;
  inventory: InventoryPort;
  gateway: GatewayPort;
  regions: () => Promise<RegionIndex>;
  roles: RolesConfig;
  people: PeopleDirectory;
  sender: ProactiveSender;
  render: (view: ReportView, lang: 'de' | 'en') => Record<string, unknown>;
  /** The clock reports follow: the simulator's in the demo, so the February days are reported one by one. */
  now: () => Date;
  catchUpWindowMs: number;
  holder: string;
  logger: Logger;
  policy?: ReleasePolicy;
}

const CLAIM_MS = 120_000;
const MAX_ATTEMPTS = 5;
const reportKeyPrefix = (conversationId: string) => `report:${conversationId}:`;

function percentOf(region: RegionCompliance): number | null {
  let installed = 0;
  let total = 0;
  for (const p of region.patches) {
    installed += p.clients.installed + p.servers.installed;
    total += p.clients.total + p.servers.total;
  }
  if (total === 0) return null;
  return Math.floor((installed / total) * 1000) / 10;
}

export function createDailyReports(deps: DailyReportDeps) {
  const policy = deps.policy ?? defaultReleasePolicy;
  const nowIso = () => deps.now().toISOString();
  let running: Promise<number> | null = null;

  async function audit(
    caller: Caller | null,
    action: string,
    scopeId: string | null,
    details: Record<string, unknown>,
  ) {
    await deps.store.appendAudit([
      {
        at: nowIso(),
        actor: caller ? (caller.aadObjectId ?? caller.userId) : 'lagebot',
        action,
        tenantId: caller?.tenantId ?? null,
        scopeId,
        details: caller ? { by: caller.name, ...details } : details,
      },
    ]);
  }

  /** The scope's rows one level down (the Kreise of a Verband), or the region itself when it has none. */
  async function rowsOf(index: RegionIndex, scope: Scope): Promise<RegionCompliance[]> {
    if (scope.kind === 'all') {
      const parts = await Promise.all(index.roots.map((n) => deps.inventory.getCompliance(n.id)));
      return parts.map((p) => p.region);
    }
    const report = await deps.inventory.getCompliance(scope.node.id);
    return report.children.length > 0 ? report.children : [report.region];
  }

  async function build(schedule: ReportSchedule, slot: { localDate: string; at: string }) {
    const index = await deps.regions();
    const scope = resolveScopeId(index, schedule.scopeId);
    if (!scope) throw new Error(`report scope ${schedule.scopeId} is no longer in the inventory`);
    const previous = (
      await deps.store.listNotifications({
        keyPrefix: reportKeyPrefix(schedule.conversationId),
        status: 'sent',
        limit: 1000,
      })
    ).at(-1);
    const before = (previous?.result as { snapshot?: ReportSnapshot } | null)?.snapshot ?? null;
    const rows = await rowsOf(index, scope);
    const regions: ReportRegionLine[] = rows.map((r) => {
      const percent = percentOf(r);
      const meets = evaluateReleasePolicy(r, policy).meets;
      const was = before?.regions[r.regionId];
      const delta =
        was && was.percent !== null && percent !== null ? Math.round((percent - was.percent) * 10) / 10 : null;
      return {
        id: r.regionId,
        name: r.name,
        percent,
        delta,
        meets,
        newlyMeets: meets && was !== undefined && !was.meets,
        stalled: was !== undefined && !meets && delta !== null && delta <= 0,
      };
    });
    const inScope = domainMatcher(index, scope);
    const domains = (await deps.gateway.listDomains()).filter((d) => inScope(d.domain));
    const mail = Object.fromEntries(domains.map((d) => [d.domain, `${d.inbound}/${d.outbound}`]));
    const changed = before ? domains.filter((d) => before.mail[d.domain] !== mail[d.domain]).map((d) => d.domain) : [];
    const open = await deps.store.listRequests({ tenantId: schedule.tenantId, states: ['pending'], limit: 50 });
    const approvers = listedMembers(deps.roles, 'approver');
    const openRequests = await Promise.all(
      open
        .map(releaseOf)
        .filter((r) => r.kind === 'release' && r.scope.domains.some((d) => inScope(d)))
        .map(async (r) => ({
          id: r.id,
          scopeName: r.scope.name,
          direction: r.direction,
          since: r.createdAt,
          waitingFor: await Promise.all(
            approvers
              .filter((a) => a !== r.requester.id && !r.approvals.some((x) => x.by.id === a))
              .map(async (a) => (await deps.people.nameOf(a)).name),
          ),
        })),
    );
    const dayAgo = new Date(deps.now().getTime() - 24 * 3_600_000).toISOString();
    const alerts = (await deps.store.listAlerts({ limit: 200 }))
      .filter((a) => a.openedAt >= dayAgo && (scope.kind === 'all' || sameTree(index, scope, a.scopeId)))
      .map((a) => ({
        scopeName: (a.data as { scope?: { name?: string } }).scope?.name ?? a.scopeId,
        openedAt: a.openedAt,
        open: a.status === 'open',
      }));
    const view: ReportView = {
      scope: { id: scopeIdOf(scope), name: scopeNameOf(scope) },
      localDate: slot.localDate,
      at: slot.at,
      previousAt: before?.at ?? null,
      regions,
      openRequests,
      alerts,
      mail: {
        domains: domains.length,
        inboundOpen: domains.filter((d) => d.inbound === 'open').length,
        outboundOpen: domains.filter((d) => d.outbound === 'open').length,
        changed,
      },
    };
    const snapshot: ReportSnapshot = {
      at: slot.at,
      regions: Object.fromEntries(regions.map((r) => [r.id, { percent: r.percent, meets: r.meets }])),
      mail,
    };
    return { view, snapshot };
  }

  async function planSlots(): Promise<void> {
    const now = deps.now();
    for (const schedule of await deps.store.listReportSchedules()) {
      const slot = latestReportSlot(schedule.localTime, schedule.weekdaysOnly, now);
      // Asked for after the slot: the first report is the next one, not one at once.
      if (!slot || slot.at.getTime() < Date.parse(schedule.createdAt)) continue;
      await deps.store.planNotification(
        {
          key: `${reportKeyPrefix(schedule.conversationId)}${slot.localDate}`,
          kind: 'report',
          dueAt: slot.at.toISOString(),
          payload: { conversationId: schedule.conversationId, localDate: slot.localDate },
        },
        nowIso(),
      );
    }
  }

  async function send(item: PlannedNotification): Promise<'sent' | 'skipped'> {
    const { conversationId, localDate } = item.payload as { conversationId: string; localDate: string };
    const [schedule] = await deps.store.listReportSchedules(conversationId);
    if (!schedule) {
      await deps.store.completeNotification(item.key, 'skipped', { why: 'report_off' }, nowIso());
      return 'skipped';
    }
    const lateMs = deps.now().getTime() - Date.parse(item.dueAt);
    if (lateMs > deps.catchUpWindowMs) {
      deps.logger.warn('daily report skipped: its time passed longer ago than CATCH_UP_WINDOW', {
        conversationId,
        localDate,
        dueAt: item.dueAt,
      });
      await deps.store.completeNotification(item.key, 'skipped', { why: 'missed', lateMs }, nowIso());
      await audit(null, 'report.skipped', schedule.scopeId, { conversationId, localDate, lateMs });
      return 'skipped';
    }
    const { view, snapshot } = await build(schedule, { localDate, at: item.dueAt });
    const { activityId } = await deps.sender.send(conversationId, deps.render(view, schedule.lang));
    await deps.store.completeNotification(item.key, 'sent', { activityId, snapshot }, nowIso());
    await audit(null, 'report.sent', schedule.scopeId, { conversationId, localDate, late: lateMs > 0 });
    return 'sent';
  }

  async function dispatchDue(): Promise<number> {
    let sent = 0;
    const due = (await deps.store.listDueNotifications(nowIso(), 200)).filter((n) => n.kind === 'report');
    for (const item of due) {
      const claimed = await deps.store.claimNotification(item.key, deps.holder, nowIso(), CLAIM_MS);
      if (!claimed) continue;
      try {
        if ((await send(claimed)) === 'sent') sent++;
      } catch (error) {
        deps.logger.warn('daily report could not be sent', { key: item.key, err: describeError(error) });
        if (claimed.attempts >= MAX_ATTEMPTS)
          await deps.store.completeNotification(claimed.key, 'failed', error, nowIso());
        else await deps.store.releaseNotification(claimed.key, deps.holder, messageOf(error), nowIso());
      }
    }
    return sent;
  }

  return {
    /** `bericht an [HH:MM] [werktags] <scope>`: stores (or replaces) this conversation's daily report. */
    async schedule(
      caller: Caller,
      conversationId: string,
      input: { localTime: string; weekdaysOnly: boolean; scopeText: string; lang: 'de' | 'en' },
    ): Promise<ScheduleOutcome> {
      if (!hasRole(deps.roles, caller.aadObjectId, 'viewer') || !caller.tenantId) return { kind: 'forbidden' };
      if (input.scopeText.trim() === '') return { kind: 'missing' };
      const index = await deps.regions();
      const resolved = resolveScope(index, input.scopeText);
      if (resolved.kind === 'ambiguous')
        return { kind: 'ambiguous', input: input.scopeText, choices: choicesOf(index, resolved.candidates) };
      if (resolved.kind === 'unknown')
        return { kind: 'unknown', input: input.scopeText, choices: choicesOf(index, resolved.suggestions) };
      const schedule: ReportSchedule = {
        conversationId,
        tenantId: caller.tenantId,
        scopeId: scopeIdOf(resolved),
        localTime: input.localTime,
        weekdaysOnly: input.weekdaysOnly,
        lang: input.lang,
        createdBy: caller.aadObjectId ?? caller.userId,
        createdAt: nowIso(),
      };
      await deps.store.setReportSchedule(schedule);
      await audit(caller, 'report.scheduled', schedule.scopeId, {
        conversationId,
        localTime: schedule.localTime,
        weekdaysOnly: schedule.weekdaysOnly,
      });
      return { kind: 'scheduled', schedule, scopeName: scopeNameOf(resolved) };
    },

    /** `bericht aus`: false when there was none. */
    async stop(caller: Caller, conversationId: string): Promise<boolean> {
      const [existing] = await deps.store.listReportSchedules(conversationId);
      const removed = await deps.store.deleteReportSchedule(conversationId);
      if (removed) await audit(caller, 'report.stopped', existing?.scopeId ?? null, { conversationId });
      return removed;
    },

    /** `bericht jetzt`: this conversation's report now, outside the schedule (compared with the last one sent). */
    async now(conversationId: string): Promise<ReportView | null> {
      const [schedule] = await deps.store.listReportSchedules(conversationId);
      if (!schedule) return null;
      return (await build(schedule, { localDate: nowIso().slice(0, 10), at: nowIso() })).view;
    },

    /** Plans every schedule's latest slot and sends what is due; overlapping calls share one run. */
    tick(): Promise<number> {
      running ??= (async () => {
        try {
          await planSlots();
          return await dispatchDue();
        } finally {
          running = null;
        }
      })();
      return running;
    },
  };
}

function sameTree(index: RegionIndex, scope: Scope, alertScopeId: string): boolean {
  if (scope.kind === 'all') return true;
  // An alert's scope is a region or a domain; it belongs to the report when it lies under the scope.
  const alertScope = resolveScopeId(index, alertScopeId);
  if (!alertScope || alertScope.kind === 'all') return false;
  let node: { id: string; parentId?: string | null } | undefined = alertScope.node;
  while (node) {
    if (node.id === scope.node.id) return true;
    node = node.parentId ? index.byId.get(node.parentId) : undefined;
  }
  return false;
}

export type DailyReports = ReturnType<typeof createDailyReports>;
