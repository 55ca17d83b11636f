// When a daily report is due: a wall-clock time in Europe/Berlin, every day or Monday to Friday. Pure
// (the clock is a parameter); the time zone arithmetic uses Intl's tz data, so daylight saving time is
// right: 08:00 is 07:00 UTC in winter and 06:00 UTC in summer, and the day of the change has its 08:00
// too. A time that does not exist on the spring-forward day (02:30) is the moment after the gap.

export const REPORT_TIME_ZONE = 'Europe/Berlin';
export const DEFAULT_REPORT_TIME = '08:00';

export interface ReportSlot {
  /** The local date the report is for, YYYY-MM-DD: part of its idempotency key. */
  localDate: string;
  /** The instant it is due. */
  at: Date;
}

const parts = new Intl.DateTimeFormat('en-CA', {
  timeZone: REPORT_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  weekday: 'short',
});

function local(at: Date) {
  const p = Object.fromEntries(parts.formatToParts(at).map((x) => [x.type, x.value]));
  return {
    y: Number(p.year),
    m: Number(p.month),
    d: Number(p.day),
    hh: Number(p.hour),
    mm: Number(p.minute),
    ss: Number(p.second),
    weekday: String(p.weekday),
  };
}

/** "8:00", "08.00", "0800"? Only H:MM / HH:MM / HH.MM; anything else, or 24:00 and beyond, is null. */
export function parseReportTime(text: string): string | null {
  const m = /^(\d{1,2})[:.](\d{2})$/.exec(text.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) return null;
  return `${String(h).padStart(2, '0')}:${String(min).padStart(2, '0')}`;
}

/** The instant a Berlin wall-clock time on a Berlin date is. */
export function berlinInstant(y: number, m: number, d: number, hh: number, mm: number): Date {
  const wanted = Date.UTC(y, m - 1, d, hh, mm);
  // Two rounds of "how far off is the zone here" settle on the offset in force at that moment.
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const l = local(new Date(guess));
    const seen = Date.UTC(l.y, l.m - 1, l.d, l.hh, l.mm, l.ss);
    guess += wanted - seen;
  }
  return new Date(guess);
}

function isWeekend(y: number, m: number, d: number): boolean {
  const day = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return day === 0 || day === 6;
}

function dateString(y: number, m: number, d: number): string {
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** The latest slot at or before `now` (up to a week back), or null when there is none. */
export function latestReportSlot(localTime: string, weekdaysOnly: boolean, now: Date): ReportSlot | null {
  const [hh, mm] = localTime.split(':').map(Number) as [number, number];
  const today = local(now);
  for (let back = 0; back < 8; back++) {
    const day = new Date(Date.UTC(today.y, today.m - 1, today.d - back));
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (weekdaysOnly && isWeekend(y, m, d)) continue;
    const at = berlinInstant(y, m, d, hh, mm);
    if (at.getTime() <= now.getTime()) return { localDate: dateString(y, m, d), at };
  }
  return null;
}
