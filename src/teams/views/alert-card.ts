import { mentionText } from '../../domain/mention-message.ts';
import type { MentionedPerson } from '../../domain/store-port.ts';
import type { AlertView } from '../../services/alert-data.ts';
import {
  formatClock,
  formatDuration,
  formatFactor,
  formatNumber,
  formatRate,
  formatTime,
  type Lang,
  type MessageKey,
  t,
} from '../i18n.ts';
import { type AdaptiveCardJson, type CardName, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// AlertView (language-free, from the store) → the alert card. Card data carries ids only: the alert id
// and, for mute, the hours (docs/decisions/identity-from-teams.md).

// Templates: cards/alert.json and cards/alert-subscriptions.json.
const ALERT_CARD: CardName = 'alert';
const LIST_CARD: CardName = 'alert-subscriptions';

const MAX_DOMAINS_LISTED = 8;
const MAX_INBOUND_LISTED = 12;
// Twenty-minute bars: six or seven HH:mm labels fit a card's width in the Playground; ten-minute
// ones were cut to "1…".
const CHART_STEP_MINUTES = 20;

export const alertVerbs = {
  ack: 'alert.ack',
  mute: 'alert.mute',
  block: 'alert.block',
  blockGroup: 'alert.block_group',
  subscribe: 'alert.subscribe',
  unsubscribe: 'alert.unsubscribe',
} as const;

function minutesBetween(fromIso: string, toIso: string): number {
  return (Date.parse(toIso) - Date.parse(fromIso)) / 60_000;
}

// Two hours of minutes would be 240 points in two series; 5-minute means keep the card small and
// the line readable.
function chartPoints(view: AlertView): Array<{ x: string; value: number; baseline: number }> {
  const buckets = new Map<number, { at: string; value: number; baseline: number; n: number }>();
  for (const p of view.series) {
    const key = Math.floor(Date.parse(p.at) / (CHART_STEP_MINUTES * 60_000));
    const b = buckets.get(key) ?? { at: p.at, value: 0, baseline: 0, n: 0 };
    b.value += p.value;
    b.baseline += p.baseline;
    b.n += 1;
    buckets.set(key, b);
  }
  return [...buckets.entries()]
    .sort(([x], [y]) => x - y)
    .map(([key, b]) => ({
      x: formatClock(new Date(key * CHART_STEP_MINUTES * 60_000).toISOString()),
      value: Math.round((b.value / b.n) * 10) / 10,
      baseline: Math.round((b.baseline / b.n) * 10) / 10,
    }));
}

function statusOf(view: AlertView, lang: Lang): { line: string; color: string; style: string } {
  if (view.kind === 'test') {
    return {
      line: t(lang, 'alert.running', {
        since: formatClock(view.startedAt),
        duration: formatDuration(lang, minutesBetween(view.startedAt, view.updatedAt)),
      }),
      color: 'Accent',
      style: 'accent',
    };
  }
  if (view.foldedInto) {
    return {
      line: t(lang, 'alert.folded', { scope: plainText(view.foldedInto.name) }),
      color: 'Default',
      style: 'emphasis',
    };
  }
  if (view.status === 'closed') {
    const ended = view.endedAt ?? view.updatedAt;
    return {
      line: t(lang, 'alert.ended', {
        ended: formatClock(ended),
        duration: formatDuration(lang, minutesBetween(view.startedAt, ended)),
        peak: formatFactor(lang, view.peakFactor),
      }),
      color: 'Good',
      style: 'good',
    };
  }
  return {
    line: t(lang, 'alert.running', {
      since: formatClock(view.startedAt),
      duration: formatDuration(lang, minutesBetween(view.startedAt, view.updatedAt)),
    }),
    color: 'Attention',
    style: 'attention',
  };
}

function inboundFacts(view: AlertView, lang: Lang): Array<{ title: string; value: string }> {
  if (view.domains.length === 0) return [];
  const flow = (d: string) => {
    const state = view.inbound[d];
    return state ? t(lang, `flow.${state}` as MessageKey) : t(lang, 'alert.inbound_unknown');
  };
  if (view.domains.length <= MAX_INBOUND_LISTED) {
    return view.domains.map((d) => ({ title: plainText(d), value: flow(d) }));
  }
  const count = (s: string) => view.domains.filter((d) => view.inbound[d] === s).length;
  return [
    {
      title: `${formatNumber(lang, view.domains.length)} ${t(lang, 'alert.fact_domains')}`,
      value: t(lang, 'alert.inbound_counts', { open: count('open'), blocked: count('blocked'), held: count('held') }),
    },
  ];
}

export function buildAlertCard(view: AlertView, lang: Lang): AdaptiveCardJson {
  const status = statusOf(view, lang);
  const scopeLabel = plainText(
    view.scope.kind === 'domain' ? `${view.scope.name} (${view.group.name})` : view.scope.name,
  );
  const listed = plainText(view.domains.slice(0, MAX_DOMAINS_LISTED).join(', '));
  const more = view.domains.length - MAX_DOMAINS_LISTED;
  const facts = [
    {
      title: t(lang, view.status === 'closed' && view.kind !== 'test' ? 'alert.fact_rate_end' : 'alert.fact_rate'),
      value: t(lang, 'alert.rate_value', {
        rate: formatRate(lang, view.currentRate),
        factor: formatFactor(lang, view.factor),
        baseline: formatRate(lang, view.baselineRate),
      }),
    },
    { title: t(lang, 'alert.fact_since'), value: formatTime(lang, view.startedAt) },
    { title: t(lang, 'alert.fact_peak'), value: `×${formatFactor(lang, view.peakFactor)}` },
  ];
  // Where the scope lies: a domain in its group, a group in the region above it (none at the top).
  const region = view.scope.kind === 'domain' ? view.group.name : view.within?.name;
  if (view.kind !== 'test' && region) {
    facts.push({ title: t(lang, 'alert.fact_region'), value: plainText(region) });
  }
  if (view.domains.length > 0) {
    facts.push({
      title: t(lang, 'alert.fact_domains'),
      value: more > 0 ? `${listed} ${t(lang, 'alert.more_domains', { count: more })}` : listed,
    });
  }
  const points = chartPoints(view);
  const baseline = points.length > 0 ? points[points.length - 1]!.baseline : view.baselineRate;
  const data = { alertId: view.alertId };
  const running = view.status === 'open' || view.kind === 'test';
  const actions: Array<{ title: string; verb: string; data: Record<string, string | number>; style: string }> = [
    { title: t(lang, 'alert.action_ack'), verb: alertVerbs.ack, data, style: 'positive' },
  ];
  if (!view.foldedInto) {
    actions.push(
      { title: t(lang, 'alert.action_mute_1'), verb: alertVerbs.mute, data: { ...data, hours: 1 }, style: 'default' },
      { title: t(lang, 'alert.action_mute_4'), verb: alertVerbs.mute, data: { ...data, hours: 4 }, style: 'default' },
    );
  }
  if (running && !view.foldedInto) {
    actions.push({ title: t(lang, 'alert.action_block'), verb: alertVerbs.block, data, style: 'destructive' });
    // The alert's block is exactly its domains; the whole region is a separate, explicit choice.
    if (view.scope.kind === 'group') {
      actions.push({
        title: t(lang, 'alert.action_block_region'),
        verb: alertVerbs.blockGroup,
        data,
        style: 'destructive',
      });
    }
  }
  const card = renderCard(ALERT_CARD, {
    headerStyle: status.style,
    title: t(lang, view.kind === 'test' ? 'alert.title_test' : 'alert.title', { scope: scopeLabel }),
    statusLine: status.line,
    statusColor: status.color,
    note: view.kind === 'test' ? t(lang, 'alert.test_note') : '',
    facts,
    chartTitle: t(lang, 'alert.chart_title'),
    // Bars over categories, so the axis shows exactly the HH:mm labels given (a line chart reads its x
    // values as dates: "14:05" became "0. 0."). Red only where spam is above twice the usual rate.
    chart: points.map((p) => ({
      x: p.x,
      y: p.value,
      color: p.value > 2 * p.baseline ? 'attention' : 'neutral',
    })),
    chartFallback: t(lang, 'alert.chart_fallback', {
      values: points.map((p) => formatRate(lang, p.value)).join(' '),
      baseline: formatRate(lang, baseline),
    }),
    inboundTitle: t(lang, 'alert.inbound_title'),
    inbound: inboundFacts(view, lang),
    acks: view.acks.map((ack) => ({
      text: t(lang, 'alert.acked_by', { name: plainText(ack.name), time: formatTime(lang, ack.at) }),
    })),
    ackHint: view.acks.length === 0 ? t(lang, 'alert.not_acked') : '',
    mutedLine: view.mutedUntil ? t(lang, 'alert.muted_until', { time: formatTime(lang, view.mutedUntil) }) : '',
    asOf: t(lang, 'alert.as_of', { time: formatTime(lang, view.updatedAt) }),
    actions,
  });
  return withMentions(card, lang, view.mentions ?? []);
}

/**
 * The people the subscription names, @mentioned on the card: `<at>Name</at>` in a text block and one
 * mention entity each under `msteams.entities`, which is how Teams notifies them from a card.
 */
function withMentions(card: AdaptiveCardJson, lang: Lang, mentions: readonly MentionedPerson[]): AdaptiveCardJson {
  if (mentions.length === 0) return card;
  const entities = mentions.map((m) => ({
    type: 'mention',
    text: mentionText(m),
    mentioned: { id: m.id, name: m.name.replace(/[<>]/g, '') },
  }));
  const body = (card.body as unknown[] | undefined) ?? [];
  return {
    ...card,
    body: [
      ...body,
      {
        type: 'TextBlock',
        wrap: true,
        text: t(lang, 'alert.mentions', { who: entities.map((e) => e.text).join(', ') }),
      },
    ],
    msteams: { ...((card.msteams as Record<string, unknown> | undefined) ?? {}), entities },
  };
}

export interface AlertListItem {
  name: string;
  detail: string;
}
export interface AlertListButton {
  title: string;
  verb: string;
  data: Record<string, string | number>;
}

function buildListCard(content: {
  title: string;
  text: string;
  items: AlertListItem[];
  hint: string;
  buttons: AlertListButton[];
}): AdaptiveCardJson {
  return renderCard(LIST_CARD, content);
}

export interface SubscriptionLine {
  scopeId: string;
  name: string;
  createdAt: string;
  mutedUntil: string | null;
  mentions?: readonly MentionedPerson[];
}

// `alarme`: what this chat follows, each with an unsubscribe button.
// here: "Kanal", "Chat" or "Gruppenchat" (placeName), what the user is in.
export function buildAlertSubscriptionsCard(lang: Lang, lines: SubscriptionLine[], here: string): AdaptiveCardJson {
  return buildListCard({
    title: t(lang, 'alerts.list_title', { here }),
    text: lines.length === 0 ? t(lang, 'alerts.list_empty', { here }) : '',
    items: lines.map((l) => ({
      name: plainText(l.name),
      detail: [
        t(lang, 'alerts.list_since', { time: formatTime(lang, l.createdAt) }),
        l.mutedUntil ? t(lang, 'alerts.list_muted', { time: formatTime(lang, l.mutedUntil) }) : '',
        l.mentions?.length
          ? t(lang, 'alerts.list_mentions', { who: l.mentions.map((m) => plainText(m.name)).join(', ') })
          : '',
      ]
        .filter(Boolean)
        .join(' · '),
    })),
    hint: t(lang, 'alerts.list_hint'),
    buttons: lines.slice(0, 6).map((l) => ({
      title: t(lang, 'alerts.unsubscribe_button', { scope: plainText(l.name) }),
      verb: alertVerbs.unsubscribe,
      data: { scopeId: l.scopeId },
    })),
  });
}

// The greeting when the bot is added to a team: one button per Verband.
export function buildAlertWelcomeCard(lang: Lang, scopes: Array<{ id: string; name: string }>): AdaptiveCardJson {
  return buildListCard({
    title: t(lang, 'alerts.welcome_title'),
    text: t(lang, 'alerts.welcome_text'),
    items: [],
    hint: t(lang, 'alerts.welcome_hint'),
    buttons: scopes.slice(0, 5).map((s) => ({
      title: t(lang, 'alerts.subscribe_button', { scope: plainText(s.name) }),
      verb: alertVerbs.subscribe,
      data: { scopeId: s.id },
    })),
  });
}
