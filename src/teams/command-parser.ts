import { normalizeName } from '../domain/normalize-name.ts';
import { editDistance } from '../domain/region-index.ts';
import type { ReleaseDirection } from '../domain/release-request.ts';
import { parseReportTime } from '../domain/report-slot.ts';

// Chat text → one command. Pure and transport-free (no teams-ai import) so the routes only call it.
// The parser knows verbs, not places: scopes stay raw text for the service to resolve against the
// live region list (resolveScope / splitScopeAndRest in src/domain/region-index.ts).

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'status'; scopeText: string }
  | { kind: 'release'; words: string[] }
  | { kind: 'block'; words: string[] }
  | { kind: 'requests' }
  | { kind: 'audit'; scopeText: string }
  | { kind: 'alerts_list' }
  | { kind: 'alerts_subscribe'; scopeText: string }
  | { kind: 'alerts_unsubscribe'; scopeText: string }
  | { kind: 'alert_test' }
  // Typed decisions, for Teams mobile where Action.Execute does not work. requestId: null when none or
  // no request id was typed (the handler answers how to write it).
  | { kind: 'approve'; requestId: string | null }
  | { kind: 'confirm'; requestId: string | null; code: string | null; justification: string | null }
  | { kind: 'reject'; requestId: string | null; reason: string | null }
  | { kind: 'withdraw'; requestId: string | null }
  | { kind: 'retry'; requestId: string | null }
  // `bericht an [HH:MM] [werktags] <scope>`; badTime: what was typed where a time was meant, if not one.
  | { kind: 'report_on'; localTime: string | null; badTime: string | null; weekdaysOnly: boolean; scopeText: string }
  | { kind: 'report_off' }
  | { kind: 'report_now' }
  // word: what was typed (first word, or "alarme xyz"); suggestion: the command probably meant.
  | { kind: 'unknown'; word: string; suggestion: string | null }
  | { kind: 'too_long'; length: number };

// No command comes near this many visible characters; longer text is refused, not parsed.
export const MAX_COMMAND_LENGTH = 2000;
// Markup around a command is a mention and perhaps some formatting; four times the visible limit is
// generous for that, and anything beyond is refused before a regular expression runs over it.
const MAX_RAW_LENGTH = 4 * MAX_COMMAND_LENGTH;

type Verb =
  | 'help'
  | 'status'
  | 'release'
  | 'block'
  | 'requests'
  | 'audit'
  | 'alerts'
  | 'approve'
  | 'confirm'
  | 'reject'
  | 'withdraw'
  | 'retry'
  | 'report';

// Keys are normalizeName()d, so "Anträge", "ANTRAEGE" and "antraege" are one entry.
const VERBS: Record<string, Verb> = {
  hilfe: 'help',
  help: 'help',
  status: 'status',
  lage: 'status',
  freigabe: 'release',
  freigeben: 'release',
  release: 'release',
  sperren: 'block',
  sperre: 'block',
  block: 'block',
  antraege: 'requests',
  antrage: 'requests', // "Antrage": umlaut dropped, no e typed
  requests: 'requests',
  protokoll: 'audit',
  audit: 'audit',
  alarme: 'alerts',
  alarm: 'alerts', // "alarm test"
  alerts: 'alerts',
  alert: 'alerts',
  genehmigen: 'approve',
  approve: 'approve',
  bestaetigen: 'confirm',
  bestatigen: 'confirm',
  confirm: 'confirm',
  ablehnen: 'reject',
  reject: 'reject',
  zurueckziehen: 'withdraw',
  zuruckziehen: 'withdraw',
  withdraw: 'withdraw',
  wiederholen: 'retry',
  retry: 'retry',
  bericht: 'report',
  lagebericht: 'report',
  report: 'report',
};
// How a suggestion is spelled back to the user: the documented form of the verb they came close to.
const DISPLAY: Record<string, string> = {
  antraege: 'anträge',
  antrage: 'anträge',
  freigeben: 'freigabe',
  sperre: 'sperren',
  alarm: 'alarme',
  alert: 'alerts',
  bestaetigen: 'bestätigen',
  bestatigen: 'bestätigen',
  zurueckziehen: 'zurückziehen',
  zuruckziehen: 'zurückziehen',
};

const ALERT_ON = new Set(['an', 'on', 'ein', 'abonnieren', 'subscribe']);
const ALERT_OFF = new Set(['aus', 'off', 'abbestellen', 'unsubscribe']);

export function parseCommand(text: string): ParsedCommand {
  if (text.length > MAX_RAW_LENGTH) return { kind: 'too_long', length: text.length };
  const clean = cleanText(text);
  if (clean.length > MAX_COMMAND_LENGTH) return { kind: 'too_long', length: clean.length };
  if (clean === '') return { kind: 'help' };

  const words = clean.split(' ');
  const first = words[0]!;
  const rest = words.slice(1);
  if (first === '?' || first === '/?') return { kind: 'help' };
  const verbKey = normalizeName(first);
  const verb = VERBS[verbKey];
  switch (verb) {
    case 'help':
      return { kind: 'help' };
    case 'status':
      return { kind: 'status', scopeText: rest.join(' ') };
    case 'release':
      return { kind: 'release', words: rest };
    case 'block':
      return { kind: 'block', words: rest };
    case 'requests':
      return { kind: 'requests' };
    case 'audit':
      return { kind: 'audit', scopeText: rest.join(' ') };
    case 'alerts':
      return parseAlerts(first, rest);
    case 'approve':
      return { kind: 'approve', requestId: requestIdOf(rest[0]) };
    case 'confirm': {
      const justification = rest.slice(2).join(' ').trim();
      return {
        kind: 'confirm',
        requestId: requestIdOf(rest[0]),
        code: rest[1] ?? null,
        justification: justification === '' ? null : justification,
      };
    }
    case 'reject': {
      const reason = rest.slice(1).join(' ').trim();
      return { kind: 'reject', requestId: requestIdOf(rest[0]), reason: reason === '' ? null : reason };
    }
    case 'withdraw':
      return { kind: 'withdraw', requestId: requestIdOf(rest[0]) };
    case 'retry':
      return { kind: 'retry', requestId: requestIdOf(rest[0]) };
    case 'report':
      return parseReport(first, rest);
    case undefined:
      return { kind: 'unknown', word: first, suggestion: suggestVerb(verbKey) };
  }
}

// "freigabe Kreis Olpe eingehend Alle Clients gepatcht": after the service has taken the scope off
// the front (splitScopeAndRest), an optional direction, then the reason.
export function parseDirectionAndReason(rest: readonly string[]): {
  direction: ReleaseDirection;
  reason: string | null;
} {
  const words = rest.filter((w) => w.trim() !== '');
  const direction = words.length > 0 ? directionOf(words[0]!) : null;
  const reasonWords = direction === null ? words : words.slice(1);
  const reason = reasonWords.join(' ').trim();
  return { direction: direction ?? 'both', reason: reason === '' ? null : reason };
}

export function detectLanguage(locale?: string): 'de' | 'en' {
  return locale !== undefined && /^en(?:[-_]|$)/i.test(locale.trim()) ? 'en' : 'de';
}

// Teams sends the bot's mention inside the text ("<at>Lagebot</at> status Olpe") and may wrap text in
// HTML; entities are decoded after the tags are gone, so "&lt;b&gt;" stays the literal text "<b>".
function cleanText(text: string): string {
  return (
    text
      .replace(/<at\b[^<>]*>[^<]*<\/at>/gi, ' ')
      // [^<>]* keeps this linear on hostile input such as 50 KB of "<".
      .replace(/<[^<>]*>/g, ' ')
      .replace(/&(nbsp|amp|lt|gt|quot|apos|#39);/gi, (_, e: string) => ENTITIES[e.toLowerCase()] ?? ' ')
      .replace(/[\s\u200b-\u200d\u2060\ufeff]+/g, ' ')
      .trim()
  );
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

const REPORT_NOW = new Set(['jetzt', 'now', 'sofort']);
const WEEKDAYS = new Set(['werktags', 'weekdays', 'wochentags', 'mo fr']);

function parseReport(first: string, rest: string[]): ParsedCommand {
  if (rest.length === 0) return { kind: 'report_now' };
  const sub = normalizeName(rest[0]!);
  if (ALERT_OFF.has(sub)) return { kind: 'report_off' };
  if (REPORT_NOW.has(sub)) return { kind: 'report_now' };
  if (ALERT_ON.has(sub)) {
    let words = rest.slice(1);
    let localTime: string | null = null;
    let badTime: string | null = null;
    let weekdaysOnly = false;
    // Time and "werktags" in either order before the scope.
    for (let i = 0; i < 2 && words.length > 0; i++) {
      const w = words[0]!;
      if (WEEKDAYS.has(normalizeName(w))) {
        weekdaysOnly = true;
        words = words.slice(1);
      } else if (/^\d{1,4}([:.]\d*)?$/.test(w) || /^\d*[:.]\d+$/.test(w)) {
        localTime = parseReportTime(w);
        if (localTime === null) badTime = w;
        words = words.slice(1);
      }
    }
    return { kind: 'report_on', localTime, badTime, weekdaysOnly, scopeText: words.join(' ') };
  }
  const english = /^report/i.test(first);
  return { kind: 'unknown', word: `${first} ${rest[0]}`, suggestion: english ? 'report on' : 'bericht an' };
}

function parseAlerts(first: string, rest: string[]): ParsedCommand {
  if (rest.length === 0) return { kind: 'alerts_list' };
  const sub = normalizeName(rest[0]!);
  const scopeText = rest.slice(1).join(' ');
  if (ALERT_ON.has(sub)) return { kind: 'alerts_subscribe', scopeText };
  if (ALERT_OFF.has(sub)) return { kind: 'alerts_unsubscribe', scopeText };
  if (sub === 'test') return { kind: 'alert_test' };
  const english = /^alert/i.test(first);
  const options = english ? ['on', 'off', 'test'] : ['an', 'aus', 'test'];
  const close = options.find((o) => editDistance(sub, o, 1) <= 1 && sub.length > 1);
  return {
    kind: 'unknown',
    word: `${first} ${rest[0]}`,
    suggestion: close ? `${english ? 'alerts' : 'alarme'} ${close}` : null,
  };
}

// Request ids are `r-` and eight hex digits (src/start-lagebot.ts); on a phone people drop the prefix, type
// capitals or wrap it in backticks as the card shows it.
function requestIdOf(word: string | undefined): string | null {
  const w = (word ?? '').replace(/[`'"„“]/g, '').toLowerCase();
  const m = /^(?:r-)?([0-9a-f]{8})$/.exec(w);
  return m ? `r-${m[1]}` : null;
}

function suggestVerb(typed: string): string | null {
  if (typed.length < 3 || typed.length > 20) return null;
  let best: { word: string; d: number } | null = null;
  for (const word of Object.keys(VERBS)) {
    // Short verbs tolerate one slip ("hlep"), longer ones two ("proktokol").
    const allowed = word.length <= 5 ? 1 : 2;
    const d = editDistance(typed, word, allowed);
    if (d <= allowed && (best === null || d < best.d)) best = { word: DISPLAY[word] ?? word, d };
  }
  return best?.word ?? null;
}

function directionOf(word: string): ReleaseDirection | null {
  const w = normalizeName(word);
  // Inflected forms too: "eingehende Mails", "ausgehender Verkehr".
  if (w === 'inbound' || /^eingehend(e[nrs]?)?$/.test(w)) return 'inbound';
  if (w === 'outbound' || /^ausgehend(e[nrs]?)?$/.test(w)) return 'outbound';
  if (w === 'both' || w === 'beides' || w === 'beide') return 'both';
  // Not "in"/"aus": "freigabe Olpe in Absprache mit …" must not read as a direction.
  return null;
}
