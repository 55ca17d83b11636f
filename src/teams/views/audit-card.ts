import type { AuditLogResult } from '../../services/read-audit-log.ts';
import { formatTime, type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// `protokoll [scope]`: one line per audit entry, newest first.

export function buildAuditCard(lang: Lang, result: AuditLogResult): AdaptiveCardJson {
  if (result.kind === 'unknown') {
    return renderCard('list', {
      title: t(lang, 'scope.unknown', { input: plainText(result.input.slice(0, 80)) }),
      empty: '',
      lines: [],
      buttons: [],
    });
  }
  const title =
    result.scopeName === null
      ? t(lang, 'audit.title')
      : t(lang, 'audit.title_scope', { scope: plainText(result.scopeName) });
  const lines = result.entries.map((e) => {
    const d = (e.details ?? {}) as Record<string, unknown>;
    const who = typeof d.by === 'string' ? d.by : e.actor;
    // Names, scopes and domains come from users and back ends; the action and the state are the bot's own.
    const supplied = [who, e.scopeId, d.domain].filter((x): x is string => typeof x === 'string' && x !== '');
    const state = typeof d.state === 'string' ? [d.state] : [];
    return [formatTime(lang, e.at), e.action, ...supplied.map(plainText), ...state].join(' · ');
  });
  return renderCard('list', { title, empty: t(lang, 'audit.none'), lines, buttons: [] });
}
