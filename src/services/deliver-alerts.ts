import { randomUUID } from 'node:crypto';
import { alertScopeId, audienceOf, muteScopesOf } from '../domain/alert-audience.ts';
import { describeError } from '../domain/describe-error.ts';
import { LagebotError } from '../domain/errors.ts';
import type { Logger } from '../domain/logger.ts';
import type { DomainState } from '../domain/model.ts';
import type { RegionIndex } from '../domain/region-index.ts';
import type { SpikeEvent } from '../domain/spike-detector.ts';
import type { MentionedPerson, Store, StoredAlert, AlertDelivery as StoredDelivery } from '../domain/store-port.ts';
import { type AlertData, type AlertLang, type AlertView, parseAlertData } from './alert-data.ts';
import { createInFlight } from './create-in-flight.ts';

// Alerts from detector events to cards in channels: the StoredAlert (one row per alert, its data the
// language-free view of src/services/alert-data.ts, its audience by src/domain/alert-audience.ts), one delivery per alert and conversation (store.ensureDelivery: a replayed
// event or a second replica never makes a second one), the send through the rate-limited queue, and
// updates of every delivered copy in place. The card is rendered when its turn in the queue comes,
// from the store, so a card that waited shows the newest state.
//
// Each card is sent by one replica (docs/decisions/spam-alerts.md, "Delivered once"): when its turn in the
// queue comes the delivery is claimed in the store, like an outbox item, for `claimMs` (renewed while the
// card is under way), and 'sent' is recorded only by the claim's holder. A replica that finds a delivery
// sent, or claimed by another replica whose claim holds, leaves it alone — a resumed delivery, a replayed
// event on a new leader, or an old leader that lost its lease while its queue still held cards.
// One window stays at least once: a replica that dies after Teams accepted a card and before the store
// recorded it leaves the claim to expire, and the next leader sends the card again. Teams has no
// idempotency key for proactive messages; one duplicate card after a crash beats a lost alert.

type Card = Record<string, unknown>;
type CardSource = Card | (() => Card | Promise<Card>);

// The send queue (src/adapters/send-queue.ts), not a bare ProactiveSender: cards are passed as functions
// rendered at send time, which only the queue resolves (depth() is here to make the difference a type error).
export interface AlertSender {
  send(conversationId: string, card: CardSource, options?: { key?: string }): Promise<{ activityId: string }>;
  update(conversationId: string, activityId: string, card: CardSource, options?: { key?: string }): Promise<void>;
  depth(): number;
}

export type RenderAlertCard = (view: AlertView, lang: AlertLang) => Card;

export interface AlertDeliveryDeps {
  store: Store;
  sender: AlertSender;
  render: RenderAlertCard;
  now: () => Date;
  logger: Logger;
  // This replica's name on the deliveries it claims (REPLICA_ID); default: a name of this instance's own.
  holder?: string;
  // The clock claims are measured on, the machine's: `now` is the back ends' (in the demo the simulator's,
  // which runs 60 times faster and can be stepped). Default: `now`.
  claimClock?: () => Date;
  // How long a claim keeps other replicas off a delivery; renewed every third of it while the card is
  // under way, so only a replica that stopped loses it.
  claimMs?: number;
  metrics?: { alerts: { inc(labels: { event: string }): void } };
}

export const defaultDeliveryClaimMs = 60_000;

export type DeliveryOutcome = { ok: true; activityId: string } | { ok: false; error: unknown };

export interface AlertDelivery {
  // Stores the event's alert (create or update; a closed alert is never reopened) and returns it.
  recordEvent(
    event: SpikeEvent,
    context: { index: RegionIndex; domains: ReadonlyMap<string, DomainState> },
  ): Promise<StoredAlert>;
  // Queues the alert for every subscribed, unmuted conversation that has no delivery yet.
  fanOut(alert: StoredAlert): Promise<{ queued: number; muted: number }>;
  // Updates every delivered copy in place (or only the one in `conversationId`).
  refreshCopies(alertId: string, conversationId?: string): Promise<number>;
  // Queues the pending deliveries nobody is sending: unclaimed, or claimed by a replica whose claim expired.
  resumePending(): Promise<number>;
  // Creates a test alert for one conversation and delivers it; resolves when sent or failed.
  sendTest(
    conversationId: string,
    options: { lang: AlertLang; scopeName: string },
  ): Promise<{ alertId: string; outcome: DeliveryOutcome }>;
  viewFor(alertId: string, conversationId: string | null): Promise<AlertView | null>;
  cardFor(alertId: string, conversationId: string | null, lang?: AlertLang): Promise<Card | null>;
  // Waits for queued deliveries and their bookkeeping; false when timeoutMs passed first.
  drain(timeoutMs: number): Promise<boolean>;
}

export function createAlertDelivery(deps: AlertDeliveryDeps): AlertDelivery {
  const { store, sender, logger } = deps;
  const nowIso = () => deps.now().toISOString();
  const holder = deps.holder ?? `alert-delivery:${randomUUID()}`;
  const claimClock = deps.claimClock ?? deps.now;
  const claimMs = deps.claimMs ?? defaultDeliveryClaimMs;
  // Deliveries being sent by this process: a resumed or re-fanned delivery is not queued twice, and an
  // update that arrives while a card is on its way marks it for a refresh once it has an activity id.
  const active = new Map<string, { alertId: string; rendered: boolean; dirty: boolean }>();
  const inFlight = createInFlight();

  async function viewFor(alertId: string, conversationId: string | null): Promise<AlertView | null> {
    const alert = await store.getAlert(alertId);
    if (!alert) return null;
    const data = parseAlertData(alert.data);
    if (!data) {
      logger.warn('stored alert has unreadable data', { alertId });
      return null;
    }
    const acks = await store.listAcknowledgements(alertId);
    const names = new Map<string, string>();
    if (acks.length > 0) {
      // The acknowledger's display name is in the audit entry of the acknowledgement.
      for (const e of await store.listAudit({ requestId: alertId, limit: 200 })) {
        const name = (e.details as { name?: unknown } | null)?.name;
        if (e.action === 'alert.ack' && typeof name === 'string' && !names.has(e.actor)) names.set(e.actor, name);
      }
    }
    let mutedUntil: string | null = null;
    let lang = data.lang;
    const mentions: MentionedPerson[] = [];
    if (conversationId !== null) {
      const subscriptions = await store.listSubscriptions(conversationId);
      // A spike alert speaks the language of the client that subscribed the conversation; a test alert
      // the language of whoever asked for it.
      if (data.kind === 'spike') lang = subscriptions[0]?.lang ?? lang;
      for (const sub of subscriptions) {
        // A test alert shows what a real one in this chat would: everybody its subscriptions mention.
        if (data.kind !== 'test' && !data.audience.includes(sub.scopeId)) continue;
        for (const m of sub.mentions) if (!mentions.some((x) => x.id === m.id)) mentions.push(m);
      }
      const now = nowIso();
      for (const m of await store.listMutes(conversationId)) {
        if (m.until > now && data.muteScopes.includes(m.scopeId) && (mutedUntil === null || m.until > mutedUntil)) {
          mutedUntil = m.until;
        }
      }
    }
    return {
      ...data,
      lang,
      alertId,
      status: alert.status,
      acks: acks.map((a) => ({ actor: a.actor, name: names.get(a.actor) ?? a.actor, at: a.at })),
      mutedUntil,
      mentions,
    };
  }

  async function cardFor(alertId: string, conversationId: string | null, lang?: AlertLang): Promise<Card | null> {
    const view = await viewFor(alertId, conversationId);
    return view ? deps.render(view, lang ?? view.lang) : null;
  }

  async function renderOrThrow(alertId: string, conversationId: string): Promise<Card> {
    const card = await cardFor(alertId, conversationId);
    if (!card) throw new LagebotError('NOT_FOUND', `alert ${alertId} is not in the store`);
    return card;
  }

  function scheduleUpdate(alertId: string, conversationId: string, activityId: string): Promise<void> {
    return inFlight.track(
      sender
        .update(conversationId, activityId, () => renderOrThrow(alertId, conversationId), {
          key: `update\n${alertId}\n${conversationId}`,
        })
        .catch((error: unknown) => {
          deps.metrics?.alerts.inc({ event: 'update_failed' });
          logger.warn('could not update an alert card', { alertId, conversationId, err: describeError(error) });
        }),
    );
  }

  // Another replica is sending it: its claim has not expired.
  function claimedElsewhere(d: StoredDelivery): boolean {
    return d.claimedBy !== null && d.claimedBy !== holder && Date.parse(d.claimedUntil ?? '') > claimClock().getTime();
  }

  function schedule(alertId: string, conversationId: string): Promise<DeliveryOutcome> | null {
    const key = `${alertId}\n${conversationId}`;
    if (active.has(key)) return null;
    const entry = { alertId, rendered: false, dirty: false };
    active.set(key, entry);
    const claim = () => store.claimDelivery(alertId, conversationId, holder, claimClock().toISOString(), claimMs);
    let claimed = false;
    // Set when the store refused the claim: another replica has sent the card or is sending it.
    let leftToOther = false;
    let renewal: ReturnType<typeof setInterval> | null = null;
    const run = async (): Promise<DeliveryOutcome> => {
      try {
        const { activityId } = await sender.send(
          conversationId,
          // Claimed on every try, when the queue's token is taken: between queueing and sending another
          // replica may have sent it (a resume, a new leader), and a retry after a long wait renews the claim.
          // It is the one store write between the token and the request (on SQLite an fsync, ~2 ms).
          async () => {
            if (!(await claim())) {
              leftToOther = true;
              throw new LagebotError('STORE_CONFLICT', 'the alert delivery is sent or claimed by another replica', {
                alertId,
                conversationId,
              });
            }
            if (!claimed) {
              claimed = true;
              renewal = setInterval(() => {
                claim().catch((e: unknown) =>
                  logger.warn('could not renew an alert delivery claim', { alertId, err: describeError(e) }),
                );
              }, claimMs / 3);
              renewal.unref?.();
            }
            entry.rendered = true;
            entry.dirty = false;
            return renderOrThrow(alertId, conversationId);
          },
          { key: `send\n${key}` },
        );
        const recorded = await store.completeDelivery(
          alertId,
          conversationId,
          holder,
          { status: 'sent', activityId },
          nowIso(),
        );
        if (recorded) {
          deps.metrics?.alerts.inc({ event: 'delivered' });
          if (entry.dirty) void scheduleUpdate(alertId, conversationId, activityId);
        } else {
          // This replica stalled past its claim and another one took the delivery over: both may have posted.
          deps.metrics?.alerts.inc({ event: 'delivered_unrecorded' });
          logger.warn('alert card sent after another replica took its delivery over', { alertId, conversationId });
        }
        return { ok: true, activityId };
      } catch (error) {
        if (leftToOther) {
          logger.info('alert delivery left to the replica that claimed it', { alertId, conversationId });
          return { ok: false, error };
        }
        deps.metrics?.alerts.inc({ event: 'failed' });
        logger.warn('alert not delivered', { alertId, conversationId, err: describeError(error) });
        if (claimed) {
          await store
            .completeDelivery(alertId, conversationId, holder, { status: 'failed' }, nowIso())
            .catch((e: unknown) =>
              logger.warn('could not record a failed delivery', { alertId, err: describeError(e) }),
            );
        }
        return { ok: false, error };
      } finally {
        if (renewal) clearInterval(renewal);
        active.delete(key);
      }
    };
    return inFlight.track(run());
  }

  async function writeAlert(
    id: string,
    next: { scopeId: string; openedAt: string; status: 'open' | 'closed'; closedAt: string | null; data: AlertData },
  ): Promise<StoredAlert> {
    // Only this process's watcher and a replayed poll write alert rows; a conflict is rare and retried.
    for (let i = 0; i < 5; i++) {
      const existing = await store.getAlert(id);
      if (!existing) {
        const created = await store.createAlert({ id, ...next });
        if (created.ok) return created.alert;
        continue;
      }
      // A replayed 'updated' after the alert closed must not reopen it.
      if (existing.status === 'closed' && next.status === 'open') return existing;
      const updated = await store.updateAlert(id, existing.version, {
        status: next.status,
        closedAt: next.closedAt,
        data: next.data,
      });
      if (updated.ok) return updated.alert;
    }
    throw new LagebotError('STORE_CONFLICT', `alert ${id} kept changing while it was written`);
  }

  return {
    async recordEvent(event, { index, domains }) {
      const a = event.alert;
      const nameOf = (id: string) => index.byId.get(id)?.name ?? id;
      const parentId = index.byId.get(a.group)?.parentId ?? null;
      const parent = parentId === null ? undefined : index.byId.get(parentId);
      const inbound: AlertData['inbound'] = {};
      for (const d of a.domains) {
        const state = domains.get(d);
        if (state) inbound[d] = state.inbound;
      }
      const data: AlertData = {
        v: 2,
        kind: 'spike',
        // German, the default language; each conversation's copy is in its subscription's language (viewFor).
        lang: 'de',
        scope: { id: a.scope.id, kind: a.scope.kind, name: a.scope.kind === 'group' ? nameOf(a.scope.id) : a.scope.id },
        group: { id: a.group, name: nameOf(a.group) },
        within: parent ? { id: parent.id, name: parent.name } : null,
        domains: a.domains,
        inbound,
        startedAt: a.startedAt,
        endedAt: a.endedAt,
        currentRate: a.currentRate,
        baselineRate: a.baselineRate,
        factor: a.factor,
        peakFactor: a.peakFactor,
        // A domain alert is only ever folded into the alert of its own group.
        foldedInto: a.foldedInto ? { id: a.foldedInto, name: nameOf(a.group) } : null,
        series: a.series,
        audience: audienceOf(index, a),
        muteScopes: muteScopesOf(index, a),
        updatedAt: nowIso(),
      };
      const closed = event.type === 'closed';
      const stored = await writeAlert(a.id, {
        scopeId: alertScopeId(a.scope),
        openedAt: a.startedAt,
        status: closed ? 'closed' : 'open',
        closedAt: closed ? (a.endedAt ?? nowIso()) : null,
        data,
      });
      deps.metrics?.alerts.inc({ event: event.type });
      return stored;
    },

    async fanOut(alert) {
      const data = parseAlertData(alert.data);
      if (!data || alert.status === 'closed') return { queued: 0, muted: 0 };
      const audience = new Set(data.audience);
      const conversations = [
        ...new Set(
          (await store.listSubscriptions()).filter((s) => audience.has(s.scopeId)).map((s) => s.conversationId),
        ),
      ];
      if (conversations.length === 0) return { queued: 0, muted: 0 };
      const now = nowIso();
      const muteScopes = new Set(data.muteScopes);
      const muted = new Set(
        (await store.listMutes())
          .filter((m) => m.until > now && muteScopes.has(m.scopeId))
          .map((m) => m.conversationId),
      );
      let queued = 0;
      for (const conversationId of conversations) {
        if (muted.has(conversationId)) continue;
        const { delivery } = await store.ensureDelivery(alert.id, conversationId, now);
        if (delivery.status === 'pending' && !claimedElsewhere(delivery) && schedule(alert.id, conversationId)) {
          queued++;
        }
      }
      return { queued, muted: conversations.filter((c) => muted.has(c)).length };
    },

    async refreshCopies(alertId, conversationId) {
      for (const entry of active.values()) if (entry.alertId === alertId && entry.rendered) entry.dirty = true;
      let n = 0;
      for (const d of await store.listDeliveries({ alertId })) {
        if (d.status !== 'sent' || !d.activityId) continue;
        if (conversationId !== undefined && d.conversationId !== conversationId) continue;
        void scheduleUpdate(alertId, d.conversationId, d.activityId);
        n++;
      }
      return n;
    },

    async resumePending() {
      let n = 0;
      for (const d of await store.listDeliveries({ status: 'pending' })) {
        if (!claimedElsewhere(d) && schedule(d.alertId, d.conversationId)) n++;
      }
      if (n > 0) logger.info('resuming alert deliveries left pending', { count: n });
      return n;
    },

    async sendTest(conversationId, { lang, scopeName }) {
      const now = deps.now();
      const id = `test:${randomUUID()}`;
      const series = testSeries(now);
      const last = series.at(-1)!;
      const data: AlertData = {
        v: 2,
        kind: 'test',
        lang,
        scope: { id: 'test', kind: 'group', name: scopeName },
        group: { id: 'test', name: scopeName },
        within: null,
        domains: [],
        inbound: {},
        startedAt: series[series.length - 15]!.at,
        endedAt: null,
        currentRate: last.value,
        baselineRate: last.baseline,
        factor: Math.round((last.value / last.baseline) * 100) / 100,
        peakFactor: Math.round((last.value / last.baseline) * 100) / 100,
        foldedInto: null,
        series,
        audience: [],
        muteScopes: ['test'],
        updatedAt: now.toISOString(),
      };
      // Stored closed: a test never ends and must not count among open alerts.
      const created = await store.createAlert({
        id,
        scopeId: 'test',
        openedAt: now.toISOString(),
        status: 'closed',
        closedAt: now.toISOString(),
        data,
      });
      if (!created.ok) {
        return {
          alertId: id,
          outcome: { ok: false, error: new LagebotError('STORE_CONFLICT', 'test alert id taken') },
        };
      }
      await store.ensureDelivery(id, conversationId, now.toISOString());
      const outcome = (await schedule(id, conversationId)) ?? {
        ok: false,
        error: new LagebotError('STORE_CONFLICT', 'already sending'),
      };
      return { alertId: id, outcome };
    },

    viewFor,
    cardFor,

    drain: (timeoutMs) => inFlight.drain(timeoutMs),
  };
}

// Two hours of a made-up wave for `alarm test`: a flat baseline, then 15 minutes at about six times it.
function testSeries(now: Date): AlertData['series'] {
  const end = Math.floor(now.getTime() / 60_000);
  return Array.from({ length: 120 }, (_, i) => {
    const minute = end - 119 + i;
    const wave = i >= 105;
    return {
      at: new Date(minute * 60_000).toISOString(),
      value: wave ? 120 + ((i * 7) % 11) : 18 + ((i * 5) % 5),
      baseline: 20,
    };
  });
}
