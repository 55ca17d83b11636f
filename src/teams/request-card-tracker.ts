import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { ProactiveSender } from '../domain/ports.ts';
import type { ReleaseRequest } from '../domain/release-request.ts';
import type { RolesConfig } from '../domain/roles.ts';
import type { Store } from '../domain/store-port.ts';
import { createInFlight } from '../services/create-in-flight.ts';
import type { Lang } from './i18n.ts';
import { buildRequestCard, refreshUsersFor } from './views/request-card.ts';

// Remembers where each request's cards are (conversation + activity id, in the store) and updates them
// all in place after a transition. Updates of one request are coalesced: a 14-domain execution settles
// in a burst, and Teams needs one edit, not fourteen.

export interface RequestCardTracker {
  sender: ProactiveSender;
  remember(requestId: string, conversationId: string, activityId: string): Promise<void>;
  /** Updates the request's cards after the coalescing delay (once, however often it is asked). */
  schedule(requestId: string): void;
  retrying(requestId: string): ReadonlySet<string>;
  markRetrying(requestId: string, domains: string[]): void;
  /**
   * Sends every scheduled update now and waits for all updates under way, including ones scheduled
   * meanwhile; false when timeoutMs passed first (shutdown, and tests that look at the cards).
   */
  flush(timeoutMs?: number): Promise<boolean>;
}

export interface RequestCardTrackerDeps {
  store: Pick<Store, 'listRequestCards' | 'addRequestCard'>;
  sender: ProactiveSender;
  /** The request as stored now (the release service's read, without the service). */
  read: (requestId: string) => Promise<{ request: ReleaseRequest; version: number } | null>;
  roles: RolesConfig;
  logger: Logger;
  /** Cards posted proactively are German, the default language. */
  lang?: Lang;
  delayMs?: number;
}

export function createRequestCardTracker(deps: RequestCardTrackerDeps): RequestCardTracker {
  const timers = new Map<string, NodeJS.Timeout>();
  const updates = createInFlight();
  const retryingDomains = new Map<string, Set<string>>();
  const lang = deps.lang ?? 'de';

  async function update(requestId: string): Promise<void> {
    const current = await deps.read(requestId);
    if (!current) return;
    if (current.request.state !== 'executing') retryingDomains.delete(requestId);
    const card = buildRequestCard(current.request, current.version, lang, {
      refreshUserIds: refreshUsersFor(current.request, deps.roles),
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

  function start(requestId: string): void {
    void updates.track(
      update(requestId).catch((error) =>
        deps.logger.warn('card update failed', { requestId, err: describeError(error) }),
      ),
    );
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
        start(requestId);
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
    async flush(timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      do {
        for (const [requestId, timer] of timers) {
          clearTimeout(timer);
          timers.delete(requestId);
          start(requestId);
        }
        const left = deadline - performance.now();
        if (left <= 0 || !(await updates.drain(left))) return false;
      } while (timers.size > 0);
      return true;
    },
  };
}
