import type { MentionedPerson } from './store-port.ts';

// A proactive message that @mentions people: Teams needs the person's name in `<at>…</at>` in the text
// and one `mention` entity per person with their id and that same text. Senders take it where they take
// a card (ProactiveSender.send), so it goes through the same send queue with the same Teams limits.

// A type, not an interface, so it is a Record like a card and passes the same queues.
export type MentionMessage = {
  type: 'lagebot.mention_message';
  /** The text with `{mention:<index>}` where each person is named. */
  template: string;
  mentions: MentionedPerson[];
  /** An optional card shown under the text. */
  card?: Record<string, unknown>;
};

export type OutgoingContent = Record<string, unknown> | MentionMessage;

export function isMentionMessage(content: OutgoingContent): content is MentionMessage {
  return (content as { type?: unknown }).type === 'lagebot.mention_message';
}

/** `<at>Name</at>`: angle brackets in a name are dropped, so a name cannot open or close markup. */
export function mentionText(person: MentionedPerson): string {
  return `<at>${person.name.replace(/[<>]/g, '')}</at>`;
}

/** The message text and its entities as Teams wants them. */
export function renderMentions(message: MentionMessage): {
  text: string;
  entities: Array<{ type: 'mention'; text: string; mentioned: { id: string; name: string } }>;
} {
  const text = message.template.replace(/\{mention:(\d+)\}/g, (whole, i: string) => {
    const person = message.mentions[Number(i)];
    return person ? mentionText(person) : whole;
  });
  const entities = message.mentions.map((m) => ({
    type: 'mention' as const,
    text: mentionText(m),
    mentioned: { id: m.id, name: m.name.replace(/[<>]/g, '') },
  }));
  return { text, entities };
}

/** "{mention:0}, {mention:1} und {mention:2}" for everybody in the list, joined as the language joins. */
export function mentionList(count: number, and: string): string {
  const items = Array.from({ length: count }, (_, i) => `{mention:${i}}`);
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${and} ${items.at(-1)}`;
}
