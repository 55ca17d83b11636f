import type { LocalConnector } from '../../src/teams/local-connector.ts';

// Matches the bot's replies arriving at the fake Bot Connector to the activities a benchmark sent:
// by conversation id and reply-to id (botbuilder posts a reply to
// /v3/conversations/{conversation}/activities/{replyToId}). The arrival time is taken when the
// connector has the reply's body, on the benchmark's own clock (performance.now()).
// Captured calls are dropped as they come, so a long run does not grow the connector's memory.

export interface ArrivedReply {
  at: number;
  activity: Record<string, unknown>;
}

export interface ReplyTracker {
  /** Register before sending: resolves with the first reply to that activity, rejects after timeoutMs. */
  expect(conversationId: string, replyToId: string, timeoutMs?: number): Promise<ArrivedReply>;
  /** Replies nobody waited for (late after a timeout, or a second reply to one activity). */
  readonly unmatched: number;
  dispose(): void;
}

export function trackReplies(connector: LocalConnector): ReplyTracker {
  const waiting = new Map<string, { resolve: (r: ArrivedReply) => void; timer: NodeJS.Timeout }>();
  let unmatched = 0;
  connector.responder = (call) => {
    const at = performance.now();
    connector.calls.length = 0;
    const replyTo = call.activityId ?? (call.activity.replyToId as string | undefined) ?? '';
    const key = `${call.conversationId}\n${replyTo}`;
    const waiter = waiting.get(key);
    if (call.method !== 'POST' || !waiter) {
      unmatched++;
      return null;
    }
    waiting.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve({ at, activity: call.activity });
    return null;
  };
  return {
    expect(conversationId, replyToId, timeoutMs = 30_000) {
      const key = `${conversationId}\n${replyToId}`;
      return new Promise<ArrivedReply>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(key);
          reject(new Error(`no reply to ${replyToId} in ${conversationId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(key, { resolve, timer });
      });
    },
    get unmatched() {
      return unmatched;
    },
    dispose() {
      for (const w of waiting.values()) clearTimeout(w.timer);
      waiting.clear();
      connector.responder = null;
      connector.calls.length = 0;
    },
  };
}
