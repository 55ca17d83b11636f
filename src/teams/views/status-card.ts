import { deepFreeze } from '../../domain/deep-freeze.ts';
import { type DeviceTally, tally } from '../../domain/summarize-patch-status.ts';
import type { StatusView } from '../../services/report-status.ts';
import { formatNumber, formatPct, formatTime, type Lang, type MessageKey, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// StatusView (language-free numbers) → the status card's data in the user's language.

type PatchSummary = StatusView['summary']['region']['patches'][number];
type Ratio = DeviceTally;

export function scopeTitle(view: StatusView, lang: Lang): string {
  return view.scope.kind === 'all' ? t(lang, 'all.name') : plainText(view.scope.name);
}

// "Verbände und Kreise" / "districts": the plural of each level the breakdown shows, as the inventory names it.
function breakdownLevelsText(lang: Lang, view: StatusView): string {
  const plurals = view.breakdownLevels.map((l) => plainText(l.plural[lang]));
  const text =
    plurals.length <= 1
      ? (plurals[0] ?? '')
      : `${plurals.slice(0, -1).join(', ')} ${t(lang, 'status.breakdown_and')} ${plurals.at(-1)}`;
  // Sentence case: the English plurals are lower case ("districts").
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function ratioText(lang: Lang, r: Ratio): string {
  if (r.total === 0) return t(lang, 'status.none');
  return t(lang, 'status.installed_of', {
    installed: formatNumber(lang, r.installed),
    total: formatNumber(lang, r.total),
    pct: formatPct(lang, r.pct),
  });
}

function trendText(lang: Lang, trend: StatusView['trends'][number]['clients'] | undefined): string {
  if (!trend) return t(lang, 'status.trend_no_data');
  switch (trend.state) {
    case 'complete':
      return t(lang, 'status.trend_complete');
    case 'stalled':
      return t(lang, 'status.trend_stalled', { remaining: formatNumber(lang, trend.remaining ?? 0) });
    case 'progressing':
      return t(lang, 'status.trend_progressing', {
        rate: formatNumber(lang, Math.round(trend.ratePerHour ?? 0)),
        eta: formatTime(lang, trend.etaAt),
      });
    default:
      return t(lang, 'status.trend_no_data');
  }
}

function patchBlock(lang: Lang, p: PatchSummary, view: StatusView) {
  const trend = view.trends.find((x) => x.patchId === p.patchId);
  // Patches for clients trend on clients, server patches on servers.
  const main: Ratio = p.clients.total > 0 ? p.clients : p.servers;
  const mainTrend = p.clients.total > 0 ? trend?.clients : trend?.servers;
  const facts = [
    { title: t(lang, 'status.clients'), value: ratioText(lang, p.clients) },
    { title: t(lang, 'status.servers'), value: ratioText(lang, p.servers) },
  ];
  if (p.exchange.total > 0) facts.push({ title: t(lang, 'status.exchange'), value: ratioText(lang, p.exchange) });
  return {
    title: plainText(p.title),
    donutTitle: p.clients.total > 0 ? t(lang, 'status.clients') : t(lang, 'status.servers'),
    donut: [
      { legend: t(lang, 'status.chart_installed'), value: main.installed, color: 'good' },
      { legend: t(lang, 'status.chart_open'), value: Math.max(0, main.total - main.installed), color: 'attention' },
    ],
    donutFallback: formatPct(lang, main.pct),
    facts,
    states: t(lang, 'status.states', {
      pending: formatNumber(lang, p.counts.pending),
      pending_reboot: formatNumber(lang, p.counts.pending_reboot),
      failed: formatNumber(lang, p.counts.failed),
      unknown: formatNumber(lang, p.counts.unknown),
      stale: formatNumber(lang, p.counts.stale),
      staleHours: view.staleAfterHours,
    }),
    trend: `${t(lang, 'status.trend')}: ${trendText(lang, mainTrend)}`,
  };
}

function policyText(lang: Lang, view: StatusView): string {
  if (view.policy.meets) return t(lang, 'status.policy_ok');
  const titles = new Map(view.summary.region.patches.map((p) => [p.patchId, plainText(p.title)]));
  const missing = view.policy.missingPatches.map((id) => titles.get(id) ?? plainText(id));
  const reasons = view.policy.shortfalls.map((s) =>
    t(lang, 'status.policy_shortfall', {
      kind: t(lang, s.kind === 'client' ? 'status.clients' : 'status.servers'),
      patch: titles.get(s.patchId) ?? plainText(s.patchId),
      pct: formatPct(lang, s.pct),
      required: s.required,
      missing: formatNumber(lang, s.total - s.installed),
    }),
  );
  return t(lang, 'status.policy_fail', { reasons: [...reasons, ...missing].join('; ') });
}

function mailFacts(lang: Lang, view: StatusView) {
  const mail = view.mail;
  if (!mail) return { title: t(lang, 'error.gateway_down'), facts: [], domainFacts: [] };
  const count = (dir: 'inbound' | 'outbound', s: string) => mail.domains.filter((d) => d[dir] === s).length;
  const queued = (dir: 'inbound' | 'outbound') =>
    mail.queues.filter((q) => q.direction === dir).reduce((n, q) => n + q.held, 0);
  const line = (dir: 'inbound' | 'outbound') =>
    t(lang, 'status.mail_counts', {
      open: count(dir, 'open'),
      blocked: count(dir, 'blocked'),
      held: count(dir, 'held'),
    });
  const facts = [
    { title: t(lang, 'status.mail_inbound'), value: line('inbound') },
    { title: t(lang, 'status.mail_outbound'), value: line('outbound') },
    {
      title: '✉',
      value: t(lang, 'status.mail_queue', {
        inbound: formatNumber(lang, queued('inbound')),
        outbound: formatNumber(lang, queued('outbound')),
      }),
    },
  ];
  // A town or Kreis has few domains: list them. `status alle` would list 64 — the counts say enough.
  const domainFacts =
    mail.domains.length <= 12
      ? mail.domains.map((d) => ({
          title: plainText(d.domain),
          value: `↓ ${t(lang, `flow.${d.inbound}` as MessageKey)} · ↑ ${t(lang, `flow.${d.outbound}` as MessageKey)}`,
        }))
      : [];
  return { title: t(lang, 'status.mail', { count: mail.domains.length }), facts, domainFacts };
}

// Within the status cache window every user asking about a scope gets the same view object (the
// status service reuses it), so the card is rendered once per view and language and then shared:
// rendering the template was a fifth of a status answer's CPU (bench/status). Frozen, because every
// reply sends the same object.
const renderedCards = new WeakMap<StatusView, Partial<Record<Lang, AdaptiveCardJson>>>();

export function buildStatusCard(view: StatusView, lang: Lang): AdaptiveCardJson {
  let byLang = renderedCards.get(view);
  if (!byLang) {
    byLang = {};
    renderedCards.set(view, byLang);
  }
  byLang[lang] ??= deepFreeze(renderStatusCard(view, lang));
  return byLang[lang];
}

function renderStatusCard(view: StatusView, lang: Lang): AdaptiveCardJson {
  // One level down, each child's clients and servers over every tracked patch.
  const children = view.summary.children.map((c) => {
    const sum = (kind: 'clients' | 'servers') =>
      tally(
        c.patches.reduce((n, p) => n + p[kind].installed, 0),
        c.patches.reduce((n, p) => n + p[kind].total, 0),
      );
    return { name: plainText(c.name), clients: sum('clients'), servers: sum('servers') };
  });
  const mail = mailFacts(lang, view);
  return renderCard('status', {
    title: t(lang, 'status.title', { name: scopeTitle(view, lang) }),
    asOf: t(lang, 'status.as_of', { time: formatTime(lang, view.observedAt) }),
    staleText: view.stale ? t(lang, 'status.stale', { time: formatTime(lang, view.observedAt) }) : '',
    policyText: policyText(lang, view),
    policyColor: view.policy.meets ? 'Good' : 'Attention',
    patches: view.summary.region.patches.map((p) => patchBlock(lang, p, view)),
    breakdownTitle: t(lang, 'status.breakdown', { levels: breakdownLevelsText(lang, view) }),
    breakdownChartTitle: t(lang, 'status.breakdown_chart'),
    breakdownChart: children.slice(0, 15).map((c) => ({ x: c.name, y: c.clients.pct ?? 0 })),
    children: children.map((c) => ({
      name: c.name,
      clients: `${t(lang, 'status.clients')} ${formatPct(lang, c.clients.pct)}`,
      servers: `${t(lang, 'status.servers')} ${formatPct(lang, c.servers.pct)}`,
      color: c.clients.pct === 100 && (c.servers.pct === 100 || c.servers.total === 0) ? 'Good' : 'Attention',
    })),
    unpatchedTitle:
      view.unpatched.total === 0
        ? t(lang, 'status.unpatched_none')
        : t(lang, 'status.unpatched', {
            shown: view.unpatched.rows.length,
            total: formatNumber(lang, view.unpatched.total),
          }),
    devices: view.unpatched.rows.map((r) => ({
      hostname: `${plainText(r.hostname)} (${t(lang, r.kind === 'server' ? 'device.server' : 'device.client')})`,
      town: plainText(r.townName),
      detail: t(lang, 'status.device_line', {
        state: t(lang, `state.${r.state}` as MessageKey),
        lastSeen: formatTime(lang, r.lastSeenAt),
      }),
    })),
    mailTitle: mail.title,
    mailFacts: mail.facts,
    domainFacts: mail.domainFacts,
    refreshTitle: t(lang, 'status.refresh'),
    refreshData: { scopeId: view.scope.id },
  });
}
