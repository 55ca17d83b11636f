import { type AdaptiveCardJson, renderCard } from '../render-card.ts';

export function buildNoticeCard(
  text: string,
  options: { title?: string; hint?: string; color?: 'Default' | 'Good' | 'Warning' | 'Attention' } = {},
): AdaptiveCardJson {
  return renderCard('notice', {
    title: options.title ?? '',
    text,
    hint: options.hint ?? '',
    color: options.color ?? 'Default',
    buttons: [],
  });
}
