import { de } from './i18n/de.ts';
import { en } from './i18n/en.ts';

// German is the default language of every reply and card; English where the Teams client's locale
// is English. The texts are in the two language files i18n/de.ts and i18n/en.ts; this module picks
// one and formats numbers, times and durations.

export type Lang = 'de' | 'en';

export type MessageKey = keyof typeof de;

export const catalogues: Record<Lang, Record<MessageKey, string>> = { de, en };

// "{count} {count:Domäne|Domänen}": the word after the colon is picked by the parameter named before it,
// singular when it is 1 (formatted or not). Both languages need only this one rule.
export function t(lang: Lang, key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = catalogues[lang][key] ?? catalogues.de[key];
  return template
    .replace(/\{(\w+):([^|{}]*)\|([^{}]*)\}/g, (whole, name: string, one: string, other: string) =>
      params[name] === undefined ? whole : String(params[name]) === '1' ? one : other,
    )
    .replace(/\{(\w+)\}/g, (whole, name: string) => (params[name] === undefined ? whole : String(params[name])));
}

/** "Kanal", "Chat" or "Gruppenchat": what the user is in, for "Dieser Kanal erhält jetzt Spam-Alarme". */
export function placeName(lang: Lang, conversationType: 'personal' | 'groupChat' | 'channel'): string {
  return t(lang, `place.${conversationType}`);
}

const numberFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE'),
  en: new Intl.NumberFormat('en-GB'),
};
// Percentages and spam factors: always one decimal.
const oneDecimalFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  en: new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
};
const rateFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE', { maximumFractionDigits: 0 }),
  en: new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 }),
};
// The estate is in Germany: times are shown in Europe/Berlin whatever the server's zone.
// Chart axis and "seit 18:03" use the clock alone.
const clockFormat = new Intl.DateTimeFormat('de-DE', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' });
const timeFormats: Record<Lang, Intl.DateTimeFormat> = {
  de: new Intl.DateTimeFormat('de-DE', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }),
  en: new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }),
};

// "Mo., 19.02., 14:05": within a card whose "Stand" carries the year, the day and clock are enough.
const dayTimeFormats: Record<Lang, Intl.DateTimeFormat> = {
  de: new Intl.DateTimeFormat('de-DE', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: '2-digit',
    month: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }),
  en: new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }),
};

// "19.02. 14:05": a log line's time stamp.
const stampFormats: Record<Lang, Intl.DateTimeFormat> = {
  de: new Intl.DateTimeFormat('de-DE', {
    timeZone: 'Europe/Berlin',
    day: '2-digit',
    month: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }),
  en: new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }),
};

export function formatStamp(lang: Lang, iso: string | null): string {
  const d = validDate(iso);
  // de-DE writes "19.02., 14:05"; a log reads better without the comma.
  return d ? stampFormats[lang].format(d).replace(', ', ' ') : '–';
}

export function formatDayTime(lang: Lang, iso: string | null): string {
  const d = validDate(iso);
  return d ? dayTimeFormats[lang].format(d) : '–';
}

export function formatNumber(lang: Lang, n: number): string {
  return numberFormats[lang].format(n);
}

export function formatPct(lang: Lang, pct: number | null): string {
  if (pct === null) return '–';
  return `${oneDecimalFormats[lang].format(pct)} %`;
}

/** A spam factor ("×6,4" shows it after the sign). */
export function formatFactor(lang: Lang, factor: number): string {
  return oneDecimalFormats[lang].format(factor);
}

export function formatRate(lang: Lang, perMinute: number): string {
  return rateFormats[lang].format(perMinute);
}

export function formatTime(lang: Lang, iso: string | null): string {
  const d = validDate(iso);
  return d ? timeFormats[lang].format(d) : '–';
}

export function formatClock(iso: string): string {
  const d = validDate(iso);
  return d ? clockFormat.format(d) : '–';
}

export function formatDuration(lang: Lang, minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return t(lang, 'duration.minutes', { m });
  return t(lang, 'duration.hours', { h: Math.floor(m / 60), m: m % 60 });
}

function validDate(iso: string | null): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}
