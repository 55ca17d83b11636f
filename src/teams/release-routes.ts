import type { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import { z } from 'zod';
import type { Metrics } from '../adapters/metrics.ts';
import type { Caller } from '../domain/caller.ts';
import { proactiveConversationId } from '../domain/conversation-id.ts';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import { JUSTIFICATION_MIN, type ReleaseDirection, type ReleaseRequest } from '../domain/release-request.ts';
import type { RolesConfig } from '../domain/roles.ts';
import type { Store } from '../domain/store-port.ts';
import type { ActionVerb, ActOutcome, ReleaseService, RequestOutcome } from '../services/release-service.ts';
import type { ConfirmOutcome, TypedDecisions } from '../services/typed-decisions.ts';
import type { CommandHandlers } from './command-handlers.ts';
import { formatNumber, formatTime, type Lang, type MessageKey, placeName, t } from './i18n.ts';
import type { AdaptiveCardJson } from './render-card.ts';
import type { RequestCardTracker } from './request-card-tracker.ts';
import { scopeIdSchema } from './scope-id-schema.ts';
import { callerOf, languageOf } from './turn-context-info.ts';
import { buildNoticeCard } from './views/notice-card.ts';
import { plainText } from './views/plain-text.ts';
import {
  belowPolicy,
  buildConfirmCard,
  buildReasonForm,
  buildRequestCard,
  directionText,
  effectText,
  justificationOnRecord,
  refreshUsersFor,
  refusalText,
  scopeName,
  stateText,
} from './views/request-card.ts';
import { buildRequestListCard } from './views/request-list-card.ts';
import { buildScopeChoiceCard } from './views/scope-choice-card.ts';

// Chat commands and card actions of the release/block workflow. Parse → call the release service →
// render. Card data is parsed with zod and carries ids and the card's version only (plus what the
// user typed into the card's inputs); who clicked comes from the activity.

export interface ReleaseRouteDeps {
  service: ReleaseService;
  /** The same decisions typed in chat, for Teams mobile. */
  typed: TypedDecisions;
  /** Starts (or resumes) execution of a request without waiting for the gateway. */
  execute: (requestId: string) => void;
  cards: RequestCardTracker;
  store: Pick<Store, 'getConversation'>;
  roles: RolesConfig;
  approversConversation: string | undefined;
  logger: Logger;
  metrics: Metrics;
}

export interface ReleaseRoutes {
  commands: Pick<
    CommandHandlers,
    'release' | 'block' | 'requests' | 'approve' | 'confirm' | 'reject' | 'withdraw' | 'retry'
  >;
}

const requestRef = z.object({ requestId: z.string().min(1).max(100), version: z.number().int().positive() });
const confirmData = requestRef.extend({ justification: z.string().max(2000).optional() });
const createData = z.object({
  kind: z.enum(['release', 'block']),
  scopeId: scopeIdSchema,
  direction: z.enum(['inbound', 'outbound', 'both']),
  reason: z.string().max(500).optional(),
});

/** The pointer to the request that already holds some of these domains (or the same request again). */
function overlapText(lang: Lang, outcome: RequestOutcome): string | null {
  if (outcome.kind === 'existing') return t(lang, 'release.existing', { id: outcome.request.id });
  if (outcome.kind !== 'conflict') return null;
  const r = outcome.existing;
  return t(lang, 'release.conflict', {
    count: outcome.domains.length,
    what: t(lang, r.kind === 'block' ? 'what.block' : 'what.release'),
    direction: directionText(lang, r.direction),
    scope: scopeName(lang, r),
    id: r.id,
    name: plainText(r.requester.name),
    state: stateText(lang, r),
  });
}

function textOutcome(lang: Lang, outcome: RequestOutcome | ActOutcome): string | null {
  switch (outcome.kind) {
    case 'forbidden':
      return t(lang, 'release.forbidden', {
        role: t(lang, outcome.role === 'operator' ? 'role.operator' : 'role.approver'),
      });
    case 'scope_missing':
      return t(lang, 'release.scope_missing');
    case 'refused':
      return refusalText(lang, outcome.refusal);
    case 'not_found':
      return t(lang, 'request.not_found');
    case 'wrong_tenant':
      return t(lang, 'refusal.wrong_tenant');
    case 'unavailable':
      return t(
        lang,
        outcome.what === 'store'
          ? 'release.unavailable_store'
          : outcome.what === 'gateway'
            ? 'error.gateway_down'
            : 'error.inventory_down',
      );
    default:
      return null;
  }
}

export function registerReleaseRoutes(app: Application<TurnState>, deps: ReleaseRouteDeps): ReleaseRoutes {
  const refreshUsers = (request: ReleaseRequest) => refreshUsersFor(request, deps.roles);

  const viewFor = (context: TurnContext, request: ReleaseRequest, version: number, message?: string) =>
    buildRequestCard(request, version, languageOf(context), {
      message,
      actions: deps.service.actions(request, callerOf(context)),
      retrying: deps.cards.retrying(request.id),
    });

  async function publish(
    context: TurnContext,
    lang: Lang,
    outcome: Extract<RequestOutcome, { kind: 'created' }>,
    viaInvoke: boolean,
  ) {
    const { request, version } = outcome;
    const here = callerOf(context).conversationKey;
    const approvers = deps.approversConversation ? proactiveConversationId(deps.approversConversation) : null;
    const baseCard = buildRequestCard(request, version, lang, { refreshUserIds: refreshUsers(request) });
    let sentToApprovers = false;
    if (
      request.kind === 'release' &&
      approvers &&
      approvers !== here &&
      (await deps.store.getConversation(approvers))
    ) {
      try {
        const { activityId } = await deps.cards.sender.send(approvers, baseCard);
        await deps.cards.remember(request.id, approvers, activityId);
        sentToApprovers = true;
      } catch (error) {
        deps.logger.warn('could not post the request to the approvers conversation', { err: describeError(error) });
      }
    }
    const note =
      request.kind === 'block'
        ? await blockNote(deps, request, lang)
        : t(lang, sentToApprovers ? 'release.created_sent' : 'release.created_here', {
            here: placeName(lang, callerOf(context).conversationType),
          });
    const ownCard = buildRequestCard(request, version, lang, {
      message: note,
      // "Antrag gestellt" is good news; "Wirklich sperren?" needs an answer.
      messageColor: request.kind === 'block' ? 'Attention' : 'Good',
      actions: deps.service.actions(request, callerOf(context)),
      refreshUserIds: refreshUsers(request),
    });
    if (viaInvoke) {
      // The answer replaces the card that was clicked (the reason form): that message is now this
      // request's card and is updated in place like every other.
      const clicked = context.activity.replyToId;
      if (clicked) await deps.cards.remember(request.id, here, clicked);
      return ownCard;
    }
    const res = await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(ownCard)));
    if (res?.id) await deps.cards.remember(request.id, here, res.id);
    return ownCard;
  }

  // An overlap is answered with the request that holds the domains: its card, with one line saying
  // why nothing new was made, and the buttons this user has on it (withdraw, if it is theirs).
  function overlapCard(
    context: TurnContext,
    lang: Lang,
    outcome: Extract<RequestOutcome, { kind: 'existing' | 'conflict' }>,
  ) {
    const request = outcome.kind === 'existing' ? outcome.request : outcome.existing;
    return buildRequestCard(request, outcome.version, lang, {
      message: overlapText(lang, outcome) ?? undefined,
      actions: deps.service.actions(request, callerOf(context)),
      retrying: deps.cards.retrying(request.id),
    });
  }

  async function handleCreated(
    context: TurnContext,
    lang: Lang,
    outcome: RequestOutcome,
    viaInvoke: boolean,
  ): Promise<AdaptiveCardJson | null> {
    if (outcome.kind === 'created') return publish(context, lang, outcome, viaInvoke);
    if (outcome.kind === 'existing' || outcome.kind === 'conflict') {
      const card = overlapCard(context, lang, outcome);
      const request = outcome.kind === 'existing' ? outcome.request : outcome.existing;
      const here = callerOf(context).conversationKey;
      if (viaInvoke) {
        if (context.activity.replyToId) await deps.cards.remember(request.id, here, context.activity.replyToId);
        return card;
      }
      // This copy of the card is kept up to date too.
      const res = await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
      if (res?.id) await deps.cards.remember(request.id, here, res.id);
      return null;
    }
    if (outcome.kind === 'needs_reason') return buildReasonForm(lang, outcome);
    if (outcome.kind === 'scope_ambiguous' || outcome.kind === 'scope_unknown') {
      return buildScopeChoiceCard(
        lang,
        outcome.input,
        outcome.kind === 'scope_ambiguous' ? 'ambiguous' : 'unknown',
        outcome.kind === 'scope_ambiguous' ? outcome.candidates : outcome.suggestions,
      );
    }
    const text = textOutcome(lang, outcome);
    return buildNoticeCard(text ?? t(lang, 'error.generic'), { color: 'Attention' });
  }

  async function reply(context: TurnContext, card: AdaptiveCardJson | string) {
    await context.sendActivity(
      typeof card === 'string' ? card : MessageFactory.attachment(CardFactory.adaptiveCard(card)),
    );
  }

  // ---- card actions ----------------------------------------------------------------------------

  const act =
    (verb: ActionVerb, options: { override?: boolean } = {}) =>
    async (context: TurnContext, _state: TurnState, data: unknown): Promise<AdaptiveCardJson> => {
      const lang = languageOf(context);
      const parsed = confirmData.safeParse(data);
      const actionVerb = String((context.activity.value as { action?: { verb?: unknown } })?.action?.verb ?? verb);
      if (!parsed.success) {
        deps.metrics.cardActions.inc({ verb: actionVerb, outcome: 'bad_data' });
        return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
      }
      const outcome = await deps.service.act(callerOf(context), parsed.data.requestId, parsed.data.version, verb, {
        override: options.override,
        justification: parsed.data.justification?.trim() || null,
      });
      deps.metrics.cardActions.inc({
        verb: actionVerb,
        outcome: outcome.kind === 'refused' ? outcome.refusal.code : outcome.kind,
      });
      switch (outcome.kind) {
        case 'ok':
          if (outcome.effects.some((e) => e.type === 'execute')) deps.execute(outcome.request.id);
          return viewFor(context, outcome.request, outcome.version);
        case 'refused':
          return viewFor(context, outcome.request, outcome.version, refusalText(lang, outcome.refusal));
        case 'stale': {
          const decided = outcome.request.state !== 'pending' && outcome.request.state !== 'awaiting_confirmation';
          const message = decided
            ? t(lang, 'refusal.already_decided', { state: stateText(lang, outcome.request) })
            : t(lang, 'request.stale');
          return viewFor(context, outcome.request, outcome.version, message);
        }
        default:
          return buildNoticeCard(textOutcome(lang, outcome) ?? t(lang, 'error.generic'), { color: 'Attention' });
      }
    };

  app.adaptiveCards.actionExecute('request.approve', async (context, _state, data) => {
    const lang = languageOf(context);
    const parsed = requestRef.safeParse(data);
    if (!parsed.success) return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
    const facts = await deps.service.confirmFacts(callerOf(context), parsed.data.requestId);
    deps.metrics.cardActions.inc({ verb: 'request.approve', outcome: 'kind' in facts ? facts.kind : 'confirm_view' });
    if ('kind' in facts) {
      if (facts.kind === 'refused')
        return viewFor(context, facts.request, facts.version, refusalText(lang, facts.refusal));
      if (facts.kind === 'stale' || facts.kind === 'ok') return viewFor(context, facts.request, facts.version);
      return buildNoticeCard(textOutcome(lang, facts) ?? t(lang, 'error.generic'), { color: 'Attention' });
    }
    if (facts.version !== parsed.data.version) {
      return viewFor(context, facts.request, facts.version, t(lang, 'request.stale'));
    }
    return buildConfirmCard(facts, lang);
  });
  app.adaptiveCards.actionExecute('request.confirm', act('approve'));
  app.adaptiveCards.actionExecute('request.confirm_override', act('approve', { override: true }));
  app.adaptiveCards.actionExecute('request.reject', act('reject'));
  app.adaptiveCards.actionExecute('request.cancel', act('cancel'));
  app.adaptiveCards.actionExecute('request.confirm_block', act('confirm_block'));
  app.adaptiveCards.actionExecute('request.retry', act('retry_failed'));
  app.adaptiveCards.actionExecute('request.view', async (context, _state, data) => {
    const lang = languageOf(context);
    const parsed = requestRef.safeParse(data);
    if (!parsed.success) return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
    const current = await deps.service.get(parsed.data.requestId);
    if (!current) return buildNoticeCard(t(lang, 'request.not_found'), { color: 'Attention' });
    if (current.request.tenantId !== callerOf(context).tenantId) {
      return buildNoticeCard(t(lang, 'refusal.wrong_tenant'), { color: 'Attention' });
    }
    return viewFor(context, current.request, current.version);
  });
  app.adaptiveCards.actionExecute('request.create', async (context, _state, data) => {
    const lang = languageOf(context);
    const parsed = createData.safeParse(data);
    if (!parsed.success) return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
    const { kind, scopeId, direction, reason } = parsed.data;
    if (!reason?.trim()) {
      return buildReasonForm(lang, { requestKind: kind, scopeId, scopeName: scopeId, direction });
    }
    const outcome = await deps.service.create(callerOf(context), { kind, scopeId, direction, reason: reason.trim() });
    deps.metrics.commands.inc({ command: kind, outcome: outcome.kind });
    return (await handleCreated(context, lang, outcome, true))!;
  });

  // ---- chat commands ---------------------------------------------------------------------------

  const requestFromWords = async (context: TurnContext, kind: 'release' | 'block', words: string[], lang: Lang) => {
    const outcome = await deps.service.requestFromWords(callerOf(context), kind, words);
    const card = await handleCreated(context, lang, outcome, false);
    if (card && outcome.kind !== 'created' && outcome.kind !== 'existing' && outcome.kind !== 'conflict') {
      await reply(context, card);
    }
    return outcome.kind;
  };

  // ---- typed decisions (Teams mobile cannot click Action.Execute) -----------------------------------

  /** The answer to a typed decision: the request card as it is now, led by what happened. */
  async function answerTyped(context: TurnContext, lang: Lang, outcome: ConfirmOutcome, requestId: string) {
    switch (outcome.kind) {
      case 'ok':
        if (outcome.effects.some((e) => e.type === 'execute')) deps.execute(outcome.request.id);
        await reply(context, viewFor(context, outcome.request, outcome.version));
        return 'ok';
      case 'refused':
        await reply(context, viewFor(context, outcome.request, outcome.version, refusalText(lang, outcome.refusal)));
        return outcome.refusal.code;
      case 'stale':
        await reply(context, viewFor(context, outcome.request, outcome.version, t(lang, 'request.stale')));
        return 'stale';
      case 'code_refused':
        await reply(context, t(lang, `typed.code.${outcome.reason}` as MessageKey, { id: requestId }));
        return `code_${outcome.reason}`;
      case 'justification_missing':
        await reply(context, t(lang, 'typed.justification_missing', { id: requestId, min: JUSTIFICATION_MIN }));
        return 'justification_missing';
      default:
        await reply(context, textOutcome(lang, outcome) ?? t(lang, 'error.generic'));
        return outcome.kind;
    }
  }

  async function withRequestId(
    context: TurnContext,
    lang: Lang,
    requestId: string | null,
    verb: MessageKey,
    then: (requestId: string) => Promise<string>,
  ): Promise<string> {
    if (requestId === null) {
      await reply(context, t(lang, 'typed.usage', { example: `${t(lang, verb)} r-788db484` }));
      return 'usage';
    }
    return then(requestId);
  }

  return {
    commands: {
      approve: (context, command, lang) =>
        withRequestId(context, lang, command.requestId, 'typed.verb.approve', async (requestId) => {
          const outcome = await deps.typed.issue(callerOf(context), requestId);
          if (outcome.kind !== 'code') return answerTyped(context, lang, outcome, requestId);
          const { facts, code, expiresAt } = outcome;
          const { request, fresh, worse } = facts;
          const justify = belowPolicy(facts) && !justificationOnRecord(facts);
          const command = `${t(lang, 'typed.verb.confirm')} ${request.id} ${code}${justify ? ` ${t(lang, 'typed.justification_placeholder')}` : ''}`;
          // The card's confirmation view as text: what it does, its effect at the gateway, the warning.
          const lines = [
            `**${t(lang, 'typed.confirm_title', { id: request.id })}**`,
            t(lang, request.state === 'retry_pending' ? 'confirm.retry' : 'confirm.release', {
              direction: directionText(lang, request.direction),
              count: facts.effect.total,
              clients: formatNumber(lang, fresh.unpatchedClients),
              servers: formatNumber(lang, fresh.unpatchedServers),
            }),
            effectText(lang, request.kind, facts.effect),
            ...(worse ? [t(lang, 'confirm.worse')] : []),
            ...(justify ? [t(lang, 'typed.justification_hint', { min: JUSTIFICATION_MIN })] : []),
            t(lang, 'typed.confirm_with', { command, time: formatTime(lang, expiresAt) }),
          ];
          await reply(context, lines.join('\n\n'));
          return 'code_issued';
        }),
      confirm: (context, command, lang) =>
        withRequestId(context, lang, command.requestId, 'typed.verb.confirm', async (requestId) => {
          const outcome = await deps.typed.confirm(callerOf(context), requestId, command.code, command.justification);
          return answerTyped(context, lang, outcome, requestId);
        }),
      reject: (context, command, lang) =>
        withRequestId(context, lang, command.requestId, 'typed.verb.reject', async (requestId) =>
          answerTyped(
            context,
            lang,
            await deps.typed.act(callerOf(context), requestId, 'reject', command.reason),
            requestId,
          ),
        ),
      withdraw: (context, command, lang) =>
        withRequestId(context, lang, command.requestId, 'typed.verb.withdraw', async (requestId) =>
          answerTyped(context, lang, await deps.typed.act(callerOf(context), requestId, 'cancel'), requestId),
        ),
      retry: (context, command, lang) =>
        withRequestId(context, lang, command.requestId, 'typed.verb.retry', async (requestId) =>
          answerTyped(context, lang, await deps.typed.act(callerOf(context), requestId, 'retry_failed'), requestId),
        ),
      release: (context, command, lang) => requestFromWords(context, 'release', command.words, lang),
      block: (context, command, lang) => requestFromWords(context, 'block', command.words, lang),
      async requests(context, _command, lang) {
        await reply(context, buildRequestListCard(lang, await deps.service.listOpen(callerOf(context).tenantId)));
        return 'ok';
      },
    },
  };
}

/** "Wirklich sperren? 3 Domänen, externe Mail eingehend. 3 Domänen, davon 1 bereits gesperrt — 2 werden geändert." */
async function blockNote(deps: Pick<ReleaseRouteDeps, 'service' | 'logger'>, request: ReleaseRequest, lang: Lang) {
  const ask = t(lang, 'confirm.block', {
    count: request.scope.domains.length,
    direction: directionText(lang, request.direction),
  });
  try {
    return `${ask} ${effectText(lang, request.kind, await deps.service.effect(request))}`;
  } catch (error) {
    // The gateway is asked again when the block runs; the question stands without the count.
    deps.logger.warn('could not read the gateway for the block effect', { err: describeError(error) });
    return ask;
  }
}

/**
 * The alert card's "Eingehend sperren" (exactly the alert's domains) and "Ganzen Kreis sperren" (the
 * whole region): the same audited block path as `sperren`. The "Wirklich sperren?" card is posted as
 * its own message, tracked like every request card, so the alert card stays as it is. Roles are
 * checked by the release service. Returns the text to answer the click with when nothing was posted.
 */
export async function requestBlockCard(
  deps: Pick<ReleaseRouteDeps, 'service' | 'cards' | 'logger'>,
  input: {
    caller: Caller;
    conversationId: string;
    scopeId: string;
    domains?: readonly string[];
    direction: ReleaseDirection;
    reason: string;
    lang: Lang;
    post: (card: AdaptiveCardJson) => Promise<string | undefined>;
  },
): Promise<{ posted: true; count: number } | { posted: false; text: string }> {
  const { lang } = input;
  const outcome = await deps.service.create(input.caller, {
    kind: 'block',
    scopeId: input.scopeId,
    direction: input.direction,
    reason: input.reason,
    ...(input.domains ? { domains: input.domains } : {}),
  });
  let request: ReleaseRequest;
  let card: AdaptiveCardJson;
  if (outcome.kind === 'created') {
    request = outcome.request;
    card = buildRequestCard(request, outcome.version, lang, {
      message: await blockNote(deps, request, lang),
      actions: deps.service.actions(request, input.caller),
    });
  } else if (outcome.kind === 'existing' || outcome.kind === 'conflict') {
    request = outcome.kind === 'existing' ? outcome.request : outcome.existing;
    card = buildRequestCard(request, outcome.version, lang, {
      message: overlapText(lang, outcome) ?? undefined,
      actions: deps.service.actions(request, input.caller),
    });
  } else {
    return { posted: false, text: textOutcome(lang, outcome) ?? t(lang, 'error.generic') };
  }
  const activityId = await input.post(card);
  if (activityId) await deps.cards.remember(request.id, input.conversationId, activityId);
  return { posted: true, count: request.scope.domains.length };
}
