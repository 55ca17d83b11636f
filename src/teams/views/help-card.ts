import { type Lang, type MessageKey, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// The help card: every command on a line of its own, in monospace, with what it does beneath; buttons
// send an example as if the user had typed it (imBack), so the answer arrives as a new message and the
// help stays. Only examples that read are offered as buttons: a click must never request or block.

type Entry =
  | 'status'
  | 'status_domain'
  | 'status_all'
  | 'release'
  | 'block'
  | 'requests'
  | 'typed'
  | 'audit'
  | 'report'
  | 'alerts_on'
  | 'alerts_people'
  | 'alerts';

const ENTRIES: readonly Entry[] = [
  'status',
  'status_domain',
  'status_all',
  'release',
  'block',
  'requests',
  'typed',
  'audit',
  'report',
  'alerts_on',
  'alerts_people',
  'alerts',
];
const TRY: readonly Entry[] = ['status', 'status_all', 'requests', 'audit'];

const cmd = (lang: Lang, e: Entry) => t(lang, `help.cmd.${e}` as MessageKey);

/** The help card; with `unknownWord`, led by "I don't know <word>" (the word as typed, shown literally). */
export function buildHelpCard(lang: Lang, unknownWord?: string): AdaptiveCardJson {
  return renderCard('help', {
    lead: unknownWord === undefined ? '' : t(lang, 'unknown.command', { word: plainText(unknownWord.slice(0, 40)) }),
    title: t(lang, 'help.title'),
    intro: t(lang, 'help.intro'),
    commands: ENTRIES.map((e) => ({ command: cmd(lang, e), what: t(lang, `help.what.${e}` as MessageKey) })),
    language: t(lang, 'help.language'),
    buttons: TRY.map((e) => ({
      title: t(lang, 'help.try', { command: cmd(lang, e) }),
      data: { msteams: { type: 'imBack', value: cmd(lang, e) } },
    })),
  });
}
