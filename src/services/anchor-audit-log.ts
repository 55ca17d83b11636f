import { describeError } from '../domain/describe-error.ts';
import type { Logger } from '../domain/logger.ts';
import type { AuditAnchor, AuditHead } from '../domain/store-port.ts';
import { createInFlight } from './create-in-flight.ts';

// When the audit chain is anchored (docs/decisions/security.md): after every commit a line in
// AUDIT_ANCHOR_FILE, at once and before the user hears of the change; into AUDIT_ANCHOR_CONVERSATION the
// newest anchor at most once per interval and at shutdown. How an anchor is made and written is the
// adapter's (src/adapters/audit-anchor-file.ts), passed in.

const CLOSE_TIMEOUT_MS = 5000;

export interface AuditAnchoringOptions {
  /** The anchor of a head at a time, MACed with the current key. */
  anchorOf: (head: AuditHead, at: string) => AuditAnchor;
  /** Appends to AUDIT_ANCHOR_FILE (throws when it cannot); undefined: no file (a store in memory). */
  appendToFile: ((anchor: AuditAnchor) => void) | undefined;
  /** Posts an anchor into AUDIT_ANCHOR_CONVERSATION; set once the Teams side exists (attachPoster). */
  post?: (anchor: AuditAnchor) => Promise<void>;
  /** At most one post per interval (AUDIT_ANCHOR_INTERVAL), and one at shutdown. */
  postIntervalMs: number;
  now: () => Date;
  logger: Logger;
}

export interface AuditAnchoring {
  /** The store's onAuditCommitted: a line in the file at once, a post when one is due. */
  record(head: AuditHead): void;
  attachPoster(post: (anchor: AuditAnchor) => Promise<void>): void;
  /** At shutdown: the newest anchor into Teams if it has not been posted; waits for posts in flight. */
  close(): Promise<void>;
}

export function createAuditAnchoring(options: AuditAnchoringOptions): AuditAnchoring {
  const { appendToFile, logger } = options;
  let post = options.post;
  let latest: AuditAnchor | null = null;
  let postedSeq = 0;
  let lastPostMs = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | null = null;
  let fileFailing = false;
  const posts = createInFlight();

  function postLatest(): void {
    if (!post || !latest || latest.seq <= postedSeq) return;
    const anchor = latest;
    postedSeq = anchor.seq;
    lastPostMs = options.now().getTime();
    void posts.track(
      post(anchor).catch((error) =>
        logger.warn('could not post the audit anchor to Teams', { seq: anchor.seq, err: describeError(error) }),
      ),
    );
  }

  function schedulePost(): void {
    if (!post || timer) return;
    const dueInMs = lastPostMs + options.postIntervalMs - options.now().getTime();
    if (dueInMs <= 0) {
      postLatest();
      return;
    }
    timer = setTimeout(() => {
      timer = null;
      postLatest();
    }, dueInMs);
    timer.unref();
  }

  return {
    record(head) {
      // Commits of concurrent transactions may report out of order; the file stays in seq order.
      if (latest && head.seq <= latest.seq) return;
      latest = options.anchorOf(head, options.now().toISOString());
      if (appendToFile) {
        try {
          // Synchronous, so the anchor is on disk before the user is told the change happened.
          appendToFile(latest);
          fileFailing = false;
        } catch (error) {
          // The change is committed; failing the user's action now would not undo it. Said once per outage.
          if (!fileFailing) logger.error('could not append to AUDIT_ANCHOR_FILE', { err: describeError(error) });
          fileFailing = true;
        }
      }
      schedulePost();
    },
    attachPoster(fn) {
      post = fn;
      schedulePost();
    },
    async close() {
      if (timer) clearTimeout(timer);
      timer = null;
      postLatest();
      // Teams unreachable at shutdown must not hold SIGTERM past the platform's grace period; the file has
      // every anchor anyway.
      if (!(await posts.drain(CLOSE_TIMEOUT_MS))) {
        logger.warn('the audit anchor post did not finish within 5 s of shutdown; the anchor file has it');
      }
    },
  };
}
