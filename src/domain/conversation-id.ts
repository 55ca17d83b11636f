/**
 * Teams sends a channel message's conversation id with ";messageid=…" (the thread it is in); the
 * channel is the part before. Proactive cards go to the channel (a new post); other ids are unchanged.
 */
export function proactiveConversationId(conversationId: string): string {
  return conversationId.replace(/;messageid=[^;]*$/, '');
}
