import type { Caller } from '../domain/caller.ts';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import {
  choicesOf,
  type RegionChoice,
  type RegionIndex,
  resolveScope,
  resolveScopeId,
} from '../domain/region-index.ts';
import type { Role } from '../domain/release-request.ts';
import { hasRole, type RolesConfig } from '../domain/roles.ts';
import { type Scope, sameScopeId, scopeIdOf, scopeNameOf } from '../domain/scope-id.ts';
import type { MentionedPerson, Store, StoredAlert } from '../domain/store-port.ts';
import { type AlertLang, type AlertView, parseAlertData } from './alert-data.ts';
import type { AlertDelivery } from './deliver-alerts.ts';

// Use cases behind the alert commands and card buttons: subscribe, unsubscribe, list, acknowledge,
// mute, prepare a block, send a test. Roles are checked here, on the server, from the caller's
// aadObjectId (never from card data). Who may do what:
// - viewer: subscribe or unsubscribe a chat, list, mute a scope in the chat (it only affects that chat)
// - operator: acknowledge (docs/decisions/spam-alerts.md), block inbound, `alarm test`
// Buttons act only on alerts that were delivered to the chat they are clicked in.

export interface NamedScope {
  // A scope id (src/domain/scope-id.ts).
  id: string;
  // '' for all (the caller names it in its language).
  name: string;
}

type Forbidden = { kind: 'forbidden'; role: Role };
type Choice = { kind: 'ambiguous' | 'unknown'; input: string; nodes: RegionChoice[] };

export type SubscribeResult =
  | { kind: 'subscribed' | 'already'; scope: NamedScope }
  | { kind: 'missing' }
  | Choice
  | Forbidden;
export type UnsubscribeResult =
  | { kind: 'unsubscribed' | 'not_subscribed'; scope: NamedScope }
  | { kind: 'all'; count: number }
  | Choice
  | Forbidden;
export interface SubscriptionEntry {
  scopeId: string;
  name: string;
  createdAt: string;
  mutedUntil: string | null;
  mentions: MentionedPerson[];
}
export type AlertActionResult = { kind: 'ok'; view: AlertView; first: boolean } | { kind: 'not_found' } | Forbidden;
export type BlockPreparation =
  | { kind: 'ok'; scopeId: string; view: AlertView }
  | { kind: 'test' }
  | { kind: 'not_found' }
  | Forbidden;
export type TestResult = { kind: 'sent'; alertId: string } | { kind: 'failed' } | Forbidden;

export interface AlertServiceDeps {
  store: Store;
  delivery: AlertDelivery;
  regions: () => Promise<RegionIndex>;
  roles: RolesConfig;
  now: () => Date;
  logger: Logger;
}

export interface AlertService {
  /**
   * mentions: the people to @mention on this subscription's alerts; undefined keeps the stored ones.
   * lang: the subscribing client's language, which the conversation's alert cards then use.
   */
  subscribe(
    conversationId: string,
    scopeText: string,
    actor: Caller,
    mentions?: MentionedPerson[],
    lang?: AlertLang,
  ): Promise<SubscribeResult>;
  subscribeById(conversationId: string, scopeId: string, actor: Caller, lang?: AlertLang): Promise<SubscribeResult>;
  unsubscribe(conversationId: string, scopeText: string, actor: Caller): Promise<UnsubscribeResult>;
  unsubscribeById(conversationId: string, scopeId: string, actor: Caller): Promise<UnsubscribeResult>;
  list(conversationId: string): Promise<SubscriptionEntry[]>;
  acknowledge(alertId: string, conversationId: string, actor: Caller): Promise<AlertActionResult>;
  mute(alertId: string, conversationId: string, hours: 1 | 4, actor: Caller): Promise<AlertActionResult>;
  prepareBlock(alertId: string, conversationId: string, actor: Caller): Promise<BlockPreparation>;
  sendTest(
    conversationId: string,
    actor: Caller,
    options: { lang: AlertLang; fallbackName: string },
  ): Promise<TestResult>;
  // Top-level regions for the greeting's buttons.
  topScopes(): Promise<NamedScope[]>;
}

export function createAlertService(deps: AlertServiceDeps): AlertService {
  const { store } = deps;
  const nowIso = () => deps.now().toISOString();
  const allowed = (actor: Caller, role: Role) => hasRole(deps.roles, actor.aadObjectId, role);
  const actorId = (actor: Caller) => actor.aadObjectId ?? actor.userId;

  function named(scope: Scope): NamedScope {
    return { id: scopeIdOf(scope), name: scope.kind === 'all' ? '' : scopeNameOf(scope) };
  }

  function scopeById(index: RegionIndex, id: string): NamedScope | null {
    const scope = resolveScopeId(index, id);
    return scope ? named(scope) : null;
  }

  async function resolveText(text: string): Promise<{ scope: NamedScope } | Choice | { kind: 'missing' }> {
    // resolveScope reads an empty scope as "all"; a subscription to everything must be asked for.
    if (text.trim() === '') return { kind: 'missing' };
    const index = await deps.regions();
    const r = resolveScope(index, text);
    switch (r.kind) {
      case 'ambiguous':
        return { kind: 'ambiguous', input: text, nodes: choicesOf(index, r.candidates) };
      case 'unknown':
        return { kind: 'unknown', input: text, nodes: choicesOf(index, r.suggestions) };
      default:
        return { scope: named(r) };
    }
  }

  async function audit(
    actor: Caller,
    action: string,
    scopeId: string,
    details: Record<string, unknown>,
    requestId?: string,
  ) {
    await store.appendAudit([
      {
        at: nowIso(),
        actor: actorId(actor),
        action,
        tenantId: actor.tenantId,
        scopeId,
        requestId: requestId ?? null,
        details: { name: actor.name, ...details },
      },
    ]);
  }

  async function doSubscribe(
    conversationId: string,
    scope: NamedScope,
    actor: Caller,
    mentions: MentionedPerson[] | undefined,
    lang: AlertLang,
  ): Promise<SubscribeResult> {
    const added = await store.subscribe(conversationId, scope.id, nowIso(), lang);
    if (added) await audit(actor, 'alert.subscribe', scope.id, { conversationId });
    if (mentions !== undefined) {
      await store.setSubscriptionMentions(conversationId, scope.id, mentions);
      await audit(actor, 'alert.mentions', scope.id, { conversationId, mentions });
    }
    return { kind: added ? 'subscribed' : 'already', scope };
  }

  async function doUnsubscribe(conversationId: string, scope: NamedScope, actor: Caller): Promise<UnsubscribeResult> {
    const removed = await store.unsubscribe(conversationId, scope.id);
    if (removed > 0) await audit(actor, 'alert.unsubscribe', scope.id, { conversationId });
    return { kind: removed > 0 ? 'unsubscribed' : 'not_subscribed', scope };
  }

  // The alert, if it was delivered to this conversation: a button can only act where its card is.
  async function alertIn(alertId: string, conversationId: string): Promise<StoredAlert | null> {
    const deliveries = await store.listDeliveries({ alertId });
    if (!deliveries.some((d) => d.conversationId === conversationId)) return null;
    return store.getAlert(alertId);
  }

  async function viewOrNotFound(alertId: string, conversationId: string, first: boolean): Promise<AlertActionResult> {
    const view = await deps.delivery.viewFor(alertId, conversationId);
    return view ? { kind: 'ok', view, first } : { kind: 'not_found' };
  }

  return {
    async subscribe(conversationId, scopeText, actor, mentions, lang = 'de') {
      if (!allowed(actor, 'viewer')) return { kind: 'forbidden', role: 'viewer' };
      const r = await resolveText(scopeText);
      return 'scope' in r ? doSubscribe(conversationId, r.scope, actor, mentions, lang) : r;
    },

    async subscribeById(conversationId, scopeId, actor, lang = 'de') {
      if (!allowed(actor, 'viewer')) return { kind: 'forbidden', role: 'viewer' };
      const scope = scopeById(await deps.regions(), scopeId);
      if (!scope) return { kind: 'unknown', input: scopeId, nodes: [] };
      return doSubscribe(conversationId, scope, actor, undefined, lang);
    },

    async unsubscribe(conversationId, scopeText, actor) {
      if (!allowed(actor, 'viewer')) return { kind: 'forbidden', role: 'viewer' };
      if (scopeText.trim() === '') {
        const subs = await store.listSubscriptions(conversationId);
        const count = await store.unsubscribe(conversationId);
        for (const s of subs) await audit(actor, 'alert.unsubscribe', s.scopeId, { conversationId });
        return { kind: 'all', count };
      }
      const r = await resolveText(scopeText);
      if ('scope' in r) return doUnsubscribe(conversationId, r.scope, actor);
      return r.kind === 'missing' ? { kind: 'all', count: 0 } : r;
    },

    async unsubscribeById(conversationId, scopeId, actor) {
      if (!allowed(actor, 'viewer')) return { kind: 'forbidden', role: 'viewer' };
      const scope = scopeById(await deps.regions(), scopeId);
      // A subscription to a scope that has since left the inventory can still be removed.
      return doUnsubscribe(conversationId, scope ?? { id: scopeId, name: scopeId }, actor);
    },

    async list(conversationId) {
      const [subs, mutes] = await Promise.all([
        store.listSubscriptions(conversationId),
        store.listMutes(conversationId),
      ]);
      let index: RegionIndex | null = null;
      try {
        index = await deps.regions();
      } catch (error) {
        deps.logger.warn('region list unavailable; listing subscriptions by id', { err: describeError(error) });
      }
      const now = nowIso();
      return subs.map((s) => {
        const mute = mutes.find((m) => sameScopeId(m.scopeId, s.scopeId) && m.until > now);
        const name = index ? (scopeById(index, s.scopeId)?.name ?? s.scopeId) : s.scopeId;
        return {
          scopeId: s.scopeId,
          name,
          createdAt: s.createdAt,
          mutedUntil: mute?.until ?? null,
          mentions: s.mentions,
        };
      });
    },

    async acknowledge(alertId, conversationId, actor) {
      if (!allowed(actor, 'operator')) return { kind: 'forbidden', role: 'operator' };
      const alert = await alertIn(alertId, conversationId);
      if (!alert) return { kind: 'not_found' };
      const { first } = await store.acknowledgeAlert(alertId, actorId(actor), nowIso());
      if (first) {
        await audit(actor, 'alert.ack', alert.scopeId, { conversationId }, alertId);
        // Everybody sees who acknowledged: every delivered copy, in every chat.
        await deps.delivery.refreshCopies(alertId);
      }
      return viewOrNotFound(alertId, conversationId, first);
    },

    async mute(alertId, conversationId, hours, actor) {
      if (!allowed(actor, 'viewer')) return { kind: 'forbidden', role: 'viewer' };
      const alert = await alertIn(alertId, conversationId);
      if (!alert) return { kind: 'not_found' };
      const until = new Date(deps.now().getTime() + hours * 3_600_000).toISOString();
      await store.muteScope(conversationId, alert.scopeId, until);
      await audit(actor, 'alert.mute', alert.scopeId, { conversationId, hours, until }, alertId);
      // The mute is this chat's: only its copy changes (for the others in the channel too).
      await deps.delivery.refreshCopies(alertId, conversationId);
      return viewOrNotFound(alertId, conversationId, true);
    },

    async prepareBlock(alertId, conversationId, actor) {
      if (!allowed(actor, 'operator')) return { kind: 'forbidden', role: 'operator' };
      const alert = await alertIn(alertId, conversationId);
      if (!alert) return { kind: 'not_found' };
      if (parseAlertData(alert.data)?.kind === 'test') return { kind: 'test' };
      const view = await deps.delivery.viewFor(alertId, conversationId);
      return view ? { kind: 'ok', scopeId: alert.scopeId, view } : { kind: 'not_found' };
    },

    async sendTest(conversationId, actor, { lang, fallbackName }) {
      if (!allowed(actor, 'operator')) return { kind: 'forbidden', role: 'operator' };
      const subs = await store.listSubscriptions(conversationId);
      let scopeName = fallbackName;
      if (subs.length > 0) {
        try {
          scopeName = scopeById(await deps.regions(), subs[0]!.scopeId)?.name || fallbackName;
        } catch {
          // the fallback name will do for a test
        }
      }
      const { alertId, outcome } = await deps.delivery.sendTest(conversationId, { lang, scopeName });
      if (!outcome.ok) return { kind: 'failed' };
      await audit(actor, 'alert.test', 'test', { conversationId }, alertId);
      return { kind: 'sent', alertId };
    },

    async topScopes() {
      const index = await deps.regions();
      return index.roots.map((node) => named({ kind: 'region', node }));
    },
  };
}
