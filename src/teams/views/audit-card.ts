import type { AuditLogResult } from '../../services/read-audit-log.ts';
import { formatTime, type Lang, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';

// `protokoll [scope]`: one line per audit entry, newest first.

export function buildAuditCard(lang: Lang, result: AuditLogResult): AdaptiveCardJson {
  if (result.kind === 'unknown') {
    return renderCard('list', {
      title: t(lang, 'scope.unknown', { input: result.input.slice(0, 80) }),
      empty: '',
      lines: [],
      buttons: [],
    });
  }
  const title =
    result.scopeName === null ? t(lang, 'audit.title') : t(lang, 'audit.title_scope', { scope: result.scopeName });
  const lines = result.entries.map((e) => {
    const d = (e.details ?? {}) as Record<string, unknown>;
    const who = typeof d.by === 'string' ? d.by : e.actor;
    const extra = [d.domain, d.state].filter((x) => typeof x === 'string').join(' · ');
    return `${formatTime(lang, e.at)} · ${e.action} · ${who}${e.scopeId ? ` · ${e.scopeId}` : ''}${extra ? ` · ${extra}` : ''}`;
  });
  return renderCard('list', { title, empty: t(lang, 'audit.none'), lines, buttons: [] });
}
