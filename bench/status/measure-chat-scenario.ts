import { message, post, type TestUser } from '../../test/fakes/activities.ts';
import { type ClosedLoopResult, runClosedLoop } from '../lib/run-closed-loop.ts';
import type { ReplyTracker } from '../lib/track-replies.ts';

// One scenario of the status benchmark: `users` concurrent users in their own personal chats, each
// sending the same command `requestsPerUser` times back to back. A sample is the time from starting
// the POST to /api/messages until the reply to that activity has arrived at the fake connector.
//
// Lagebot limits each person to a burst of 10 commands, then one every 2 s
// (src/services/user-rate-limiter.ts, docs/decisions/hardening.md). A load of 20 questions per person in a few seconds
// would measure that limiter's polite refusal, not the status path. So each concurrent user hands
// over to a new identity (its own Teams user and personal chat) every `requestsPerIdentity`
// requests, and every run uses fresh identities: the concurrency stays `users`, and no identity
// exceeds what one person may ask.

export interface ChatScenario {
  name: string;
  text: string;
  /** A reason why this reply is wrong (it then counts as an error), or null. */
  checkReply(activity: Record<string, unknown>, sentText: string): string | null;
}

export interface MeasureOptions {
  botUrl: string;
  serviceUrl: string;
  tracker: ReplyTracker;
  scenario: ChatScenario;
  users: number;
  requestsPerUser: number;
  maxDurationMs: number;
  replyTimeoutMs?: number;
  /** Requests one identity sends before the next takes over; keep it below the per-user burst (10). */
  requestsPerIdentity?: number;
}

export function benchUser(key: string): TestUser {
  return { id: `29:bench-${key}`, name: `Bench User ${key}`, aadObjectId: `aad-bench-${key}` };
}

let runSeq = 0;

export interface ChatSample {
  /** Wall clock (Date.now()) when the POST started: lines samples up with events in other processes. */
  startedAt: number;
  latencyMs: number;
}

export function measureChatScenario(o: MeasureOptions): Promise<ClosedLoopResult<ChatSample>> {
  const run = `${process.pid}-${++runSeq}`;
  const perIdentity = Math.max(1, o.requestsPerIdentity ?? 5);
  return runClosedLoop({
    users: o.users,
    requestsPerUser: o.requestsPerUser,
    maxDurationMs: o.maxDurationMs,
    request: async (u, seq) => {
      const key = `${run}-${u}-${Math.floor(seq / perIdentity)}`;
      const user = benchUser(key);
      const conversation = { id: `a:bench-${key}`, type: 'personal' as const };
      const activity = message(o.scenario.text, { serviceUrl: o.serviceUrl, user, conversation });
      const arrival = o.tracker.expect(conversation.id, activity.id, o.replyTimeoutMs ?? 30_000);
      // Awaited below; this only keeps a timeout after a failed POST from becoming an unhandled rejection.
      arrival.catch(() => undefined);
      const startedAt = Date.now();
      const started = performance.now();
      const res = await post(o.botUrl, activity);
      if (res.status !== 200) throw new Error(`POST /api/messages answered ${res.status}`);
      const reply = await arrival;
      const problem = o.scenario.checkReply(reply.activity, o.scenario.text);
      if (problem) throw new Error(problem);
      return { startedAt, latencyMs: reply.at - started };
    },
  });
}
