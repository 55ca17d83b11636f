import { type CloudAdapter, TeamsInfo } from 'botbuilder';
import type { ConversationReference } from 'botframework-schema';
import { proactiveConversationId, proactiveReference } from '../domain/conversation-id.ts';
import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { PeopleDirectory } from '../domain/ports.ts';
import type { MentionedPerson, Store } from '../domain/store-port.ts';

// Names for @mentions: the Teams roster of the approvers' team (TeamsInfo member lookup, cached), else the
// last activity the bot saw from the person, else the id. A lookup that fails or is slow never holds up a
// reminder: it is given up after LOOKUP_TIMEOUT_MS and the next source is used.

export interface RosterNamesDeps {
  adapter: CloudAdapter;
  appId: string | undefined;
  store: Pick<Store, 'getConversation' | 'getPerson'>;
  /** The conversation whose roster is asked (the approvers' channel or chat). */
  approversConversation: string | undefined;
  logger: Logger;
  nowMs?: () => number;
}

const CACHE_MS = 60 * 60_000;
// Someone the roster does not know is asked again after this, not on every reminder.
const MISS_CACHE_MS = 10 * 60_000;
const LOOKUP_TIMEOUT_MS = 3000;

export function createRosterNames(deps: RosterNamesDeps): PeopleDirectory {
  const cache = new Map<string, { person: MentionedPerson; at: number }>();
  const misses = new Map<string, number>();
  const nowMs = deps.nowMs ?? Date.now;

  async function fromRoster(aadObjectId: string): Promise<MentionedPerson | null> {
    if (!deps.approversConversation) return null;
    const conv = await deps.store.getConversation(proactiveConversationId(deps.approversConversation));
    if (!conv) return null;
    const reference = proactiveReference(conv.reference as Partial<ConversationReference>, conv.conversationId);
    let found: MentionedPerson | null = null;
    let failure: unknown = null;
    await deps.adapter.continueConversationAsync(deps.appId ?? '', reference, async (context) => {
      // Caught in here: an error leaving the callback reaches the adapter's turn-error handler, which
      // would post "something went wrong" into the approvers' conversation.
      try {
        const member = await TeamsInfo.getMember(context, aadObjectId);
        if (member?.id && member.name) found = { id: member.id, name: member.name };
      } catch (error) {
        failure = error;
      }
    });
    if (failure) throw failure;
    return found;
  }

  function withTimeout<T>(promise: Promise<T>): Promise<T | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), LOOKUP_TIMEOUT_MS);
      timer.unref();
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  return {
    async nameOf(aadObjectId: string): Promise<MentionedPerson> {
      const cached = cache.get(aadObjectId);
      if (cached && nowMs() - cached.at < CACHE_MS) return cached.person;
      const missedAt = misses.get(aadObjectId);
      if (missedAt === undefined || nowMs() - missedAt >= MISS_CACHE_MS) {
        try {
          const person = await withTimeout(fromRoster(aadObjectId));
          if (person) {
            cache.set(aadObjectId, { person, at: nowMs() });
            misses.delete(aadObjectId);
            return person;
          }
        } catch (error) {
          deps.logger.debug('roster lookup failed; using the last activity seen', { err: describeError(error) });
        }
        if (misses.size > 10_000) misses.clear();
        misses.set(aadObjectId, nowMs());
      }
      try {
        const seen = await deps.store.getPerson(aadObjectId);
        if (seen) return { id: seen.userId, name: seen.name };
      } catch (error) {
        deps.logger.warn('could not read a person for a mention', { err: describeError(error) });
      }
      return { id: aadObjectId, name: aadObjectId };
    },
  };
}
