import type { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import { z } from 'zod';
import type { Caller } from '../domain/caller.ts';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import { ALL_SCOPE_ID } from '../domain/scope-id.ts';
import type { AlertService } from '../services/manage-alerts.ts';
import type { CommandHandlers } from './command-handlers.ts';
import { formatFactor, formatTime, type Lang, placeName, t } from './i18n.ts';
import { mentionedPeople } from './mentioned-people.ts';
import type { AdaptiveCardJson } from './render-card.ts';
import { scopeIdSchema } from './scope-id-schema.ts';
import { callerOf, languageOf } from './turn-context-info.ts';
import { alertVerbs, buildAlertCard, buildAlertSubscriptionsCard, buildAlertWelcomeCard } from './views/alert-card.ts';
import { buildNoticeCard } from './views/notice-card.ts';
import { plainText } from './views/plain-text.ts';
import { buildScopeChoiceCard } from './views/scope-choice-card.ts';

// The alert commands (`alarme an|aus <scope>`, `alarme`, `alarm test`), the alert card's buttons and
// the greeting when the bot joins a team. Parse → call the alert service → render.
//
// Card buttons answer a refusal with a message, not a card: a card answer would replace the alert card
// the user clicked (teams-ai's actionExecute: a string becomes an invoke "message" response).

export interface BlockRequestInput {
  caller: Caller;
  conversationId: string;
  scopeId: string;
  // Exactly these domains (the alert's); absent: the whole scope ("Ganzen Kreis sperren").
  domains?: readonly string[];
  direction: 'inbound';
  reason: string;
  lang: Lang;
  // Posts the confirmation card as its own message; returns its activity id.
  post: (card: AdaptiveCardJson) => Promise<string | undefined>;
}

export interface AlertRoutesDeps {
  service: AlertService;
  // The audited block path: posts the "Wirklich sperren?" card as its own message (the alert stays).
  requestBlock: (
    input: BlockRequestInput,
  ) => Promise<{ posted: true; count: number } | { posted: false; text: string }>;
  logger: Logger;
  metrics?: { cardActions: { inc(labels: { verb: string; outcome: string }): void } };
}

export interface AlertRoutes {
  commands: Pick<CommandHandlers, 'alerts_list' | 'alerts_subscribe' | 'alerts_unsubscribe' | 'alert_test'>;
}

// Card data carries ids only (docs/decisions/identity-from-teams.md); anything more or else is refused.
const alertId = z
  .string()
  .max(400)
  .regex(/^(spike|test):[A-Za-z0-9.:_-]+$/);
const alertData = z.object({ alertId }).strict();
const muteData = z.object({ alertId, hours: z.union([z.literal(1), z.literal(4)]) }).strict();
const scopeData = z.object({ scopeId: scopeIdSchema }).strict();

function scopeName(lang: Lang, scope: { id: string; name: string }): string {
  return scope.id === ALL_SCOPE_ID ? t(lang, 'alerts.all_regions') : plainText(scope.name);
}

async function sendCard(context: TurnContext, card: AdaptiveCardJson): Promise<void> {
  await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
}

export function registerAlertRoutes(app: Application<TurnState>, deps: AlertRoutesDeps): AlertRoutes {
  const { service } = deps;
  const count = (verb: string, outcome: string) => deps.metrics?.cardActions.inc({ verb, outcome });
  const forbidden = (lang: Lang, role: string) =>
    t(lang, role === 'operator' ? 'alerts.forbidden_operator' : 'alerts.forbidden_viewer');

  const commands: AlertRoutes['commands'] = {
    async alerts_list(context, _command, lang) {
      const caller = callerOf(context);
      const entries = await service.list(caller.conversationKey);
      await sendCard(
        context,
        buildAlertSubscriptionsCard(
          lang,
          entries.map((e) => ({ ...e, name: scopeName(lang, { id: e.scopeId, name: e.name }) })),
          placeName(lang, caller.conversationType),
        ),
      );
      return entries.length === 0 ? 'empty' : 'ok';
    },

    async alerts_subscribe(context, command, lang) {
      const caller = callerOf(context);
      // People named with @ are checked before anything is stored: one stranger refuses the whole command.
      const mentions = await mentionedPeople(context);
      if (mentions.kind === 'outside') {
        await sendCard(
          context,
          buildNoticeCard(t(lang, 'alerts.mention_outside', { names: plainText(mentions.names.join(', ')) }), {
            color: 'Attention',
          }),
        );
        return 'mention_outside';
      }
      const r = await service.subscribe(
        caller.conversationKey,
        command.scopeText,
        caller,
        mentions.kind === 'ok' ? mentions.people : undefined,
        lang,
      );
      switch (r.kind) {
        case 'subscribed':
        case 'already':
          await sendCard(
            context,
            buildNoticeCard(
              [
                t(lang, r.kind === 'subscribed' ? 'alerts.subscribed' : 'alerts.already', {
                  scope: scopeName(lang, r.scope),
                  here: placeName(lang, caller.conversationType),
                }),
                ...(mentions.kind === 'ok'
                  ? [
                      t(lang, 'alerts.mentions_stored', {
                        names: plainText(mentions.people.map((p) => p.name).join(', ')),
                      }),
                    ]
                  : []),
              ].join(' '),
              { color: 'Good' },
            ),
          );
          return r.kind;
        case 'missing':
          await sendCard(context, buildNoticeCard(t(lang, 'alerts.scope_missing')));
          return 'missing';
        case 'ambiguous':
        case 'unknown':
          await sendCard(context, buildScopeChoiceCard(lang, r.input, r.kind, r.nodes, alertVerbs.subscribe));
          return r.kind;
        case 'forbidden':
          await sendCard(context, buildNoticeCard(forbidden(lang, r.role), { color: 'Attention' }));
          return 'forbidden';
      }
    },

    async alerts_unsubscribe(context, command, lang) {
      const caller = callerOf(context);
      const r = await service.unsubscribe(caller.conversationKey, command.scopeText, caller);
      switch (r.kind) {
        case 'unsubscribed':
        case 'not_subscribed':
          await sendCard(
            context,
            buildNoticeCard(
              t(lang, r.kind === 'unsubscribed' ? 'alerts.unsubscribed' : 'alerts.not_subscribed', {
                scope: scopeName(lang, r.scope),
                here: placeName(lang, caller.conversationType),
              }),
            ),
          );
          return r.kind;
        case 'all':
          await sendCard(
            context,
            buildNoticeCard(
              t(lang, r.count > 0 ? 'alerts.unsubscribed_all' : 'alerts.none_to_remove', {
                count: r.count,
                here: placeName(lang, caller.conversationType),
              }),
            ),
          );
          return 'all';
        case 'ambiguous':
        case 'unknown':
          await sendCard(context, buildScopeChoiceCard(lang, r.input, r.kind, r.nodes, alertVerbs.unsubscribe));
          return r.kind;
        case 'forbidden':
          await sendCard(context, buildNoticeCard(forbidden(lang, r.role), { color: 'Attention' }));
          return 'forbidden';
      }
    },

    async alert_test(context, _command, lang) {
      const caller = callerOf(context);
      const r = await service.sendTest(caller.conversationKey, caller, {
        lang,
        fallbackName: t(lang, 'alerts.all_regions'),
      });
      // Sent: the test card itself is the answer.
      if (r.kind === 'failed') {
        const here = placeName(lang, caller.conversationType);
        await sendCard(context, buildNoticeCard(t(lang, 'alerts.test_failed', { here }), { color: 'Attention' }));
      } else if (r.kind === 'forbidden') {
        await sendCard(context, buildNoticeCard(forbidden(lang, r.role), { color: 'Attention' }));
      }
      return r.kind;
    },
  };

  // Wraps a card action: parses the data, counts the outcome, turns failures into one plain sentence.
  function action<T>(
    verb: string,
    schema: z.ZodType<T>,
    run: (context: TurnContext, data: T, lang: Lang) => Promise<{ outcome: string; answer: AdaptiveCardJson | string }>,
  ) {
    app.adaptiveCards.actionExecute(verb, async (context, _state, raw: unknown) => {
      const lang = languageOf(context);
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        count(verb, 'bad_data');
        return t(lang, 'error.bad_card_data');
      }
      try {
        const { outcome, answer } = await run(context, parsed.data, lang);
        count(verb, outcome);
        return answer as never;
      } catch (error) {
        count(verb, 'error');
        deps.logger.error('alert card action failed', { verb, err: describeError(error) });
        return t(lang, 'error.generic');
      }
    });
  }

  action(alertVerbs.ack, alertData, async (context, data, lang) => {
    const caller = callerOf(context);
    const r = await service.acknowledge(data.alertId, caller.conversationKey, caller);
    if (r.kind === 'forbidden') return { outcome: 'forbidden', answer: forbidden(lang, r.role) };
    if (r.kind === 'not_found')
      return {
        outcome: 'not_found',
        answer: t(lang, 'alerts.not_found', { here: placeName(lang, caller.conversationType) }),
      };
    // The card's own language, as every other copy shows it.
    return { outcome: r.first ? 'ok' : 'repeat', answer: buildAlertCard(r.view, r.view.lang) };
  });

  action(alertVerbs.mute, muteData, async (context, data, lang) => {
    const caller = callerOf(context);
    const r = await service.mute(data.alertId, caller.conversationKey, data.hours, caller);
    if (r.kind === 'forbidden') return { outcome: 'forbidden', answer: forbidden(lang, r.role) };
    if (r.kind === 'not_found')
      return {
        outcome: 'not_found',
        answer: t(lang, 'alerts.not_found', { here: placeName(lang, caller.conversationType) }),
      };
    return { outcome: 'ok', answer: buildAlertCard(r.view, r.view.lang) };
  });

  // "Eingehend sperren" blocks exactly the alert's domains; "Ganzen Kreis sperren" the alert's whole
  // region. Either way the confirmation is its own card and the alert card stays as it was.
  const block = (whole: boolean) => async (context: TurnContext, data: z.infer<typeof alertData>, lang: Lang) => {
    const caller = callerOf(context);
    const r = await service.prepareBlock(data.alertId, caller.conversationKey, caller);
    if (r.kind === 'forbidden') return { outcome: 'forbidden', answer: forbidden(lang, r.role) };
    if (r.kind === 'not_found')
      return {
        outcome: 'not_found',
        answer: t(lang, 'alerts.not_found', { here: placeName(lang, caller.conversationType) }),
      };
    if (r.kind === 'test') return { outcome: 'test', answer: t(lang, 'alerts.test_no_block') };
    const reason = blockReasonOf(lang, r.view);
    if (whole && r.view.scope.kind !== 'group') return { outcome: 'bad_data', answer: t(lang, 'error.bad_card_data') };
    try {
      const result = await deps.requestBlock({
        caller,
        conversationId: caller.conversationKey,
        scopeId: whole ? r.view.group.id : r.scopeId,
        ...(whole ? {} : { domains: r.view.domains }),
        direction: 'inbound',
        reason,
        lang,
        post: async (card) =>
          (await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card))))?.id,
      });
      if (!result.posted) return { outcome: 'refused', answer: result.text };
      return { outcome: 'confirm', answer: buildAlertCard(r.view, r.view.lang) };
    } catch (error) {
      deps.logger.warn('block from an alert card failed', { alertId: data.alertId, err: describeError(error) });
      return {
        outcome: 'block_failed',
        answer: t(lang, 'alerts.block_unavailable', { scope: plainText(r.view.scope.name) }),
      };
    }
  };
  action(alertVerbs.block, alertData, block(false));
  action(alertVerbs.blockGroup, alertData, block(true));

  action(alertVerbs.subscribe, scopeData, async (context, data, lang) => {
    const caller = callerOf(context);
    const r = await service.subscribeById(caller.conversationKey, data.scopeId, caller, lang);
    if (r.kind === 'forbidden') return { outcome: 'forbidden', answer: forbidden(lang, r.role) };
    if (r.kind === 'subscribed' || r.kind === 'already') {
      const key = r.kind === 'subscribed' ? 'alerts.subscribed' : 'alerts.already';
      const here = placeName(lang, caller.conversationType);
      return {
        outcome: r.kind,
        answer: buildNoticeCard(t(lang, key, { scope: scopeName(lang, r.scope), here }), { color: 'Good' }),
      };
    }
    return { outcome: 'unknown', answer: t(lang, 'error.bad_card_data') };
  });

  action(alertVerbs.unsubscribe, scopeData, async (context, data, lang) => {
    const caller = callerOf(context);
    const r = await service.unsubscribeById(caller.conversationKey, data.scopeId, caller);
    if (r.kind === 'forbidden') return { outcome: 'forbidden', answer: forbidden(lang, r.role) };
    if (r.kind === 'unsubscribed' || r.kind === 'not_subscribed') {
      const key = r.kind === 'unsubscribed' ? 'alerts.unsubscribed' : 'alerts.not_subscribed';
      const here = placeName(lang, caller.conversationType);
      return { outcome: r.kind, answer: buildNoticeCard(t(lang, key, { scope: scopeName(lang, r.scope), here })) };
    }
    return { outcome: 'unknown', answer: t(lang, 'error.bad_card_data') };
  });

  // Installed into a team: offer the alerts once, in the team's General channel.
  app.conversationUpdate('membersAdded', async (context) => {
    const activity = context.activity;
    const botId = activity.recipient?.id;
    const botAdded = (activity.membersAdded ?? []).some((m) => m.id === botId);
    const team = (activity.channelData as { team?: { id?: unknown } } | undefined)?.team;
    if (!botAdded || !team) return;
    const lang = languageOf(context);
    let scopes: Array<{ id: string; name: string }> = [];
    try {
      scopes = await service.topScopes();
    } catch (error) {
      deps.logger.warn('regions unavailable for the greeting; greeting without buttons', { err: describeError(error) });
    }
    await sendCard(context, buildAlertWelcomeCard(lang, scopes));
  });

  return { commands };
}

// The reason the block carries into the gateway and the audit log.
function blockReasonOf(lang: Lang, view: { scope: { name: string }; startedAt: string; peakFactor: number }): string {
  return t(lang, 'alert.block_reason', {
    scope: view.scope.name,
    since: formatTime(lang, view.startedAt),
    factor: formatFactor(lang, view.peakFactor),
  });
}
