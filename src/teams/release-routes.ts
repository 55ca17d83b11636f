import type { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import { z } from 'zod';
import type { Metrics } from '../adapters/metrics.ts';
import { proactiveConversationId } from '../domain/conversation-id.ts';
import type { Logger } from '../domain/logger.ts';
import type { ProactiveSender } from '../domain/ports.ts';
import type { ReleaseRequest } from '../domain/release-request.ts';
import { listedMembers, type RolesConfig } from '../domain/roles.ts';
import type { Store } from '../domain/store-port.ts';
import type { ActionVerb, ActOutcome, Caller, ReleaseService, RequestOutcome } from '../services/release-service.ts';
import type { ParsedCommand } from './command-parser.ts';
import { describeError } from './create-http-server.ts';
import { formatTime, type Lang, t } from './i18n.ts';
import type { AdaptiveCardJson } from './render-card.ts';
import { scopeIdSchema } from './scope-id-schema.ts';
import { callerOf, languageOf } from './turn-context-info.ts';
import { buildNoticeCard } from './views/notice-card.ts';
import {
  buildConfirmCard,
  buildReasonForm,
  buildRequestCard,
  directionText,
  refusalText,
  scopeName,
  stateText,
} from './views/request-card.ts';
import { buildScopeChoiceCard } from './views/scope-choice-card.ts';

// Chat commands and card actions of the release/block workflow. Parse → call the release service →
// render. Card data is parsed with zod and carries ids and the card's version only (plus what the
// user typed into the card's inputs); who clicked comes from the activity.

export interface ReleaseRouteDeps {
  service: ReleaseService;
  /** Starts (or resumes) execution of a request without waiting for the gateway. */
  execute: (requestId: string) => void;
  cards: RequestCardTracker;
  store: Store;
  roles: RolesConfig;
  approversConversation: string | undefined;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

const requestRef = z.object({ requestId: z.string().min(1).max(100), version: z.number().int().positive() });
const confirmData = requestRef.extend({ justification: z.string().max(2000).optional() });
const createData = z.object({
  kind: z.enum(['release', 'block']),
  scopeId: scopeIdSchema,
  direction: z.enum(['inbound', 'outbound', 'both']),
  reason: z.string().max(500).optional(),
});

function callerFor(context: TurnContext): Caller {
  const c = callerOf(context);
  return { aadObjectId: c.aadObjectId, name: c.name, tenantId: c.tenantId };
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

/** Who gets a user-specific view of a request card (refresh.userIds): the requester and the named deciders. */
export function refreshUsersFor(request: ReleaseRequest, roles: RolesConfig): string[] {
  return [...new Set([request.requester.id, ...listedMembers(roles, 'approver'), ...listedMembers(roles, 'operator')])];
}

export function registerReleaseRoutes(app: Application<TurnState>, deps: ReleaseRouteDeps) {
  const refreshUsers = (request: ReleaseRequest) => refreshUsersFor(request, deps.roles);

  const viewFor = (context: TurnContext, request: ReleaseRequest, version: number, message?: string) =>
    buildRequestCard(request, version, languageOf(context), {
      message,
      actions: deps.service.actions(request, callerFor(context)),
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
        ? t(lang, 'confirm.block', {
            count: request.scope.domains.length,
            direction: directionText(lang, request.direction),
          })
        : t(lang, sentToApprovers ? 'release.created_sent' : 'release.created_here');
    const ownCard = buildRequestCard(request, version, lang, {
      message: note,
      actions: deps.service.actions(request, callerFor(context)),
      refreshUserIds: refreshUsers(request),
    });
    if (viaInvoke) return ownCard;
    const res = await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(ownCard)));
    if (res?.id) await deps.cards.remember(request.id, here, res.id);
    return ownCard;
  }

  async function handleCreated(
    context: TurnContext,
    lang: Lang,
    outcome: RequestOutcome,
    viaInvoke: boolean,
  ): Promise<AdaptiveCardJson | null> {
    if (outcome.kind === 'created') return publish(context, lang, outcome, viaInvoke);
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
      const outcome = await deps.service.act(callerFor(context), parsed.data.requestId, parsed.data.version, verb, {
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
    const facts = await deps.service.confirmFacts(callerFor(context), parsed.data.requestId);
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
    const outcome = await deps.service.create(callerFor(context), { kind, scopeId, direction, reason: reason.trim() });
    deps.metrics.commands.inc({ command: kind, outcome: outcome.kind });
    return (await handleCreated(context, lang, outcome, true))!;
  });

  // ---- chat commands ---------------------------------------------------------------------------

  return {
    async handleCommand(context: TurnContext, command: ParsedCommand, lang: Lang): Promise<string> {
      const caller = callerFor(context);
      switch (command.kind) {
        case 'release':
        case 'block': {
          const outcome = await deps.service.requestFromWords(caller, command.kind, command.words);
          const card = await handleCreated(context, lang, outcome, false);
          if (outcome.kind !== 'created' && card) await reply(context, card);
          return outcome.kind;
        }
        case 'requests': {
          const open = await deps.service.listOpen(caller.tenantId);
          const lines = open.map(({ request }) =>
            t(lang, 'requests.line', {
              what: t(lang, request.kind === 'block' ? 'what.block' : 'what.release'),
              scope: scopeName(lang, request),
              direction: directionText(lang, request.direction),
              state: stateText(lang, request),
              requester: request.requester.name,
              time: formatTime(lang, request.createdAt),
            }),
          );
          const { renderCard } = await import('./render-card.ts');
          await reply(
            context,
            renderCard('list', {
              title: t(lang, 'requests.title'),
              empty: t(lang, 'requests.none'),
              lines,
              buttons: open.slice(0, 5).map(({ request, version }) => ({
                title: `${scopeName(lang, request)} · ${stateText(lang, request)}`.slice(0, 60),
                verb: 'request.view',
                data: { requestId: request.id, version },
              })),
            }),
          );
          return 'ok';
        }
        case 'audit': {
          const { renderAuditCard } = await import('./views/audit-card.ts');
          await reply(context, await renderAuditCard(deps, caller, command.scopeText, lang));
          return 'ok';
        }
        default:
          return 'unhandled';
      }
    },
  };
}

/**
 * The alert card's "Eingehend sperren": the same audited block path as `sperren`, answered with the
 * "Wirklich sperren?" card (confirm_block executes). Roles are checked by the release service.
 */
export async function requestBlockCard(
  deps: Pick<ReleaseRouteDeps, 'service'>,
  input: { caller: Caller; scopeId: string; direction: 'inbound' | 'outbound' | 'both'; reason: string; lang: Lang },
): Promise<AdaptiveCardJson> {
  const { lang } = input;
  const outcome = await deps.service.create(input.caller, {
    kind: 'block',
    scopeId: input.scopeId,
    direction: input.direction,
    reason: input.reason,
  });
  if (outcome.kind === 'created') {
    return buildRequestCard(outcome.request, outcome.version, lang, {
      message: t(lang, 'confirm.block', {
        count: outcome.request.scope.domains.length,
        direction: directionText(lang, outcome.request.direction),
      }),
      actions: deps.service.actions(outcome.request, input.caller),
    });
  }
  return buildNoticeCard(textOutcome(lang, outcome) ?? t(lang, 'error.generic'), { color: 'Attention' });
}

/**
 * Remembers where each request's cards are (conversation + activity id) and updates them all in
 * place after a transition. Updates of one request are coalesced: a 14-domain execution settles in
 * a burst, and Teams needs one edit, not fourteen.
 */
export interface RequestCardTracker {
  sender: ProactiveSender;
  remember(requestId: string, conversationId: string, activityId: string): Promise<void>;
  schedule(requestId: string): void;
  retrying(requestId: string): ReadonlySet<string>;
  markRetrying(requestId: string, domains: string[]): void;
  flush(): Promise<void>;
}

export function createRequestCardTracker(deps: {
  store: Store;
  sender: ProactiveSender;
  service: ReleaseService;
  roles: RolesConfig;
  logger: Logger;
  lang?: Lang;
  delayMs?: number;
}): RequestCardTracker {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  const retryingDomains = new Map<string, Set<string>>();
  const lang = deps.lang ?? 'de';

  async function update(requestId: string): Promise<void> {
    const current = await deps.service.get(requestId);
    if (!current) return;
    const users = refreshUsersFor(current.request, deps.roles);
    if (current.request.state !== 'executing') retryingDomains.delete(requestId);
    const card = buildRequestCard(current.request, current.version, lang, {
      refreshUserIds: users,
      retrying: retryingDomains.get(requestId),
    });
    for (const ref of await deps.store.listRequestCards(requestId)) {
      try {
        await deps.sender.update(ref.conversationId, ref.activityId, card);
      } catch (error) {
        deps.logger.warn('could not update a request card', {
          requestId,
          conversationId: ref.conversationId,
          err: describeError(error),
        });
      }
    }
  }

  return {
    sender: deps.sender,
    async remember(requestId, conversationId, activityId) {
      await deps.store.addRequestCard(requestId, { conversationId, activityId });
    },
    schedule(requestId) {
      if (timers.has(requestId)) return;
      const timer = setTimeout(() => {
        timers.delete(requestId);
        const p = update(requestId)
          .catch((error) => deps.logger.warn('card update failed', { requestId, err: describeError(error) }))
          .finally(() => running.delete(p));
        running.add(p);
      }, deps.delayMs ?? 150);
      timers.set(requestId, timer);
    },
    retrying(requestId) {
      return retryingDomains.get(requestId) ?? new Set();
    },
    markRetrying(requestId, domains) {
      const set = retryingDomains.get(requestId) ?? new Set<string>();
      for (const d of domains) set.add(d);
      retryingDomains.set(requestId, set);
    },
    async flush() {
      const pending = [...timers.keys()];
      for (const [id, timer] of timers) {
        clearTimeout(timer);
        timers.delete(id);
      }
      await Promise.allSettled([...pending.map((id) => update(id)), ...running]);
    },
  };
}
