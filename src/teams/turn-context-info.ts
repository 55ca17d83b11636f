import type { TurnContext } from 'botbuilder';
import type { Caller } from '../domain/caller.ts';
import { proactiveConversationId } from '../domain/conversation-id.ts';
import { detectLanguage } from './command-parser.ts';
import type { Lang } from './i18n.ts';

// What the bot may take from an activity. Identity comes from Teams (from.aadObjectId, tenant),
// never from card data (docs/decisions/identity-from-teams.md).

/** The caller and where the activity happened. */
export interface TurnCaller extends Caller {
  /** Where this activity happened; in a channel the thread (`19:…@thread.tacv2;messageid=…`): replies go there. */
  conversationId: string;
  /**
   * The conversation as the bot addresses it on its own (alerts, subscriptions, approver cards): in a
   * channel the channel itself, so a proactive card is a new post, not a reply in an old thread.
   */
  conversationKey: string;
  conversationType: 'personal' | 'groupChat' | 'channel';
}

export function languageOf(context: TurnContext): Lang {
  const a = context.activity;
  const clientInfo = (a.entities ?? []).find((e) => e.type === 'clientInfo') as { locale?: unknown } | undefined;
  const locale =
    typeof a.locale === 'string' && a.locale
      ? a.locale
      : typeof clientInfo?.locale === 'string'
        ? clientInfo.locale
        : undefined;
  return detectLanguage(locale);
}

export function callerOf(context: TurnContext): TurnCaller {
  const a = context.activity;
  const channelTenant = (a.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
  const tenantId =
    typeof a.conversation?.tenantId === 'string' && a.conversation.tenantId
      ? a.conversation.tenantId
      : typeof channelTenant === 'string'
        ? channelTenant
        : null;
  const type = a.conversation?.conversationType;
  return {
    aadObjectId: typeof a.from?.aadObjectId === 'string' && a.from.aadObjectId ? a.from.aadObjectId : null,
    userId: String(a.from?.id ?? ''),
    name: String(a.from?.name ?? ''),
    tenantId,
    conversationId: String(a.conversation?.id ?? ''),
    conversationKey: proactiveConversationId(String(a.conversation?.id ?? '')),
    conversationType: type === 'channel' || type === 'groupChat' ? type : 'personal',
  };
}
