import { ALL_SCOPE_ID } from '../../domain/scope-id.ts';
import { type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

/** The help card; with `unknownWord`, led by "I don't know <word>" (the word as typed, shown literally). */
export function buildHelpCard(lang: Lang, unknownWord?: string): AdaptiveCardJson {
  return renderCard('help', {
    lead: unknownWord === undefined ? '' : t(lang, 'unknown.command', { word: plainText(unknownWord.slice(0, 40)) }),
    title: t(lang, 'help.title'),
    intro: t(lang, 'help.intro'),
    lines: [
      t(lang, 'help.status'),
      t(lang, 'help.release'),
      t(lang, 'help.block'),
      t(lang, 'help.requests'),
      t(lang, 'help.typed'),
      t(lang, 'help.report'),
      t(lang, 'help.alerts'),
    ],
    language: t(lang, 'help.language'),
    buttons: [{ title: t(lang, 'help.try_status'), verb: 'status.show', data: { scopeId: ALL_SCOPE_ID } }],
  });
}
