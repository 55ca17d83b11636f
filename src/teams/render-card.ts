import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ACData from 'adaptivecards-templating';
import { projectRoot } from '../project-root.ts';

// The one module that turns a card template (cards/<name>.json, ${} bindings) and data into an
// Adaptive Card. Templates hold layout only; every text arrives in the data, already translated.

// One per template in cards/ (a test keeps the list and the folder equal).
export const cardNames = [
  'help',
  'status',
  'choice',
  'notice',
  'request',
  'confirm',
  'reason-form',
  'list',
  'alert',
  'alert-subscriptions',
] as const;
export type CardName = (typeof cardNames)[number];
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

const cardsDir = join(projectRoot, 'cards');
const templates = new Map<string, ACData.Template>();

function templateFor(name: CardName): ACData.Template {
  let tpl = templates.get(name);
  if (!tpl) {
    const json = JSON.parse(readFileSync(join(cardsDir, `${name}.json`), 'utf8')) as unknown;
    tpl = new ACData.Template(json);
    templates.set(name, tpl);
  }
  return tpl;
}

export function renderCard(name: CardName, data: Record<string, unknown>): AdaptiveCardJson {
  const card = templateFor(name).expand({ $root: defuseBindings(data) }) as AdaptiveCardJson;
  const text = JSON.stringify(card);
  // A binding the data did not fill stays as literal "${…}" text: that is a bug, not something to show.
  const leftover = /\$\{[^}]*\}/.exec(text);
  if (leftover) throw new Error(`card ${name}: unexpanded binding ${leftover[0]}`);
  return card;
}

// Text a user typed ("status ${x}") must neither be evaluated nor trip the leftover check: a zero-width
// space between "$" and "{" keeps it readable and inert.
function defuseBindings(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('${', '$\u200b{');
  if (Array.isArray(value)) return value.map(defuseBindings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, defuseBindings(v)]));
  }
  return value;
}
