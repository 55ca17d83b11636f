import type { RegionChoice } from '../../domain/region-index.ts';
import { type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// "Olpe" is a Kreis and a town; "Kreis Olep" is a typo. Either way the answer offers buttons that
// carry only the region id, labelled with the level's name as the inventory calls it.

function label(lang: Lang, choice: RegionChoice): string {
  // Both from the inventory: the region's name and its level's.
  return plainText(`${choice.name} (${choice.level[lang]})`);
}

export function buildScopeChoiceCard(
  lang: Lang,
  input: string,
  kind: 'ambiguous' | 'unknown',
  nodes: RegionChoice[],
  verb = 'status.show',
): AdaptiveCardJson {
  const shownInput = plainText(input.length > 80 ? `${input.slice(0, 80)}…` : input);
  const text =
    kind === 'ambiguous'
      ? t(lang, 'scope.ambiguous', { input: shownInput })
      : `${t(lang, 'scope.unknown', { input: shownInput })} ${nodes.length > 0 ? t(lang, 'scope.did_you_mean') : ''}`.trim();
  return renderCard('choice', {
    text,
    hint: nodes.length === 0 ? t(lang, 'scope.no_suggestion') : '',
    buttons: nodes.slice(0, 5).map((n) => ({ title: label(lang, n), verb, data: { scopeId: n.id } })),
  });
}
