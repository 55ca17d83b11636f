import { proactiveConversationId } from '../../domain/conversation-id.ts';
import type { MentionMessage } from '../../domain/mention-message.ts';
import { mentionList } from '../../domain/mention-message.ts';
import type { ReleaseRequest } from '../../domain/release-request.ts';
import type { RolesConfig } from '../../domain/roles.ts';
import type { MentionedPerson } from '../../domain/store-port.ts';
import type { NudgeRenderer, ReminderView } from '../../services/nudge-requests.ts';
import { formatTime, type Lang, type MessageKey, t } from '../i18n.ts';
import type { AdaptiveCardJson } from '../render-card.ts';
import { plainText } from './plain-text.ts';
import { buildRequestCard, directionText, refreshUsersFor, scopeName } from './request-card.ts';

// The texts of reminders, escalations and the requester's line. User text (names, scope) goes through
// plainText; the names inside <at>…</at> are the mention entities' (src/domain/mention-message.ts).

function titleOf(lang: Lang, request: ReleaseRequest): string {
  return t(lang, 'request.title', {
    what: t(lang, request.kind === 'block' ? 'what.block' : 'what.release'),
    direction: directionText(lang, request.direction),
    scope: scopeName(lang, request),
  });
}

/** A Teams deep link to the card's message (channel post or chat message). */
export function messageLink(card: { conversationId: string; activityId: string }): string {
  const conversation = proactiveConversationId(card.conversationId);
  return `https://teams.microsoft.com/l/message/${encodeURIComponent(conversation)}/${encodeURIComponent(card.activityId)}`;
}

function message(template: string, mentions: MentionedPerson[], card?: AdaptiveCardJson): MentionMessage {
  return { type: 'lagebot.mention_message', template, mentions, ...(card ? { card } : {}) };
}

// Braces in user text (a scope name, a rejection reason) must not read as mention slots.
const noBraces = (s: string) => s.replace(/[{}]/g, '');

export function createNudgeMessages(lang: Lang, roles: RolesConfig): NudgeRenderer {
  return {
    reminder(view: ReminderView) {
      const { request } = view;
      const who =
        view.approvers.length > 0
          ? mentionList(view.approvers.length, t(lang, 'nudge.and'))
          : t(lang, 'nudge.approvers');
      const lines = [
        t(lang, 'nudge.reminder', {
          n: view.n,
          max: view.max,
          who,
          id: request.id,
          title: noBraces(plainText(titleOf(lang, request))),
          since: formatTime(lang, view.since),
        }),
        ...(view.card ? [t(lang, 'nudge.link', { url: messageLink(view.card) })] : []),
        t(lang, 'nudge.typed', { id: request.id }),
      ];
      return message(lines.join('\n\n'), view.approvers);
    },
    escalation(request, version, since) {
      return buildRequestCard(request, version, lang, {
        message: t(lang, 'nudge.escalation', { since: formatTime(lang, since) }),
        refreshUserIds: refreshUsersFor(request, roles),
      });
    },
    unreachable(request, people) {
      return message(
        t(lang, 'nudge.unreachable', { who: mentionList(people.length, t(lang, 'nudge.and')), id: request.id }),
        people,
      );
    },
    requesterNote(request) {
      const key = `nudge.note.${request.state}` as MessageKey;
      const reason =
        request.state === 'rejected' && request.rejection.reason
          ? ` ${t(lang, 'nudge.note.reason', { reason: noBraces(plainText(request.rejection.reason)) })}`
          : '';
      return message(
        `${t(lang, key, { id: request.id, title: noBraces(plainText(titleOf(lang, request))) })}${reason}`,
        [],
      );
    },
  };
}
