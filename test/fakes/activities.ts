import { randomUUID } from 'node:crypto';

// Builders for the activities Teams sends to /api/messages. Shapes follow real Teams traffic
// (personal chat, channel with a mention, Action.Execute invoke).

export const tenantId = '00000000-0000-4000-8000-000000000001';
export interface TestUser {
  id: string;
  name: string;
  aadObjectId: string;
}
export const users = {
  viewer: { id: '29:viewer', name: 'Vera Viewer', aadObjectId: 'aad-viewer' },
  operator: { id: '29:operator', name: 'Olaf Operator', aadObjectId: 'aad-operator' },
  approver1: { id: '29:approver1', name: 'Anna Approver', aadObjectId: 'aad-approver-1' },
  approver2: { id: '29:approver2', name: 'Bernd Approver', aadObjectId: 'aad-approver-2' },
} satisfies Record<string, TestUser>;

export interface ConversationSpec {
  id: string;
  type: 'personal' | 'groupChat' | 'channel';
  teamId?: string;
  /** The channel's own id when `id` is a thread in it (`<channel>;messageid=<root>`). */
  channelId?: string;
}
export const personal = (user: TestUser): ConversationSpec => ({
  id: `a:personal-${user.aadObjectId}`,
  type: 'personal',
});
export const channel = (name: string): ConversationSpec => ({
  id: `19:${name}@thread.tacv2`,
  type: 'channel',
  teamId: '19:team-lagebot@thread.tacv2',
});
/** A message in a channel as Teams sends it: the conversation is the thread, `;messageid=` its root post. */
export const channelThread = (name: string, rootMessageId: string): ConversationSpec => ({
  ...channel(name),
  id: `19:${name}@thread.tacv2;messageid=${rootMessageId}`,
  channelId: `19:${name}@thread.tacv2`,
});

const bot = { id: '28:lagebot', name: 'Lagebot' };

function base(serviceUrl: string, user: TestUser, conv: ConversationSpec, locale: string, tenant = tenantId) {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    from: { id: user.id, name: user.name, aadObjectId: user.aadObjectId },
    recipient: bot,
    conversation: { id: conv.id, conversationType: conv.type, tenantId: tenant, isGroup: conv.type !== 'personal' },
    locale,
    channelData: {
      tenant: { id: tenant },
      ...(conv.teamId ? { team: { id: conv.teamId }, channel: { id: conv.channelId ?? conv.id } } : {}),
    },
    entities: [{ type: 'clientInfo', locale, country: locale.endsWith('US') ? 'US' : 'DE', platform: 'Web' }],
  };
}

export interface MessageOptions {
  serviceUrl: string;
  user?: TestUser;
  conversation?: ConversationSpec;
  locale?: string;
  tenant?: string;
}

export function message(text: string, o: MessageOptions) {
  const user = o.user ?? users.viewer;
  const conv = o.conversation ?? personal(user);
  const mention = conv.type === 'personal' ? '' : '<at>Lagebot</at> ';
  const activity = {
    ...base(o.serviceUrl, user, conv, o.locale ?? 'de-DE', o.tenant),
    type: 'message',
    text: `${mention}${text}`,
  };
  if (mention) {
    activity.entities = [
      ...activity.entities,
      { type: 'mention', mentioned: bot, text: '<at>Lagebot</at>' } as unknown as (typeof activity.entities)[number],
    ];
  }
  return activity;
}

export function invoke(verb: string, data: Record<string, unknown>, o: MessageOptions & { replyToId?: string }) {
  const user = o.user ?? users.viewer;
  const conv = o.conversation ?? personal(user);
  return {
    ...base(o.serviceUrl, user, conv, o.locale ?? 'de-DE', o.tenant),
    type: 'invoke',
    name: 'adaptiveCard/action',
    replyToId: o.replyToId ?? 'act-card',
    value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
  };
}

export async function post(botUrl: string, activity: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}
