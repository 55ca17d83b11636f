import { ALL_SCOPE_ID } from '../../domain/scope-id.ts';
import type { AuditLine, AuditLogResult, AuditRequestFacts } from '../../services/read-audit-log.ts';
import { formatNumber, formatStamp, type Lang, type MessageKey, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';
import { directionText } from './request-card.ts';

// `protokoll [scope]`: one line per request event in the reader's language ("19.02. 14:05 · Anna
// Approver hat den Antrag von Olaf Operator genehmigt: Nordverband eingehend"), a request's
// per-domain results as one line, newest first, *Mehr* for older entries.

export const AUDIT_MORE_VERB = 'audit.more';

const REQUEST_EVENTS: Record<string, MessageKey> = {
  requested: 'audit.requested',
  approve: 'audit.approve',
  reject: 'audit.reject',
  cancel: 'audit.cancel',
  expire: 'audit.expire',
  confirm_block: 'audit.confirm_block',
  retry_failed: 'audit.retry_failed',
};

function scopeText(lang: Lang, id: string | null, name: string): string {
  return id === ALL_SCOPE_ID ? t(lang, 'all.name') : plainText(name);
}

function subject(lang: Lang, r: AuditRequestFacts): string {
  const scope = scopeText(lang, r.scopeId, r.scopeName);
  return r.direction ? t(lang, 'audit.subject', { scope, direction: directionText(lang, r.direction) }) : scope;
}

export function auditLineText(lang: Lang, line: AuditLine): string {
  return t(lang, 'audit.line', { time: formatStamp(lang, line.at), text: lineText(lang, line) });
}

function lineText(lang: Lang, line: AuditLine): string {
  switch (line.kind) {
    case 'request': {
      const params = {
        by: plainText(line.by),
        requester: plainText(line.request.requesterName),
        subject: subject(lang, line.request),
        what: t(lang, line.request.kind === 'block' ? 'audit.what.block' : 'audit.what.release'),
        event: plainText(line.event),
      };
      if (line.event === 'approve' && line.override) return t(lang, 'audit.approve_override', params);
      // Still pending after an approval: the first of two.
      if (line.event === 'approve' && line.state === 'pending') return t(lang, 'audit.approve_first', params);
      return t(lang, REQUEST_EVENTS[line.event] ?? 'audit.event_other', params);
    }
    case 'domains': {
      const text = t(lang, line.request.kind === 'block' ? 'audit.domains_block' : 'audit.domains_release', {
        subject: subject(lang, line.request),
        succeeded: formatNumber(lang, line.succeeded),
        failed: formatNumber(lang, line.failed),
      });
      return line.open > 0 ? text + t(lang, 'audit.domains_open', { open: formatNumber(lang, line.open) }) : text;
    }
    case 'alert':
      return t(lang, `audit.alert_${line.event}` as MessageKey, {
        by: plainText(line.by),
        scope: line.scopeName === null ? '' : scopeText(lang, line.scopeId, line.scopeName),
        hours: line.hours ?? '',
      });
    default:
      return t(lang, 'audit.other', { action: plainText(line.action), by: plainText(line.actor) });
  }
}

export function buildAuditCard(lang: Lang, result: AuditLogResult, older = false): AdaptiveCardJson {
  if (result.kind === 'unknown') {
    return renderCard('list', {
      title: t(lang, 'scope.unknown', { input: plainText(result.input.slice(0, 80)) }),
      empty: '',
      lines: [],
      buttons: [],
    });
  }
  const base =
    result.scope === null
      ? t(lang, 'audit.title')
      : t(lang, 'audit.title_scope', { scope: scopeText(lang, result.scope.id, result.scope.name) });
  return renderCard('list', {
    title: older ? `${base} (${t(lang, 'audit.older')})` : base,
    empty: t(lang, 'audit.none'),
    lines: result.lines.map((l) => auditLineText(lang, l)),
    buttons:
      result.olderThan === null
        ? []
        : [
            {
              title: t(lang, 'audit.more'),
              verb: AUDIT_MORE_VERB,
              data: { ...(result.scope ? { scopeId: result.scope.id } : {}), olderThan: result.olderThan },
            },
          ],
  });
}
