import type { Lang } from './i18n.ts';

// The alert feature's texts, German and English, in the pattern of src/teams/i18n.ts (same keys in
// both, {name} placeholders). Kept apart until they move into the shared catalogue.

const de = {
  'alert.title': 'Spam-Welle: {scope}',
  'alert.title_test': 'Testalarm: {scope}',
  'alert.test_note': 'Nur ein Test – es läuft keine Spam-Welle. So sieht ein Alarm in diesem Chat aus.',
  'alert.running': 'Läuft seit {since} ({duration})',
  'alert.ended': 'Beendet {ended} · Dauer {duration} · Spitze ×{peak}',
  'alert.folded': 'Teil der Spam-Welle im {scope} – dort geht es weiter.',
  'alert.fact_rate': 'Spam jetzt',
  'alert.fact_rate_end': 'Spam zuletzt',
  'alert.rate_value': '{rate}/min · ×{factor} gegenüber normal {baseline}/min',
  'alert.fact_since': 'Seit',
  'alert.fact_peak': 'Spitze',
  'alert.fact_domains': 'Domänen',
  'alert.fact_region': 'Region',
  'alert.more_domains': '… und {count} weitere',
  'alert.chart_title': 'Spam pro Minute, letzte 2 Stunden (5-Minuten-Mittel)',
  'alert.chart_spam': 'Spam/min',
  'alert.chart_baseline': 'Normalwert',
  'alert.chart_fallback': 'Verlauf Spam/min (5-Minuten-Mittel, ältester zuerst): {values} · normal {baseline}/min',
  'alert.inbound_title': 'Eingehende externe Mail',
  'alert.inbound_counts': 'offen {open} · gesperrt {blocked} · gehalten {held}',
  'alert.inbound_unknown': 'Zustand unbekannt (Mail-Gateway antwortete nicht)',
  'alert.acked_by': 'Bestätigt von {name}, {time}',
  'alert.not_acked': 'Noch nicht bestätigt.',
  'alert.muted_until': 'In diesem Chat stumm bis {time}.',
  'alert.as_of': 'Stand {time}',
  'alert.action_ack': 'Bestätigen',
  'alert.action_mute_1': 'Stumm 1 h',
  'alert.action_mute_4': 'Stumm 4 h',
  'alert.action_block': 'Eingehend sperren',
  'alert.block_reason': 'Spam-Welle {scope} seit {since} (×{factor})',
  'alerts.subscribed': 'Dieser Chat erhält jetzt Spam-Alarme für {scope} (und alles darunter).',
  'alerts.already': 'Dieser Chat erhält bereits Spam-Alarme für {scope}.',
  'alerts.unsubscribed': 'Keine Spam-Alarme mehr für {scope} in diesem Chat.',
  'alerts.unsubscribed_all': 'Alle Spam-Alarm-Abos dieses Chats sind beendet ({count}).',
  'alerts.not_subscribed': 'Dieser Chat hatte kein Abo für {scope}.',
  'alerts.none_to_remove': 'Dieser Chat hatte keine Spam-Alarm-Abos.',
  'alerts.list_title': 'Spam-Alarme in diesem Chat',
  'alerts.list_empty': 'Dieser Chat erhält keine Spam-Alarme.',
  'alerts.list_hint':
    'Abonnieren: `alarme an <Region>`, z. B. `alarme an Südverband` – abbestellen: `alarme aus [Region]`.',
  'alerts.list_since': 'seit {time}',
  'alerts.list_muted': 'stumm bis {time}',
  'alerts.unsubscribe_button': '{scope} abbestellen',
  'alerts.scope_missing': 'Für welche Region? Zum Beispiel `alarme an Südverband` oder `alarme an Kreis Olpe`.',
  'alerts.forbidden_operator': 'Dafür brauchen Sie die Rolle Operator.',
  'alerts.forbidden_viewer': 'Dafür brauchen Sie mindestens die Rolle Betrachter (viewer).',
  'alerts.not_found': 'Diesen Alarm gibt es in diesem Chat nicht (mehr).',
  'alerts.muted': '{scope} ist in diesem Chat stumm bis {time}.',
  'alerts.test_failed': 'Der Testalarm konnte nicht zugestellt werden. Ist Lagebot in diesem Chat installiert?',
  'alerts.test_no_block': 'Das ist ein Testalarm – hier wird nichts gesperrt.',
  'alerts.block_unavailable': 'Sperren ist gerade nicht möglich. Bitte `sperren {scope} eingehend` schreiben.',
  'alerts.welcome_title': 'Lagebot ist jetzt in diesem Team',
  'alerts.welcome_text':
    'Ich melde Spam-Wellen, sobald sie beginnen, und zeige den Patch-Stand (`status Kreis Olpe`). Welche Region soll dieser Kanal verfolgen?',
  'alerts.welcome_hint': 'Jederzeit: `alarme an <Region>`, `alarme aus`, `alarme` – alles Weitere mit `hilfe`.',
  'alerts.subscribe_button': 'Alarme für {scope}',
  'alerts.all_regions': 'alle Regionen',
  'duration.minutes': '{m} min',
  'duration.hours': '{h} h {m} min',
} as const;

export type AlertTextKey = keyof typeof de;

const en: Record<AlertTextKey, string> = {
  'alert.title': 'Spam spike: {scope}',
  'alert.title_test': 'Test alert: {scope}',
  'alert.test_note': 'Only a test – there is no spam spike. This is what an alert looks like in this chat.',
  'alert.running': 'Running since {since} ({duration})',
  'alert.ended': 'Ended {ended} · lasted {duration} · peak ×{peak}',
  'alert.folded': 'Part of the spam spike in {scope} – continued there.',
  'alert.fact_rate': 'Spam now',
  'alert.fact_rate_end': 'Spam last',
  'alert.rate_value': '{rate}/min · ×{factor} against the usual {baseline}/min',
  'alert.fact_since': 'Since',
  'alert.fact_peak': 'Peak',
  'alert.fact_domains': 'Domains',
  'alert.fact_region': 'Region',
  'alert.more_domains': '… and {count} more',
  'alert.chart_title': 'Spam per minute, last 2 hours (5-minute means)',
  'alert.chart_spam': 'spam/min',
  'alert.chart_baseline': 'usual',
  'alert.chart_fallback': 'Spam/min (5-minute means, oldest first): {values} · usual {baseline}/min',
  'alert.inbound_title': 'Inbound external mail',
  'alert.inbound_counts': 'open {open} · blocked {blocked} · held {held}',
  'alert.inbound_unknown': 'state unknown (the mail gateway did not answer)',
  'alert.acked_by': 'Acknowledged by {name}, {time}',
  'alert.not_acked': 'Not acknowledged yet.',
  'alert.muted_until': 'Muted in this chat until {time}.',
  'alert.as_of': 'As of {time}',
  'alert.action_ack': 'Acknowledge',
  'alert.action_mute_1': 'Mute 1 h',
  'alert.action_mute_4': 'Mute 4 h',
  'alert.action_block': 'Block inbound',
  'alert.block_reason': 'Spam spike {scope} since {since} (×{factor})',
  'alerts.subscribed': 'This chat now receives spam alerts for {scope} (and everything below it).',
  'alerts.already': 'This chat already receives spam alerts for {scope}.',
  'alerts.unsubscribed': 'No more spam alerts for {scope} in this chat.',
  'alerts.unsubscribed_all': 'All spam alert subscriptions of this chat have ended ({count}).',
  'alerts.not_subscribed': 'This chat had no subscription for {scope}.',
  'alerts.none_to_remove': 'This chat had no spam alert subscriptions.',
  'alerts.list_title': 'Spam alerts in this chat',
  'alerts.list_empty': 'This chat receives no spam alerts.',
  'alerts.list_hint':
    'Subscribe: `alerts on <region>`, e.g. `alerts on Südverband` – unsubscribe: `alerts off [region]`.',
  'alerts.list_since': 'since {time}',
  'alerts.list_muted': 'muted until {time}',
  'alerts.unsubscribe_button': 'Unsubscribe {scope}',
  'alerts.scope_missing': 'For which region? For example `alerts on Südverband` or `alerts on Kreis Olpe`.',
  'alerts.forbidden_operator': 'You need the operator role for that.',
  'alerts.forbidden_viewer': 'You need at least the viewer role for that.',
  'alerts.not_found': 'This alert does not exist in this chat (any more).',
  'alerts.muted': '{scope} is muted in this chat until {time}.',
  'alerts.test_failed': 'The test alert could not be delivered. Is Lagebot installed in this chat?',
  'alerts.test_no_block': 'This is a test alert – nothing is blocked here.',
  'alerts.block_unavailable': 'Blocking is not possible right now. Please write `block {scope} inbound`.',
  'alerts.welcome_title': 'Lagebot is now in this team',
  'alerts.welcome_text':
    'I report spam spikes as they start and show the patch status (`status Kreis Olpe`). Which region should this channel follow?',
  'alerts.welcome_hint': 'Any time: `alerts on <region>`, `alerts off`, `alerts` – everything else with `help`.',
  'alerts.subscribe_button': 'Alerts for {scope}',
  'alerts.all_regions': 'all regions',
  'duration.minutes': '{m} min',
  'duration.hours': '{h} h {m} min',
};

export const alertCatalogues: Record<Lang, Record<AlertTextKey, string>> = { de, en };

export function alertText(lang: Lang, key: AlertTextKey, params: Record<string, string | number> = {}): string {
  const template = alertCatalogues[lang][key] ?? alertCatalogues.de[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

const factorFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  en: new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
};
const rateFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE', { maximumFractionDigits: 0 }),
  en: new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 }),
};
// Chart axis and "seit 18:03": the estate's local time whatever the server's zone.
const clockFormat = new Intl.DateTimeFormat('de-DE', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' });

export function formatFactor(lang: Lang, factor: number): string {
  return factorFormats[lang].format(factor);
}

export function formatRate(lang: Lang, perMinute: number): string {
  return rateFormats[lang].format(perMinute);
}

export function formatClock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '–' : clockFormat.format(d);
}

export function formatDuration(lang: Lang, minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return alertText(lang, 'duration.minutes', { m });
  return alertText(lang, 'duration.hours', { h: Math.floor(m / 60), m: m % 60 });
}
