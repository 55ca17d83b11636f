import type { LocalConnector } from '../../src/teams/local-connector.ts';
import { adaptiveCardOf, factValuesOf, stateLineOf } from './read-request-card.ts';

// What bench/release waits for at the fake Bot Connector: the reply to a chat message (the new
// request's card) and the update (PUT) that shows a request's card in a given state. Arrival times
// are wall-clock ms (performance.timeOrigin + performance.now()), taken when the connector has the
// call's body, so they compare with the simulator process's times. Captured calls are dropped as
// they come, so a long run does not grow the connector's memory.

export interface Arrival {
  at: number;
  activity: Record<string, unknown>;
}

export interface ConnectorWatch {
  /** Register before sending: the first message (not a typing indicator) posted in reply to that activity. */
  expectReply(conversationId: string, replyToId: string, timeoutMs?: number): Promise<Arrival>;
  /** Register before clicking: the first card update showing the request in that state line. */
  expectCardState(requestId: string, stateLine: string, timeoutMs?: number): Promise<Arrival>;
  /** The last state line seen on an update of the request's card (for error messages). */
  lastState(requestId: string): string | null;
  dispose(): void;
}

export const wallNow = () => performance.timeOrigin + performance.now();

interface Waiter {
  resolve: (a: Arrival) => void;
  timer: NodeJS.Timeout;
}

export function watchConnector(connector: LocalConnector): ConnectorWatch {
  const replies = new Map<string, Waiter>();
  const states = new Map<string, Waiter & { stateLine: string }>();
  const lastStates = new Map<string, string>();

  connector.responder = (call) => {
    const at = wallNow();
    connector.calls.length = 0;
    if (call.method === 'POST') {
      // The typing indicator the bot sends first is not the answer.
      if (call.activity.type === 'typing') return null;
      const key = `${call.conversationId}\n${call.activityId ?? ''}`;
      const waiter = replies.get(key);
      if (waiter) {
        replies.delete(key);
        clearTimeout(waiter.timer);
        waiter.resolve({ at, activity: call.activity });
      }
      return null;
    }
    if (call.method !== 'PUT') return null;
    const card = adaptiveCardOf(call.activity);
    const stateLine = stateLineOf(card);
    if (stateLine === null) return null;
    for (const requestId of factValuesOf(card)) {
      if (!states.has(requestId) && !lastStates.has(requestId)) continue;
      lastStates.set(requestId, stateLine);
      const waiter = states.get(requestId);
      if (waiter && waiter.stateLine === stateLine) {
        states.delete(requestId);
        clearTimeout(waiter.timer);
        waiter.resolve({ at, activity: call.activity });
      }
    }
    return null;
  };

  const wait = <W extends Waiter>(
    map: Map<string, W>,
    key: string,
    extra: Omit<W, keyof Waiter>,
    timeoutMs: number,
    what: () => string,
  ) =>
    new Promise<Arrival>((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(key);
        reject(new Error(what()));
      }, timeoutMs);
      map.set(key, { ...extra, resolve, timer } as W);
    });

  return {
    expectReply(conversationId, replyToId, timeoutMs = 30_000) {
      return wait(
        replies,
        `${conversationId}\n${replyToId}`,
        {},
        timeoutMs,
        () => `no reply to ${replyToId} in ${conversationId} within ${timeoutMs} ms`,
      );
    },
    expectCardState(requestId, stateLine, timeoutMs = 30_000) {
      lastStates.set(requestId, lastStates.get(requestId) ?? '(no update yet)');
      return wait(
        states,
        requestId,
        { stateLine },
        timeoutMs,
        () =>
          `the card of ${requestId} did not show ${JSON.stringify(stateLine)} within ${timeoutMs} ms ` +
          `(last update: ${JSON.stringify(lastStates.get(requestId))})`,
      );
    },
    lastState: (requestId) => lastStates.get(requestId) ?? null,
    dispose() {
      for (const w of [...replies.values(), ...states.values()]) clearTimeout(w.timer);
      replies.clear();
      states.clear();
      connector.responder = null;
      connector.calls.length = 0;
    },
  };
}
