import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { describeError } from '../domain/describe-error.ts';
import { formatAnchorLine } from '../domain/format-anchor-line.ts';
import type { Logger } from '../domain/logger.ts';
import type { AuditAnchor, AuditHead } from '../domain/store-port.ts';
import { createInFlight } from '../services/create-in-flight.ts';
import { macAuditAnchor } from './store/audit-chain.ts';
import type { AuditKeyring } from './store/parse-audit-keys.ts';

// Checkpoints of the audit chain's head kept where the database's administrator cannot rewrite them
// (issue 13): a line per commit in an append-only file (AUDIT_ANCHOR_FILE), and now and then, and at
// shutdown, a short post into a Teams channel (AUDIT_ANCHOR_CONVERSATION). `lagebot audit verify` reads the
// file: an anchor ahead of the table is a deleted tail or an emptied table, an anchor whose hash differs from
// its entry a rewritten chain. Each anchor is MACed with the audit key, so a forged line is told too.

export function makeAuditAnchor(head: AuditHead, keys: AuditKeyring | undefined, at: string): AuditAnchor {
  const keyId = keys?.currentId ?? null;
  const base = { seq: head.seq, hash: head.hash, at, keyId };
  return { ...base, mac: keyId === null ? null : macAuditAnchor(keys!.keys[keyId]!, base) };
}

const anchorLine = z
  .object({
    seq: z.number().int().positive(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    at: z.string().min(1),
    keyId: z.string().nullable(),
    mac: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
  })
  .strict();

export type ReadAnchors = { ok: true; anchors: AuditAnchor[] } | { ok: false; line: number };

/** The anchors of a file (none if it does not exist yet); the first line that is not an anchor ends it. */
export function readAuditAnchors(path: string): ReadAnchors {
  if (!existsSync(path)) return { ok: true, anchors: [] };
  const anchors: AuditAnchor[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const [i, text] of lines.entries()) {
    if (text.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, line: i + 1 };
    }
    const anchor = anchorLine.safeParse(parsed);
    if (!anchor.success) return { ok: false, line: i + 1 };
    anchors.push({ ...anchor.data, line: i + 1 });
  }
  return { ok: true, anchors };
}

const CLOSE_TIMEOUT_MS = 5000;

export interface AuditAnchoringOptions {
  keys: AuditKeyring | undefined;
  /** AUDIT_ANCHOR_FILE; undefined: no file (a store in memory). */
  file: string | undefined;
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
  const { keys, file, logger } = options;
  let post = options.post;
  if (file) mkdirSync(dirname(file), { recursive: true });
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
      latest = makeAuditAnchor(head, keys, options.now().toISOString());
      if (file) {
        try {
          // O_APPEND: a line per write, never a rewrite. Synchronous, so the anchor is on disk before the
          // user is told the change happened.
          appendFileSync(file, `${formatAnchorLine(latest)}\n`, { mode: 0o600 });
          fileFailing = false;
        } catch (error) {
          // The change is committed; failing the user's action now would not undo it. Said once per outage.
          if (!fileFailing) logger.error('could not append to AUDIT_ANCHOR_FILE', { file, err: describeError(error) });
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
