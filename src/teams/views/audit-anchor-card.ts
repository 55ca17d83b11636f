import { formatAnchorLine } from '../../domain/format-anchor-line.ts';
import type { AuditAnchor } from '../../domain/store-port.ts';
import { formatTime, type Lang, t } from '../i18n.ts';
import type { AdaptiveCardJson } from '../render-card.ts';
import { buildNoticeCard } from './notice-card.ts';

// The short post into AUDIT_ANCHOR_CONVERSATION (issue 13): where the audit log stood, and the anchor's
// line as `audit verify` reads it from a file.
export function buildAuditAnchorCard(anchor: AuditAnchor, lang: Lang): AdaptiveCardJson {
  return buildNoticeCard(
    t(lang, 'audit.anchor_text', {
      time: formatTime(lang, anchor.at),
      seq: anchor.seq,
      hash: anchor.hash.slice(0, 16),
    }),
    { title: t(lang, 'audit.anchor_title'), hint: formatAnchorLine(anchor) },
  );
}
