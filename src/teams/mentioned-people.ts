import { TeamsInfo, type TurnContext } from 'botbuilder';
import type { MentionedPerson } from '../domain/store-port.ts';
import { callerOf } from './turn-context-info.ts';

// The people a message @mentions (not the bot itself), checked against the conversation's roster: a
// person the roster does not know, or who belongs to another tenant (a guest from another organisation,
// a federated chat), is refused, so a subscription never stores someone the tenant cannot vouch for.

export type MentionCheck =
  | { kind: 'none' }
  | { kind: 'ok'; people: MentionedPerson[] }
  | { kind: 'outside'; names: string[] };

export async function mentionedPeople(context: TurnContext): Promise<MentionCheck> {
  const a = context.activity;
  const botId = a.recipient?.id;
  const mentioned = new Map<string, string>();
  for (const e of a.entities ?? []) {
    if (e.type !== 'mention') continue;
    const who = (e as { mentioned?: { id?: unknown; name?: unknown } }).mentioned;
    if (typeof who?.id !== 'string' || who.id === botId || mentioned.has(who.id)) continue;
    mentioned.set(who.id, typeof who.name === 'string' ? who.name : who.id);
  }
  if (mentioned.size === 0) return { kind: 'none' };
  const tenantId = callerOf(context).tenantId;
  const people: MentionedPerson[] = [];
  const outside: string[] = [];
  for (const [id, name] of mentioned) {
    try {
      const member = await TeamsInfo.getMember(context, id);
      if (member?.tenantId && member.tenantId !== tenantId) outside.push(name);
      else people.push({ id: member?.id ?? id, name: member?.name ?? name });
    } catch {
      outside.push(name);
    }
  }
  return outside.length > 0 ? { kind: 'outside', names: outside } : { kind: 'ok', people };
}
