/**
 * Teams sends a channel message's conversation id with ";messageid=…" (the thread it is in); the
 * channel is the part before. Proactive cards go to the channel (a new post); other ids are unchanged.
 */
export function proactiveConversationId(conversationId: string): string {
  return conversationId.replace(/;messageid=[^;]*$/, '');
}

/**
 * A conversation reference aimed at exactly `conversationId` and replying to no message: what the bot
 * stores for proactive cards and sends them with (a channel id makes a new post, a thread id goes into it).
 */
export function proactiveReference<R extends { activityId?: string; conversation?: { id: string } }>(
  reference: R,
  conversationId: string,
): Omit<R, 'activityId'> {
  const { activityId: _replyTo, ...rest } = reference;
  return { ...rest, conversation: { ...reference.conversation, id: conversationId } };
}
