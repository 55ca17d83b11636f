import { deepFreeze } from '../../domain/deep-freeze.ts';
import { type DeviceTally, tally } from '../../domain/summarize-patch-status.ts';
import type { StatusView } from '../../services/report-status.ts';
import { formatDayTime, formatNumber, formatPct, formatTime, type Lang, type MessageKey, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// StatusView (language-free numbers) → the status card's data in the user's language. The card reads
// top-down at a glance: the verdict (is the release policy met, and if not what is missing), one
// compact line per tracked patch, the breakdown one level down worst first by the figure that decides
// the policy; charts, devices and domains sit behind *Details*.

type PatchSummary = StatusView['summary']['region']['patches'][number];
type RegionSummary = StatusView['summary']['region'];
type Trend = StatusView['trends'][number]['clients'];

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

// "Outlook security update (CVE-2024-21413)" → "Outlook security update": the CVE is in the details.
function shortTitle(title: string): string {
  const short = title.replace(/\s*\([^)]*\)\s*$/, '');
  return plainText(short || title);
}

function deviceCount(lang: Lang, kind: 'client' | 'server', n: number): string {
  return t(lang, kind === 'client' ? 'status.kind_count_client' : 'status.kind_count_server', {
    n: formatNumber(lang, n),
  });
}

function kindWord(lang: Lang, kind: 'client' | 'server'): string {
  return t(lang, kind === 'client' ? 'status.clients' : 'status.servers');
}

function ratioText(lang: Lang, r: DeviceTally): string {
  if (r.total === 0) return t(lang, 'status.none');
  return t(lang, 'status.installed_of', {
    installed: formatNumber(lang, r.installed),
    total: formatNumber(lang, r.total),
    pct: formatPct(lang, r.pct),
  });
}

export function trendText(lang: Lang, trend: Trend | undefined): string {
  if (!trend) return t(lang, 'status.trend_no_data');
  const rate = formatNumber(lang, Math.round(trend.ratePerHour ?? 0));
  const failed = formatNumber(lang, trend.failed);
  switch (trend.state) {
    case 'complete':
      return t(lang, 'status.trend_complete');
    case 'stalled':
      return trend.failed > 0
        ? t(lang, 'status.trend_stalled_failed', { since: formatDayTime(lang, trend.stalledSince), failed })
        : t(lang, 'status.trend_stalled', {
            since: formatDayTime(lang, trend.stalledSince),
            remaining: formatNumber(lang, trend.remaining ?? 0),
          });
    case 'progressing':
      return trend.failed > 0
        ? t(lang, 'status.trend_progressing_failed', {
            rate,
            rest: formatNumber(lang, (trend.remaining ?? 0) - trend.failed),
            eta: formatDayTime(lang, trend.etaAt),
            failed,
          })
        : t(lang, 'status.trend_progressing', { rate, eta: formatDayTime(lang, trend.etaAt) });
    default:
      return t(lang, 'status.trend_no_data');
  }
}

// The kinds a patch is for in this scope, clients first.
function kindsOf(p: PatchSummary): Array<'client' | 'server'> {
  return (['client', 'server'] as const).filter((k) => (k === 'client' ? p.clients : p.servers).total > 0);
}

function patchLine(lang: Lang, p: PatchSummary, view: StatusView) {
  const kinds = kindsOf(p);
  const main = kinds[0] === 'server' ? p.servers : p.clients;
  const trend = view.trends.find((x) => x.patchId === p.patchId);
  const mainTrend = kinds[0] === 'server' ? trend?.servers : trend?.clients;
  const figure = p.applies
    ? kinds
        .map((k) => {
          const r = k === 'client' ? p.clients : p.servers;
          return t(lang, 'status.patch_line', {
            kind: kindWord(lang, k),
            installed: formatNumber(lang, r.installed),
            total: formatNumber(lang, r.total),
            pct: formatPct(lang, r.pct),
          });
        })
        .join(' · ')
    : t(lang, 'status.not_affected');
  return {
    title: shortTitle(p.title),
    figure,
    applies: p.applies,
    bar: progressBar(main),
    trend: p.applies
      ? trendText(lang, mainTrend)
      : t(lang, 'status.not_affected_detail', { scope: scopeTitle(view, lang) }),
  };
}

// Adaptive Cards has no progress element and Teams' Chart.Gauge is not drawn everywhere: 25 cells of
// text, a full one per started 4 %, but full everywhere only at 100 %.
const BAR_CELLS = 25;
function progressBar(r: DeviceTally): string {
  if (r.total <= 0) return '';
  const full =
    r.installed >= r.total ? BAR_CELLS : Math.min(BAR_CELLS - 1, Math.floor((r.installed / r.total) * BAR_CELLS));
  return '█'.repeat(full) + '░'.repeat(BAR_CELLS - full);
}

function patchDetails(lang: Lang, p: PatchSummary, view: StatusView) {
  const facts = [
    { title: t(lang, 'status.clients'), value: ratioText(lang, p.clients) },
    { title: t(lang, 'status.servers'), value: ratioText(lang, p.servers) },
  ];
  if (p.exchange.total > 0) facts.push({ title: t(lang, 'status.exchange'), value: ratioText(lang, p.exchange) });
  return {
    title: plainText(p.title),
    facts,
    states: p.applies
      ? t(lang, 'status.states', {
          pending: formatNumber(lang, p.counts.pending),
          pending_reboot: formatNumber(lang, p.counts.pending_reboot),
          failed: formatNumber(lang, p.counts.failed),
          unknown: formatNumber(lang, p.counts.unknown),
          stale: formatNumber(lang, p.counts.stale),
          staleHours: view.staleAfterHours,
        })
      : t(lang, 'status.not_affected'),
  };
}

// One or two lines: met, or per shortfall what is missing ("Südverband: 317 Clients ohne Outlook
// security update, 135 davon fehlgeschlagen").
function verdict(lang: Lang, view: StatusView) {
  if (view.policy.meets) {
    return { headline: t(lang, 'status.verdict_ok'), color: 'Good', detail: t(lang, 'status.verdict_ok_detail') };
  }
  const scope = scopeTitle(view, lang);
  const byId = new Map(view.summary.region.patches.map((p) => [p.patchId, p]));
  const title = (id: string) => {
    const p = byId.get(id);
    return p ? shortTitle(p.title) : plainText(id);
  };
  const lines = view.policy.shortfalls.map((s) => {
    const p = byId.get(s.patchId);
    const failed = p ? (s.kind === 'client' ? p.failed.clients : p.failed.servers) : 0;
    const devices = deviceCount(lang, s.kind, s.total - s.installed);
    if (s.required < 100) {
      return t(lang, 'status.verdict_below', {
        scope,
        devices,
        patch: title(s.patchId),
        pct: formatPct(lang, s.pct),
        required: s.required,
      });
    }
    return failed > 0
      ? t(lang, 'status.verdict_missing_failed', {
          scope,
          devices,
          patch: title(s.patchId),
          failed: formatNumber(lang, failed),
        })
      : t(lang, 'status.verdict_missing', { scope, devices, patch: title(s.patchId) });
  });
  for (const id of view.policy.missingPatches) {
    lines.push(t(lang, 'status.verdict_no_data', { scope, patch: title(id) }));
  }
  return { headline: t(lang, 'status.verdict_fail'), color: 'Attention', detail: lines.join('\n\n') };
}

function breakdownRow(lang: Lang, c: RegionSummary, view: StatusView) {
  const d = c.deciding;
  const patch = d ? view.summary.region.patches.find((p) => p.patchId === d.patchId) : undefined;
  const patchTitle = patch ? shortTitle(patch.title) : plainText(d?.patchId ?? '');
  let figure: string;
  if (!d) figure = t(lang, 'status.breakdown_nothing');
  else if (d.meets)
    figure = t(lang, 'status.breakdown_ok', { kind: kindWord(lang, d.kind), pct: formatPct(lang, d.tally.pct) });
  else {
    figure = t(lang, 'status.breakdown_row', {
      kind: kindWord(lang, d.kind),
      pct: formatPct(lang, d.tally.pct),
      open: formatNumber(lang, d.tally.unpatched),
    });
    // The patch only where it is another than the one the verdict is about: rows stay one line.
    if (d.patchId !== view.summary.region.deciding?.patchId) figure += ` · ${patchTitle}`;
  }
  // Colour by meaning: green for what is done, no colour for what is still to do (the verdict above
  // carries the warning once, not every row).
  const name = c.own ? t(lang, 'status.breakdown_own', { name: plainText(c.name) }) : plainText(c.name);
  return { name, figure, color: d?.meets ? 'Good' : 'Default' };
}

function mailSummary(lang: Lang, view: StatusView) {
  const mail = view.mail;
  if (!mail) return { line: t(lang, 'error.gateway_down'), facts: [], domainFacts: [] };
  const states = ['open', 'held', 'blocked'] as const;
  const summary = (dir: 'inbound' | 'outbound') =>
    states
      .map((s) => ({ s, n: mail.domains.filter((d) => d[dir] === s).length }))
      .filter((x) => x.n > 0)
      .map((x) =>
        t(lang, 'status.mail_state_count', { n: formatNumber(lang, x.n), state: t(lang, `flow.${x.s}` as MessageKey) }),
      )
      .join(', ') || '–';
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
  // Behind Details: a town or Kreis has few domains, list them; `status alle` would list 64.
  const domainFacts =
    mail.domains.length <= 24
      ? mail.domains.map((d) => ({
          title: plainText(d.domain),
          value: `↓ ${t(lang, `flow.${d.inbound}` as MessageKey)} · ↑ ${t(lang, `flow.${d.outbound}` as MessageKey)}`,
        }))
      : [];
  return {
    line: t(lang, 'status.mail_summary', {
      count: mail.domains.length,
      inbound: summary('inbound'),
      outbound: summary('outbound'),
    }),
    facts,
    domainFacts,
  };
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
  const clientsOf = (c: RegionSummary) =>
    tally(
      c.patches.reduce((n, p) => n + p.clients.installed, 0),
      c.patches.reduce((n, p) => n + p.clients.total, 0),
    );
  const chartRows = view.summary.children
    .map((c) => ({
      name: c.own ? t(lang, 'status.breakdown_own', { name: plainText(c.name) }) : plainText(c.name),
      clients: clientsOf(c),
    }))
    .filter((c) => c.clients.total > 0)
    .slice(0, 15);
  const mail = mailSummary(lang, view);
  const v = verdict(lang, view);
  return renderCard('status', {
    title: t(lang, 'status.title', { name: scopeTitle(view, lang) }),
    asOf: t(lang, 'status.as_of', { time: formatTime(lang, view.observedAt) }),
    staleText: view.stale ? t(lang, 'status.stale', { time: formatTime(lang, view.observedAt) }) : '',
    verdict: v.headline,
    verdictColor: v.color,
    verdictDetail: v.detail,
    patches: view.summary.region.patches.map((p) => patchLine(lang, p, view)),
    breakdownTitle: t(lang, 'status.breakdown', { levels: breakdownLevelsText(lang, view) }),
    children: view.summary.children.map((c) => breakdownRow(lang, c, view)),
    mailLine: mail.line,
    detailsTitle: t(lang, 'status.details'),
    patchDetails: view.summary.region.patches.map((p) => patchDetails(lang, p, view)),
    breakdownChartTitle: t(lang, 'status.breakdown_chart'),
    // Stacked to 100: every bar is as long as the axis, so the axis runs 0–100 % whatever the values.
    breakdownChart: chartRows.map((c) => {
      const pct = c.clients.pct ?? 0;
      return {
        title: c.name,
        data: [
          { legend: t(lang, 'status.chart_installed'), value: pct, color: 'good' },
          { legend: t(lang, 'status.chart_open'), value: Math.round((100 - pct) * 10) / 10, color: 'neutral' },
        ],
      };
    }),
    breakdownChartFallback: chartRows.map((c) => `${c.name} ${formatPct(lang, c.clients.pct)}`).join(' · '),
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
    mailFacts: mail.facts,
    domainFacts: mail.domainFacts,
    refreshTitle: t(lang, 'status.refresh'),
    refreshData: { scopeId: view.scope.id },
  });
}
