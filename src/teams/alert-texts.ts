import { type Lang, t } from './i18n.ts';

// Number, rate, clock and duration formats of the alert cards; their texts are in i18n.ts.

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
  if (m < 60) return t(lang, 'duration.minutes', { m });
  return t(lang, 'duration.hours', { h: Math.floor(m / 60), m: m % 60 });
}
