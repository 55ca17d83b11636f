import { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TeamsAdapter } from '@microsoft/teams-ai/lib/TeamsAdapter.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { ActivityTypes, CardFactory, MessageFactory, type Storage, TurnContext } from 'botbuilder';
import { z } from 'zod';
import type { Metrics } from '../adapters/metrics.ts';
import { proactiveReference } from '../domain/conversation-id.ts';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { Store } from '../domain/store-port.ts';
import type { DailyReports } from '../services/daily-report.ts';
import type { AlertService } from '../services/manage-alerts.ts';
import type { AuditLogReader } from '../services/read-audit-log.ts';
import type { StatusResult, StatusService } from '../services/report-status.ts';
import { createUserRateLimiter } from '../services/user-rate-limiter.ts';
import { registerAlertRoutes } from './alert-routes.ts';
import { type CommandHandlers, dispatchCommand } from './command-handlers.ts';
import { MAX_COMMAND_LENGTH, parseCommand } from './command-parser.ts';
import { type Lang, t } from './i18n.ts';
import { type ReleaseRouteDeps, registerReleaseRoutes, requestBlockCard } from './release-routes.ts';
import type { AdaptiveCardJson } from './render-card.ts';
import { reportCommands } from './report-routes.ts';
import { scopeIdSchema } from './scope-id-schema.ts';
import { callerOf, languageOf } from './turn-context-info.ts';
import { AUDIT_MORE_VERB, buildAuditCard } from './views/audit-card.ts';
import { buildHelpCard } from './views/help-card.ts';
import { buildNoticeCard } from './views/notice-card.ts';
import { buildScopeChoiceCard } from './views/scope-choice-card.ts';
import { buildStatusCard } from './views/status-card.ts';

// The teams-ai Application: routes parse the activity, call a service, render a card. No business
// decisions here (docs/architecture.md, "Layers").

export interface TeamsAppDeps {
  adapter: TeamsAdapter;
  storage?: Storage;
  logger: Logger;
  metrics: Metrics;
  status: StatusService;
  audit: AuditLogReader;
  store: Pick<Store, 'upsertConversation' | 'notePerson'>;
  allowedTenants: string[];
  now: () => Date;
  release: ReleaseRouteDeps;
  alerts: AlertService;
  reports: DailyReports;
  userRateLimit?: { capacity: number; refillPerSecond: number };
  /** auto: from the client's locale; de/en: fixed (BOT_LANGUAGE). */
  language?: 'auto' | 'de' | 'en';
}

// Card data carries ids only and is parsed; anything else is refused (docs/decisions/identity-from-teams.md).
const auditMoreData = z.object({
  scopeId: scopeIdSchema.optional(),
  olderThan: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
const scopeData = z.object({
  scopeId: scopeIdSchema,
});

export function createTeamsApp(deps: TeamsAppDeps): Application<TurnState> {
  const app = new Application<TurnState>({
    adapter: deps.adapter,
    storage: deps.storage,
    removeRecipientMention: true,
    startTypingTimer: false,
  });

  // Tenant gate: activities from a tenant that is not allowed get no answer with content.
  const limiter = createUserRateLimiter(deps.userRateLimit);
  const remembered = new Map<string, { at: number; fingerprint: string }>();
  app.turn('beforeTurn', async (context) => {
    const caller = callerOf(context);
    if (deps.allowedTenants.length > 0 && (!caller.tenantId || !deps.allowedTenants.includes(caller.tenantId))) {
      deps.logger.warn('activity from a tenant that is not allowed', {
        activityId: context.activity.id,
        tenantId: caller.tenantId,
      });
      return false;
    }
    if (deps.language && deps.language !== 'auto') {
      // A fixed language overrides what the client says (the Playground always says en-US).
      context.activity.locale = deps.language === 'de' ? 'de-DE' : 'en-US';
      context.activity.entities = (context.activity.entities ?? []).filter((e) => e.type !== 'clientInfo');
    }
    await rememberConversation(context, deps, remembered);
    await rememberPerson(context, deps, remembered);
    const type = context.activity.type;
    if (type === ActivityTypes.Message || type === ActivityTypes.Invoke) {
      const decision = limiter.check(caller.aadObjectId ?? caller.userId);
      if (!decision.allowed) {
        deps.metrics.commands.inc({ command: type, outcome: 'rate_limited' });
        const text = t(languageOf(context), 'error.rate_limited', { seconds: decision.waitSeconds });
        if (type === ActivityTypes.Invoke) {
          // An invoke must be answered with an invoke response, or Teams shows an error on the card. The
          // notice rides on the HTTP answer to the click, so it is no post of ours and is always given.
          await context.sendActivity({
            type: ActivityTypes.InvokeResponse,
            value: {
              status: 200,
              body: {
                statusCode: 200,
                type: 'application/vnd.microsoft.card.adaptive',
                value: buildNoticeCard(text, { color: 'Warning' }),
              },
            },
          });
        } else if (decision.notify) {
          await context.sendActivity(text);
        } else {
          deps.metrics.rateLimitDropped.inc({ kind: 'message' });
        }
        return false;
      }
    }
    return true;
  });

  const release = registerReleaseRoutes(app, deps.release);
  const alerts = registerAlertRoutes(app, {
    service: deps.alerts,
    requestBlock: (input) => requestBlockCard(deps.release, input),
    logger: deps.logger,
    metrics: deps.metrics,
  });

  // Every command kind has its handler here; the type makes a missing one a compile error.
  const handlers: CommandHandlers = {
    async help(context, _command, lang) {
      await sendCard(context, buildHelpCard(lang));
      return 'ok';
    },
    async status(context, command, lang) {
      const result = await deps.status.report(command.scopeText);
      await sendCard(context, statusResultCard(result, lang, command.scopeText));
      return result.kind;
    },
    async audit(context, command, lang) {
      await sendCard(
        context,
        buildAuditCard(lang, await deps.audit.latest(callerOf(context).tenantId, command.scopeText)),
      );
      return 'ok';
    },
    async too_long(context, _command, lang) {
      await context.sendActivity(t(lang, 'error.too_long', { max: MAX_COMMAND_LENGTH }));
      return 'too_long';
    },
    async unknown(context, command, lang) {
      await sendCard(context, buildHelpCard(lang, command.word));
      return 'unknown';
    },
    ...release.commands,
    ...alerts.commands,
    ...reportCommands(deps.reports),
  };

  app.activity(ActivityTypes.Message, async (context) => {
    const started = performance.now();
    const command = parseCommand(String(context.activity.text ?? ''));
    let outcome = 'error';
    try {
      outcome = await dispatchCommand(handlers, context, command, languageOf(context));
    } finally {
      deps.metrics.commands.inc({ command: command.kind, outcome });
      deps.metrics.replyLatency.observe({ kind: 'message' }, (performance.now() - started) / 1000);
    }
  });

  const showStatus = async (context: TurnContext, _state: TurnState, data: unknown): Promise<AdaptiveCardJson> => {
    const lang = languageOf(context);
    const verb = String((context.activity.value as { action?: { verb?: unknown } } | undefined)?.action?.verb ?? '');
    const parsed = scopeData.safeParse(data);
    if (!parsed.success) {
      deps.metrics.cardActions.inc({ verb, outcome: 'bad_data' });
      return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
    }
    const result = await deps.status.reportById(parsed.data.scopeId);
    deps.metrics.cardActions.inc({ verb, outcome: result.kind });
    return statusResultCard(result, lang, parsed.data.scopeId);
  };
  app.adaptiveCards.actionExecute('status.refresh', showStatus);
  app.adaptiveCards.actionExecute('status.show', showStatus);

  // *Mehr* on the protokoll card: the next older page in place of this one.
  app.adaptiveCards.actionExecute(AUDIT_MORE_VERB, async (context, _state, data) => {
    const lang = languageOf(context);
    const parsed = auditMoreData.safeParse(data);
    if (!parsed.success) {
      deps.metrics.cardActions.inc({ verb: AUDIT_MORE_VERB, outcome: 'bad_data' });
      return buildNoticeCard(t(lang, 'error.bad_card_data'), { color: 'Attention' });
    }
    const { scopeId, olderThan } = parsed.data;
    const result = await deps.audit.older(callerOf(context).tenantId, scopeId ?? null, olderThan);
    deps.metrics.cardActions.inc({ verb: AUDIT_MORE_VERB, outcome: result.kind });
    return buildAuditCard(lang, result, true);
  });

  app.error(async (context, error) => {
    deps.logger.error('turn failed', { activityId: context.activity?.id, err: describeError(error) });
    // One plain sentence; never a stack trace in the chat. A card action must get an invoke response
    // (else botbuilder answers 501 and Teams shows a failed action): the sentence goes on the card.
    try {
      const text = t(languageOf(context), 'error.generic');
      if (context.activity?.type === ActivityTypes.Invoke) {
        await context.sendActivity({
          type: ActivityTypes.InvokeResponse,
          value: {
            status: 200,
            body: {
              statusCode: 200,
              type: 'application/vnd.microsoft.card.adaptive',
              value: buildNoticeCard(text, { color: 'Attention' }),
            },
          },
        });
        return;
      }
      await context.sendActivity(text);
    } catch (sendError) {
      deps.logger.warn('could not tell the user about the error', { err: describeError(sendError) });
    }
  });

  return app;
}

// Proactive messages (approval cards, alerts) need the conversation's reference: it is stored on
// every activity, so installing the bot or speaking to it once is enough.
// An unchanged reference is not written again on every turn: each write is an fsync on SQLite, and
// bench/release measured it on the click path. `remembered` is per app (one store), conversation →
// when and what was written.
const REMEMBER_AGAIN_MS = 3_600_000;

/**
 * Who wrote, for the names in mentions and — in a 1:1 chat — where an escalation can reach them
 * (docs/decisions/nudges.md). Throttled like the conversation: once an hour unless something changed.
 */
async function rememberPerson(
  context: TurnContext,
  deps: TeamsAppDeps,
  remembered: Map<string, { at: number; fingerprint: string }>,
): Promise<void> {
  const caller = callerOf(context);
  if (!caller.aadObjectId || !caller.tenantId || !caller.name) return;
  const personal = caller.conversationType === 'personal' ? caller.conversationKey : null;
  const key = `person:${caller.aadObjectId}`;
  const fingerprint = JSON.stringify([caller.tenantId, caller.userId, caller.name, personal]);
  const now = deps.now().getTime();
  const seen = remembered.get(key);
  // A turn elsewhere keeps the stored 1:1 conversation, so only a new one, a new name or the hour counts.
  if (seen && (seen.fingerprint === fingerprint || personal === null) && now - seen.at < REMEMBER_AGAIN_MS) return;
  try {
    await deps.store.notePerson({
      aadObjectId: caller.aadObjectId,
      tenantId: caller.tenantId,
      userId: caller.userId,
      name: caller.name,
      personalConversationId: personal,
      seenAt: deps.now().toISOString(),
    });
    remembered.set(key, { at: now, fingerprint });
  } catch (error) {
    deps.logger.warn('could not remember who wrote', { err: describeError(error) });
  }
}

async function rememberConversation(
  context: TurnContext,
  deps: TeamsAppDeps,
  remembered: Map<string, { at: number; fingerprint: string }>,
): Promise<void> {
  const caller = callerOf(context);
  const a = context.activity;
  if (!caller.conversationId || !caller.tenantId || typeof a.serviceUrl !== 'string' || !a.serviceUrl) return;
  const channelData = (a.channelData ?? {}) as {
    team?: { id?: unknown; name?: unknown };
    channel?: { name?: unknown };
  };
  // Stored under the conversation the bot addresses on its own: in a channel the channel, not the
  // thread this message was in, and without the message it answered, so proactive cards are new posts.
  const reference = proactiveReference(TurnContext.getConversationReference(a), caller.conversationKey);
  const fingerprint = JSON.stringify([
    caller.tenantId,
    a.serviceUrl,
    reference.conversation,
    reference.bot,
    channelData,
  ]);
  const now = deps.now().getTime();
  const seen = remembered.get(caller.conversationKey);
  if (seen && seen.fingerprint === fingerprint && now - seen.at < REMEMBER_AGAIN_MS) return;
  try {
    await deps.store.upsertConversation({
      conversationId: caller.conversationKey,
      tenantId: caller.tenantId,
      serviceUrl: a.serviceUrl,
      kind: caller.conversationType,
      teamId: typeof channelData.team?.id === 'string' ? channelData.team.id : null,
      name:
        typeof channelData.channel?.name === 'string'
          ? channelData.channel.name
          : typeof a.conversation?.name === 'string'
            ? a.conversation.name
            : null,
      reference,
      updatedAt: deps.now().toISOString(),
    });
    if (remembered.size > 50_000) remembered.clear();
    remembered.set(caller.conversationKey, { at: now, fingerprint });
  } catch (error) {
    // Answering the user matters more than remembering the conversation; the next turn tries again.
    deps.logger.warn('could not store the conversation reference', { err: describeError(error) });
  }
}

export function statusResultCard(result: StatusResult, lang: Lang, input: string): AdaptiveCardJson {
  switch (result.kind) {
    case 'ok':
      return buildStatusCard(result.view, lang);
    case 'ambiguous':
      return buildScopeChoiceCard(lang, input, 'ambiguous', result.candidates);
    case 'unknown':
      return buildScopeChoiceCard(lang, input, 'unknown', result.suggestions);
    case 'unavailable':
      return buildNoticeCard(t(lang, 'error.inventory_down'), { color: 'Attention' });
  }
}

async function sendCard(context: TurnContext, card: AdaptiveCardJson): Promise<void> {
  await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
}
