import { t } from '../../src/teams/i18n.ts';

// Reads what bench/release needs from a request card (cards/request.json as the bot renders it):
// which request it shows, the state line in its header, and the id/version its buttons carry.
// Language-free where it can be: the request is found by its id among the facts, not by a label.

type Json = Record<string, unknown>;

// The state lines the benchmark waits for, from the bot's own texts. German: the bench users' locale
// is de-DE, and the card tracker renders in-place updates in German.
export const STATE_EXECUTING = t('de', 'request.state.executing');
export const STATE_EXECUTED = t('de', 'request.state.executed');
export const STATE_WAITING_FOR_ONE = t('de', 'request.state.pending', { have: 0, need: 1 });

const asObject = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The Adaptive Card of an activity (its first adaptive-card attachment), or null. */
export function adaptiveCardOf(activity: Json): Json | null {
  for (const a of asArray(activity.attachments)) {
    const attachment = asObject(a);
    if (attachment?.contentType === 'application/vnd.microsoft.card.adaptive') return asObject(attachment.content);
  }
  return null;
}

/**
 * The state line: the second TextBlock of the header container ("wird ausgeführt …", "ausgeführt",
 * "Wartet auf Genehmigung (0 von 1)"). Null when the card has no such header (e.g. a notice card).
 */
export function stateLineOf(card: Json | null): string | null {
  for (const element of asArray(card?.body)) {
    const e = asObject(element);
    if (e?.type !== 'Container') continue;
    const blocks = asArray(e.items)
      .map(asObject)
      .filter((i): i is Json => i?.type === 'TextBlock');
    if (blocks.length >= 2 && typeof blocks[1]!.text === 'string') return blocks[1]!.text;
  }
  return null;
}

/** Every fact value of the card's top-level FactSets (the request id is one of them). */
export function factValuesOf(card: Json | null): string[] {
  const out: string[] = [];
  for (const element of asArray(card?.body)) {
    const e = asObject(element);
    if (e?.type !== 'FactSet') continue;
    for (const f of asArray(e.facts)) {
      const value = asObject(f)?.value;
      if (typeof value === 'string') out.push(value);
    }
  }
  return out;
}

export interface ButtonRef {
  requestId: string;
  version: number;
}

/** The request id and version the card's buttons carry (what a click sends back), or null. */
export function buttonRefOf(card: Json | null): ButtonRef | null {
  for (const action of asArray(card?.actions)) {
    const data = asObject(asObject(action)?.data);
    if (typeof data?.requestId === 'string' && typeof data.version === 'number') {
      return { requestId: data.requestId, version: data.version };
    }
  }
  return null;
}

/** A short one-line description of a reply that was not what the benchmark expected. */
export function describeReply(activity: Json): string {
  const card = adaptiveCardOf(activity);
  const state = stateLineOf(card);
  if (state) return `card in state ${JSON.stringify(state)}`;
  const texts: string[] = [];
  collectTexts(card ?? activity, texts);
  return JSON.stringify(texts.join(' | ').slice(0, 200));
}

function collectTexts(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectTexts(n, out);
    return;
  }
  const o = asObject(node);
  if (!o) return;
  if (typeof o.text === 'string' && o.text) out.push(o.text);
  for (const [k, v] of Object.entries(o)) if (k !== 'data' && typeof v === 'object') collectTexts(v, out);
}
