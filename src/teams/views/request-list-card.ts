import type { ReleaseRequest } from '../../domain/release-request.ts';
import { formatTime, type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';
import { directionText, scopeName, stateText } from './request-card.ts';

// `anträge`: the open requests, one line each, the first five as buttons that open their card.

export function buildRequestListCard(
  lang: Lang,
  open: ReadonlyArray<{ request: ReleaseRequest; version: number }>,
): AdaptiveCardJson {
  const lines = open.map(({ request }) =>
    t(lang, 'requests.line', {
      what: t(lang, request.kind === 'block' ? 'what.block' : 'what.release'),
      scope: scopeName(lang, request),
      direction: directionText(lang, request.direction),
      state: stateText(lang, request),
      requester: plainText(request.requester.name),
      time: formatTime(lang, request.createdAt),
    }),
  );
  return renderCard('list', {
    title: t(lang, 'requests.title'),
    empty: t(lang, 'requests.none'),
    lines,
    buttons: open.slice(0, 5).map(({ request, version }) => ({
      title: `${scopeName(lang, request)} · ${stateText(lang, request)}`.slice(0, 60),
      verb: 'request.view',
      data: { requestId: request.id, version },
    })),
  });
}
