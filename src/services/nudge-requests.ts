import { proactiveConversationId } from '../domain/conversation-id.ts';
import { describeError, messageOf } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { OutgoingContent } from '../domain/mention-message.ts';
import type { PeopleDirectory, ProactiveSender } from '../domain/ports.ts';
import { isExpired, type ReleaseRequest } from '../domain/release-request.ts';
import { listedMembers, type RolesConfig } from '../domain/roles.ts';
import type { MentionedPerson, PlannedNotification, Store } from '../domain/store-port.ts';
import { readRequest, releaseOf } from './release-service.ts';

// Nothing waits unnoticed (docs/decisions/nudges.md): a release request still undecided gets reminders in
// the approvers' conversation that @mention the approvers, then goes 1:1 to the escalation people; its
// requester gets one line when it is decided, expires or is superseded. Each of these is a planned
// notification in the store (key = request and slot), claimed by one replica and finished once, so a
// restart or a second replica sends nothing twice. `tick()` plans what is due for the open requests and
// sends what is due; the composition root calls it from the sweep, tests call it after moving the clock.

export interface ReminderView {
  request: ReleaseRequest;
  n: number;
  max: number;
  /** Since when the request (or its retry round) waits. */
  since: string;
  approvers: MentionedPerson[];
  /** The card the reminder is about, to link to: conversation (channel or chat) and message id. */
  card: { conversationId: string; activityId: string } | null;
}

export interface NudgeRenderer {
  reminder(view: ReminderView): OutgoingContent;
  /** The request card as the escalation person gets it 1:1; `since`: when the request (or its retry round) began to wait. */
  escalation(request: ReleaseRequest, version: number, since: string): OutgoingContent;
  /** Said in the approvers' conversation for escalation people the bot cannot reach 1:1. */
  unreachable(request: ReleaseRequest, people: MentionedPerson[]): OutgoingContent;
  /** The requester's one line when the request is decided, expires or is superseded. */
  requesterNote(request: ReleaseRequest): OutgoingContent;
}

export interface NudgeDeps {
  store: Pick<
    Store,
    | 'listRequests'
    | 'getRequest'
    | 'listRequestCards'
    | 'addRequestCard'
    | 'getConversation'
    | 'getPerson'
    | 'appendAudit'
    | 'planNotification'
    | 'listDueNotifications'
    | 'claimNotification'
    | 'completeNotification'
    | 'releaseNotification'
  >;
  /** The send queue: Teams' limits apply to reminders as to alerts. */
  sender: ProactiveSender;
  people: PeopleDirectory;
  render: NudgeRenderer;
  roles: RolesConfig;
  approversConversation: string | undefined;
  reminderMs: number | null;
  reminderMax: number;
  escalationMs: number | null;
  holder: string;
  now: () => Date;
  logger: Logger;
}

// Long enough for a send through a busy queue; a replica that died holding a claim is taken over after it.
const CLAIM_MS = 120_000;
// A notification that failed this often is given up (and logged), so one broken conversation cannot
// keep a replica busy forever.
const MAX_ATTEMPTS = 5;
// The requester's line follows these states (superseded: replaced by a newer request of the same scope).
const DECIDED = new Set(['executing', 'executed', 'partially_failed', 'rejected', 'expired', 'superseded']);

// The first round's keys stay as they were (stores hold them); a retry round waiting for its approval
// gets keys of its own, named by its number and start, so a rejected retry asked for again is a new round.
export const nudgeKeys = {
  reminder: (requestId: string, n: number, round?: string) =>
    round ? `reminder:${requestId}:${round}:${n}` : `reminder:${requestId}:${n}`,
  escalation: (requestId: string, round?: string) =>
    round ? `escalation:${requestId}:${round}` : `escalation:${requestId}`,
  requesterNote: (requestId: string) => `requester-note:${requestId}`,
};

/** What one waiting round of a request is: the first round (pending) or a retry round (retry_pending). */
interface WaitingRound {
  /** Absent for the first round; for a retry round `r<number>@<start>`. */
  round?: string;
  since: string;
}

function waitingRoundOf(request: ReleaseRequest): WaitingRound | null {
  if (request.state === 'pending') return { since: request.createdAt };
  if (request.state === 'retry_pending' && request.execution.pendingRetry) {
    const at = request.execution.pendingRetry.at;
    return { round: `r${(request.execution.round ?? 1) + 1}@${at}`, since: at };
  }
  return null;
}

type NudgePayload = { requestId: string; n?: number; round?: string; since?: string };

type Outcome = { status: 'sent' | 'skipped'; detail: Record<string, unknown> };

export function createRequestNudges(deps: NudgeDeps) {
  const nowIso = () => deps.now().toISOString();
  const approvers = deps.approversConversation ? proactiveConversationId(deps.approversConversation) : null;
  let running: Promise<number> | null = null;

  async function audit(request: ReleaseRequest, action: string, details: Record<string, unknown>) {
    await deps.store.appendAudit([
      {
        at: nowIso(),
        actor: 'lagebot',
        action,
        tenantId: request.tenantId,
        scopeId: request.scope.id,
        requestId: request.id,
        details,
      },
    ]);
  }

  /**
   * Reminder 1 and the escalation of every waiting round of a release request — a new request or a retry
   * waiting for its approval round — planned once (the key makes a repeat nothing).
   */
  async function planOpen(): Promise<void> {
    const open = await deps.store.listRequests({ states: ['pending', 'retry_pending'], limit: 1000 });
    for (const stored of open) {
      if (stored.kind !== 'release') continue;
      const waiting = waitingRoundOf(releaseOf(stored));
      if (!waiting) continue;
      const since = Date.parse(waiting.since);
      const roundPayload = waiting.round ? { round: waiting.round, since: waiting.since } : {};
      if (deps.reminderMs !== null && deps.reminderMax > 0) {
        await deps.store.planNotification(
          {
            key: nudgeKeys.reminder(stored.id, 1, waiting.round),
            kind: 'reminder',
            dueAt: new Date(since + deps.reminderMs).toISOString(),
            payload: { requestId: stored.id, n: 1, ...roundPayload },
          },
          nowIso(),
        );
      }
      if (deps.escalationMs !== null && (deps.roles.escalation?.length ?? 0) > 0) {
        await deps.store.planNotification(
          {
            key: nudgeKeys.escalation(stored.id, waiting.round),
            kind: 'escalation',
            dueAt: new Date(since + deps.escalationMs).toISOString(),
            payload: { requestId: stored.id, ...roundPayload },
          },
          nowIso(),
        );
      }
    }
  }

  /** Where the request's card is in the approvers' conversation (or, without one, where it was requested). */
  async function cardOf(request: ReleaseRequest) {
    const cards = await deps.store.listRequestCards(request.id);
    return cards.find((c) => proactiveConversationId(c.conversationId) === approvers) ?? cards[0] ?? null;
  }

  /** In a channel, a reply in the card's thread; in a chat, a message in the chat. */
  async function threadOf(card: { conversationId: string; activityId: string }): Promise<string> {
    const conversation = await deps.store.getConversation(proactiveConversationId(card.conversationId));
    return conversation?.kind === 'channel'
      ? `${proactiveConversationId(card.conversationId)};messageid=${card.activityId}`
      : card.conversationId;
  }

  /** The request while the round the notification was planned for still waits; null once it is decided or expired. */
  async function stillWaiting(payload: NudgePayload) {
    const current = await readRequest(deps.store, payload.requestId);
    if (!current) return null;
    const { request } = current;
    const waiting = waitingRoundOf(request);
    if (!waiting || waiting.round !== payload.round || isExpired(request, nowIso())) return null;
    return { ...current, since: waiting.since };
  }

  /** The approvers a round waits for: not the requester, not who asked for the retry, not who approved already. */
  function waitingFor(request: ReleaseRequest): string[] {
    const retry = request.state === 'retry_pending' ? request.execution.pendingRetry : null;
    const approvals = retry ? retry.approvals : request.approvals;
    return listedMembers(deps.roles, 'approver').filter(
      (id) => id !== request.requester.id && id !== retry?.by.id && !approvals.some((a) => a.by.id === id),
    );
  }

  async function remind(item: PlannedNotification): Promise<Outcome> {
    const payload = item.payload as NudgePayload;
    const n = payload.n ?? 1;
    const current = await stillWaiting(payload);
    if (!current) return { status: 'skipped', detail: { why: 'decided' } };
    const { request, since } = current;
    const card = await cardOf(request);
    const target = card ? await threadOf(card) : approvers;
    if (!target) return { status: 'skipped', detail: { why: 'no_conversation' } };
    const ids = waitingFor(request);
    const mentioned = await Promise.all(ids.map((id) => deps.people.nameOf(id)));
    const { activityId } = await deps.sender.send(
      target,
      deps.render.reminder({ request, n, max: deps.reminderMax, since, approvers: mentioned, card }),
    );
    await audit(request, 'release.reminder_sent', {
      n,
      to: target,
      mentioned: ids,
      ...(payload.round ? { round: payload.round } : {}),
    });
    if (n < deps.reminderMax && deps.reminderMs !== null) {
      await deps.store.planNotification(
        {
          key: nudgeKeys.reminder(request.id, n + 1, payload.round),
          kind: 'reminder',
          // On the round's own rhythm, but never sooner than one interval from now: a bot that was down
          // sends the reminder it missed, not three in a row.
          dueAt: new Date(
            Math.max(Date.parse(since) + (n + 1) * deps.reminderMs, deps.now().getTime() + deps.reminderMs),
          ).toISOString(),
          payload: { ...payload, n: n + 1 },
        },
        nowIso(),
      );
    }
    return { status: 'sent', detail: { activityId, mentioned: ids } };
  }

  async function escalate(item: PlannedNotification): Promise<Outcome> {
    const payload = item.payload as NudgePayload;
    const { requestId } = payload;
    const current = await stillWaiting(payload);
    if (!current) return { status: 'skipped', detail: { why: 'decided' } };
    const { request, version, since } = current;
    const reached: string[] = [];
    const unreachable: string[] = [];
    for (const id of deps.roles.escalation ?? []) {
      const person = await deps.store.getPerson(id);
      if (!person?.personalConversationId) {
        unreachable.push(id);
        continue;
      }
      const { activityId } = await deps.sender.send(
        person.personalConversationId,
        deps.render.escalation(request, version, since),
      );
      // Tracked like every card of the request, so it shows the decision when someone takes it.
      await deps.store.addRequestCard(request.id, { conversationId: person.personalConversationId, activityId });
      reached.push(id);
    }
    if (unreachable.length > 0) {
      const named = await Promise.all(unreachable.map((id) => deps.people.nameOf(id)));
      deps.logger.warn('escalation: Lagebot is not installed for these people, named in the approvers conversation', {
        requestId,
        people: named.map((p) => p.name),
      });
      const card = await cardOf(request);
      const target = card ? await threadOf(card) : approvers;
      if (target) await deps.sender.send(target, deps.render.unreachable(request, named));
    }
    await audit(request, 'release.escalated', {
      reached,
      unreachable,
      ...(payload.round ? { round: payload.round } : {}),
    });
    return { status: 'sent', detail: { reached, unreachable } };
  }

  async function noteRequester(item: PlannedNotification): Promise<Outcome> {
    const { requestId } = item.payload as { requestId: string };
    const current = await readRequest(deps.store, requestId);
    if (!current) return { status: 'skipped', detail: { why: 'not_found' } };
    const { request } = current;
    const person = await deps.store.getPerson(request.requester.id);
    const own = (await deps.store.listRequestCards(request.id)).find(
      (c) => proactiveConversationId(c.conversationId) !== approvers,
    );
    const target = person?.personalConversationId ?? own?.conversationId ?? null;
    if (!target) return { status: 'skipped', detail: { why: 'no_conversation' } };
    const { activityId } = await deps.sender.send(target, deps.render.requesterNote(request));
    await audit(request, 'release.requester_notified', { state: request.state, to: target });
    return { status: 'sent', detail: { activityId, state: request.state } };
  }

  async function handle(item: PlannedNotification): Promise<Outcome> {
    switch (item.kind) {
      case 'reminder':
        return remind(item);
      case 'escalation':
        return escalate(item);
      case 'requester_note':
        return noteRequester(item);
      case 'report':
        // Reports have their own service (daily-report.ts); this one leaves them alone.
        return { status: 'skipped', detail: { why: 'not_mine' } };
    }
  }

  async function dispatchDue(): Promise<number> {
    let sent = 0;
    const due = (await deps.store.listDueNotifications(nowIso(), 200)).filter((n) => n.kind !== 'report');
    for (const item of due) {
      const claimed = await deps.store.claimNotification(item.key, deps.holder, nowIso(), CLAIM_MS);
      if (!claimed) continue;
      try {
        const outcome = await handle(claimed);
        await deps.store.completeNotification(claimed.key, outcome.status, outcome.detail, nowIso());
        if (outcome.status === 'sent') sent++;
      } catch (error) {
        deps.logger.warn('a planned notification could not be sent', { key: item.key, err: describeError(error) });
        if (claimed.attempts >= MAX_ATTEMPTS) {
          await deps.store.completeNotification(claimed.key, 'failed', error, nowIso());
        } else {
          await deps.store.releaseNotification(claimed.key, deps.holder, messageOf(error), nowIso());
        }
      }
    }
    return sent;
  }

  return {
    /** Plans and sends what is due now; returns how many were sent. Overlapping calls share one run. */
    tick(): Promise<number> {
      running ??= (async () => {
        try {
          await planOpen();
          return await dispatchDue();
        } finally {
          running = null;
        }
      })();
      return running;
    },

    /** After every accepted transition: a decided, expired or superseded release plans the requester's line. */
    async onTransition(request: ReleaseRequest): Promise<void> {
      if (request.kind !== 'release' || !DECIDED.has(request.state)) return;
      await deps.store.planNotification(
        {
          key: nudgeKeys.requesterNote(request.id),
          kind: 'requester_note',
          dueAt: nowIso(),
          payload: { requestId: request.id },
        },
        nowIso(),
      );
    },
  };
}

export type RequestNudges = ReturnType<typeof createRequestNudges>;
