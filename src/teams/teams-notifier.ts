import { type Activity, CardFactory, type CloudAdapter, MessageFactory } from 'botbuilder';
import type { ConversationReference } from 'botframework-schema';
import { proactiveConversationId, proactiveReference } from '../domain/conversation-id.ts';
import { LagebotError } from '../domain/errors.ts';
import { isMentionMessage, type OutgoingContent, renderMentions } from '../domain/mention-message.ts';
import type { ProactiveSender } from '../domain/ports.ts';
import type { Store } from '../domain/store-port.ts';

// Sends and updates cards in a conversation the bot has seen before, through the stored
// conversation reference (botbuilder's continueConversation, the documented proactive path).
// Never into a tenant that is not allowed (docs/decisions/hardening.md). Errors keep botbuilder's statusCode and
// Retry-After so a send queue can decide to retry.

function activityOf(content: OutgoingContent): Partial<Activity> {
  if (!isMentionMessage(content)) return MessageFactory.attachment(CardFactory.adaptiveCard(content));
  const { text, entities } = renderMentions(content);
  const activity: Partial<Activity> = content.card
    ? MessageFactory.attachment(CardFactory.adaptiveCard(content.card), text)
    : MessageFactory.text(text);
  activity.entities = entities;
  return activity;
}

export class TeamsNotifier implements ProactiveSender {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly appId: string | undefined,
    private readonly store: Store,
    private readonly allowedTenants: readonly string[],
  ) {}

  /**
   * The stored reference of the conversation (for a channel thread: of its channel), aimed at exactly
   * `conversationId` — the channel for a new post, a thread for a card posted there — and replying to
   * nothing.
   */
  private async referenceFor(conversationId: string): Promise<Partial<ConversationReference>> {
    const key = proactiveConversationId(conversationId);
    const conv =
      (await this.store.getConversation(key)) ??
      (key === conversationId ? null : await this.store.getConversation(conversationId));
    if (!conv) {
      throw new LagebotError(
        'NOT_FOUND',
        `conversation ${conversationId} unknown: the bot must be installed there or spoken to first`,
      );
    }
    if (this.allowedTenants.length > 0 && !this.allowedTenants.includes(conv.tenantId)) {
      throw new LagebotError('FORBIDDEN', `conversation ${conversationId} belongs to a tenant that is not allowed`);
    }
    return proactiveReference(conv.reference as Partial<ConversationReference>, conversationId);
  }

  async send(conversationId: string, content: OutgoingContent): Promise<{ activityId: string }> {
    const reference = await this.referenceFor(conversationId);
    let activityId = '';
    await this.adapter.continueConversationAsync(this.appId ?? '', reference, async (context) => {
      const res = await context.sendActivity(activityOf(content));
      activityId = res?.id ?? '';
    });
    return { activityId };
  }

  async update(conversationId: string, activityId: string, card: Record<string, unknown>): Promise<void> {
    const reference = await this.referenceFor(conversationId);
    await this.adapter.continueConversationAsync(this.appId ?? '', reference, async (context) => {
      await context.updateActivity({
        ...MessageFactory.attachment(CardFactory.adaptiveCard(card)),
        id: activityId,
        conversation: context.activity.conversation,
      });
    });
  }
}
