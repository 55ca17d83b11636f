import type { ReportView } from '../../services/daily-report.ts';
import { formatNumber, formatTime, type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';
import { directionText } from './request-card.ts';

// The daily situation report: progress since the previous report per region one level down, regions that
// now meet the release policy, stalls, open requests and who they wait for, alerts of the last 24 h, the
// mail state and what changed in it. One text line per fact on the list template.

function signed(lang: Lang, delta: number): string {
  const n = new Intl.NumberFormat(lang === 'de' ? 'de-DE' : 'en-GB', {
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
    signDisplay: 'always',
  });
  return n.format(delta);
}

export function buildReportCard(view: ReportView, lang: Lang): AdaptiveCardJson {
  const scope = view.scope.id === 'all' ? t(lang, 'all.name') : plainText(view.scope.name);
  const lines: string[] = [
    view.previousAt ? t(lang, 'report.since', { time: formatTime(lang, view.previousAt) }) : t(lang, 'report.first'),
  ];
  lines.push(`**${t(lang, 'report.progress')}**`);
  for (const r of view.regions) {
    const pct = r.percent === null ? '–' : `${formatNumber(lang, r.percent)} %`;
    const delta = r.delta === null ? '' : ` (${signed(lang, r.delta)} %)`;
    const flags = [
      r.meets ? t(lang, 'report.meets') : '',
      r.newlyMeets ? t(lang, 'report.newly_meets') : '',
      r.stalled ? t(lang, 'report.stalled') : '',
    ].filter(Boolean);
    lines.push(`${plainText(r.name)}: ${pct}${delta}${flags.length ? ` · ${flags.join(' · ')}` : ''}`);
  }
  const newly = view.regions.filter((r) => r.newlyMeets).map((r) => plainText(r.name));
  if (newly.length > 0) lines.push(t(lang, 'report.newly_meets_list', { names: newly.join(', ') }));
  lines.push(`**${t(lang, 'report.requests')}**`);
  if (view.openRequests.length === 0) lines.push(t(lang, 'report.no_requests'));
  for (const r of view.openRequests) {
    lines.push(
      t(lang, 'report.request', {
        id: r.id,
        scope: plainText(r.scopeName),
        direction: directionText(lang, r.direction as 'inbound' | 'outbound' | 'both'),
        since: formatTime(lang, r.since),
        who: r.waitingFor.length > 0 ? plainText(r.waitingFor.join(', ')) : t(lang, 'nudge.approvers'),
      }),
    );
  }
  lines.push(`**${t(lang, 'report.alerts')}**`);
  if (view.alerts.length === 0) lines.push(t(lang, 'report.no_alerts'));
  for (const a of view.alerts.slice(0, 10)) {
    lines.push(
      `${plainText(a.scopeName)} · ${formatTime(lang, a.openedAt)}${a.open ? ` · ${t(lang, 'report.alert_open')}` : ''}`,
    );
  }
  lines.push(`**${t(lang, 'report.mail')}**`);
  lines.push(
    t(lang, 'report.mail_state', {
      domains: view.mail.domains,
      inbound: view.mail.inboundOpen,
      outbound: view.mail.outboundOpen,
    }),
  );
  if (view.previousAt !== null) {
    lines.push(
      view.mail.changed.length === 0
        ? t(lang, 'report.mail_unchanged')
        : t(lang, 'report.mail_changed', {
            count: view.mail.changed.length,
            domains: plainText(view.mail.changed.slice(0, 10).join(', ')),
          }),
    );
  }
  return renderCard('list', {
    title: t(lang, 'report.title', { scope, time: formatTime(lang, view.at) }),
    empty: '',
    lines,
    buttons: [],
  });
}
