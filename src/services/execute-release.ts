import { backoffDelay } from '../domain/backoff.ts';
import { describeError, messageOf } from '../domain/describe-error.ts';
import { isLagebotError } from '../domain/errors.ts';
import type { Logger } from '../domain/logger.ts';
import type { DomainState } from '../domain/model.ts';
import type { DomainChange, GatewayPort } from '../domain/ports.ts';
import type { DomainOutcome, ExecutionRequest, GatewayChange } from '../domain/release-request.ts';
import { sharedDomains } from '../domain/request-overlap.ts';
import type { OutboxItem, Store } from '../domain/store-port.ts';
import { createFairLimiter } from './create-fair-limiter.ts';
import { createInFlight } from './create-in-flight.ts';
import { outboxKey, type ReleaseService } from './release-service.ts';

// Executes approved changes per domain through the gateway, exactly once (docs/decisions/exactly-once.md):
// the intent is in the outbox before the call (written with the transition), the call carries the
// domain's idempotency key, the outcome is recorded after. `reconcile` compares the request's
// per-domain status with its outbox rows, so whatever point a crash interrupted — before the call,
// after the gateway applied it, after the outcome was recorded — a restart finishes it once.
//
// Facts, not memory (docs/decisions/release-workflow.md): each run reads the gateway's domains once; a
// domain already in the requested state is recorded "bereits in Kraft" and is not sent. A block's call
// for a domain waits while a release still has a call for it in flight, so the last word is the block;
// a block whose domains a release still holds reads no snapshot (it could be overtaken by that release)
// and sends every call.
//
// Scale (docs/decisions/state-wide-scale.md): at most `gatewayConcurrency` gateway calls at once, shared
// fairly between requests. A run claims its items in one transaction, and a request's outcomes go into
// their outbox rows and into the request in about OUTCOME_BATCHES writes however many domains it has: a
// release of 500 domains costs O(500) bytes of writes and a few dozen commits, not O(500²) bytes and a
// thousand commits. An outcome not yet written when the process dies is not lost: its outbox row is
// still pending, and the next run sends it again with the same idempotency key — a replay at the
// gateway, recorded then.

export interface ExecutorDeps {
  store: Store;
  gateway: GatewayPort;
  service: ReleaseService;
  holder: string;
  now: () => Date;
  logger: Logger;
  /** Gateway calls at once, across all requests (GATEWAY_CONCURRENCY). */
  gatewayConcurrency: number;
  /** How long a claim protects an item from other replicas. */
  claimMs?: number;
  retry?: { baseMs: number; maxMs: number };
  random?: () => number;
  /** Told when a domain waits for a retry, so its card can say "wird wiederholt". */
  onRetrying?: (requestId: string, domain: string) => void;
  /** Told after the gateway state of domains changed through us (the status cache drops them). */
  onGatewayChanged?: (domains: string[]) => void;
}

const TRANSIENT = new Set(['UPSTREAM_TIMEOUT', 'UPSTREAM_UNAVAILABLE']);

// A request's outcomes are written to it in about this many batches (and whenever none of its calls is
// under way): few enough that the writes stay O(domains) in all, enough that its card shows progress.
const OUTCOME_BATCHES = 16;

// `outbox`: the outcome for the item's outbox row, written in the same batch just before the request.
type Outcome = DomainOutcome & {
  details: Record<string, unknown>;
  outbox?: { key: string; outcome: 'succeeded' | 'failed'; detail: unknown };
};

// Per request: outcomes recorded in the outbox but not yet in the request, and what may still add some.
interface Recorder {
  queue: Outcome[];
  batch: number;
  // Items queued for a gateway slot or being sent; items waiting to retry are `waiting`.
  active: number;
  waiting: number;
  writing: Promise<void> | null;
  // A write of this request's outcomes failed while a run was under way: the run fails and is retried.
  lost: unknown;
}

type ExecutionRequestLike = Pick<ExecutionRequest, 'id' | 'kind' | 'execution'>;

function inEffect(change: DomainChange, d: Pick<DomainState, 'inbound' | 'outbound'>): boolean {
  return (
    (change.inbound === undefined || d.inbound === change.inbound) &&
    (change.outbound === undefined || d.outbound === change.outbound)
  );
}

export function createReleaseExecutor(deps: ExecutorDeps) {
  const claimMs = deps.claimMs ?? 60_000;
  const retry = deps.retry ?? { baseMs: 1000, maxMs: 60_000 };
  const random = deps.random ?? Math.random;
  // Gateway calls, outcome writes, reconciliations and the waits before a retry: idle() and close() wait
  // for all of it.
  const inFlight = createInFlight();
  const limiter = createFairLimiter(deps.gatewayConcurrency);
  const waits = new Set<() => void>();
  const running = new Map<string, Promise<void>>();
  const failures = new Map<string, number>();
  const recorders = new Map<string, Recorder>();
  // Outbox keys this executor is sending, queued for or waiting to retry: a run of the sweep meanwhile
  // leaves them alone instead of sending the same key twice at once.
  const busy = new Set<string>();
  let closed = false;

  // Runs work after delayMs unless the executor closes first. The wait counts as in flight, so idle()
  // returns only after the retry it announces has run.
  function later(delayMs: number, work: () => Promise<void>): void {
    void inFlight.track(
      new Promise<void>((resolve) => {
        const cancel = () => {
          clearTimeout(timer);
          waits.delete(cancel);
          resolve();
        };
        const timer = setTimeout(() => {
          waits.delete(cancel);
          resolve(closed ? undefined : work());
        }, delayMs);
        waits.add(cancel);
      }),
    );
  }

  function recorderOf(requestId: string): Recorder {
    let r = recorders.get(requestId);
    if (!r) {
      r = { queue: [], batch: 1, active: 0, waiting: 0, writing: null, lost: null };
      recorders.set(requestId, r);
    }
    return r;
  }

  /** True when a release still has a call in flight for one of these domains in a direction the block sets. */
  async function releaseInFlight(requestId: string, change: GatewayChange, domains: readonly string[]) {
    if (change.inbound !== 'blocked' && change.outbound !== 'blocked') return false;
    const direction = change.inbound && change.outbound ? 'both' : change.inbound ? 'inbound' : 'outbound';
    const executing = await deps.store.listRequests({ states: ['executing'], limit: 1000 });
    return executing.some((s) => {
      if (s.id === requestId || s.kind !== 'release') return false;
      const other = deps.service.requestOf(s);
      if (other.state !== 'executing') return false;
      const pending = domains.filter((d) => other.execution.domains[d]?.status === 'pending');
      return (
        sharedDomains({ direction, domains: pending }, { direction: other.direction, domains: pending }).length > 0
      );
    });
  }

  /**
   * Sends one outbox item (attempt 0: the run's first; then its retries) and records its outcome. The
   * key stays `busy` from the first attempt until its outcome is recorded or the executor closes.
   */
  function startItem(
    row: Pick<OutboxItem, 'key' | 'requestId' | 'change'>,
    attempt: number,
    live: ReadonlyMap<string, DomainState> | null,
    claimed: OutboxItem | null = null,
  ): Promise<void> {
    const recorder = recorderOf(row.requestId);
    recorder.active++;
    busy.add(row.key);
    return attemptItem(row, attempt, live, claimed)
      .then(
        (retryAfterMs) => {
          if (retryAfterMs === null) {
            busy.delete(row.key);
            return;
          }
          recorder.waiting++;
          later(retryAfterMs, () => {
            recorder.waiting--;
            return startItem(row, attempt + 1, null).catch((e) =>
              deps.logger.error('retry failed', { key: row.key, err: describeError(e) }),
            );
          });
        },
        (error) => {
          busy.delete(row.key);
          throw error;
        },
      )
      .finally(() => {
        recorder.active--;
        flush(row.requestId, false);
      });
  }

  /** One attempt; resolves with the delay before the next attempt, or null when there is none. */
  async function attemptItem(
    row: Pick<OutboxItem, 'key' | 'requestId' | 'change'>,
    attempt: number,
    live: ReadonlyMap<string, DomainState> | null,
    claimed: OutboxItem | null,
  ): Promise<number | null> {
    const asked = row.change as DomainChange;
    // After the wait the snapshot is stale: the call is sent (the gateway is idempotent).
    if (await releaseInFlight(row.requestId, asked, [asked.domain])) {
      return backoffDelay(Math.min(attempt, 5), retry, random);
    }
    return limiter.run(row.requestId, () => (closed ? Promise.resolve(null) : sendItem(row, attempt, live, claimed)));
  }

  /** The run's claim while at least half of it is left; else (it waited long for a slot) a fresh one. */
  async function claim(key: string, claimed: OutboxItem | null): Promise<OutboxItem | null> {
    const now = deps.now();
    if (claimed?.claimedUntil && Date.parse(claimed.claimedUntil) - now.getTime() > claimMs / 2) return claimed;
    return deps.store.claimOutbox(key, deps.holder, now.toISOString(), claimMs);
  }

  async function sendItem(
    row: Pick<OutboxItem, 'key' | 'requestId' | 'change'>,
    attempt: number,
    live: ReadonlyMap<string, DomainState> | null,
    claimed: OutboxItem | null,
  ): Promise<number | null> {
    const { key } = row;
    const item = await claim(key, claimed);
    if (!item) return null; // another replica has it, or it is settled already
    const change = item.change as DomainChange;
    try {
      const before = item.attempts === 1 ? live?.get(change.domain) : undefined;
      if (before && inEffect(change, before)) {
        // First call for this key and the gateway already shows what is asked: nothing is sent.
        await recordSucceeded(item, { version: before.version, changed: false, replayed: false, unchanged: true });
        return null;
      }
      const res = await deps.gateway.changeDomain(change);
      await recordSucceeded(item, { version: res.domain.version, changed: res.changed, replayed: res.replayed });
      if (res.changed !== false) deps.onGatewayChanged?.([item.domain]);
      return null;
    } catch (error) {
      const code = isLagebotError(error) ? error.code : 'UNEXPECTED';
      const message = messageOf(error);
      if (TRANSIENT.has(code)) {
        // The gateway did not answer: the change may or may not have happened. Retrying with the same
        // Idempotency-Key is safe either way; the request stays "executing" until it answers (after a
        // close, the next process's run retries it).
        await deps.store.releaseOutbox(key, deps.holder, message, deps.now().toISOString());
        if (closed) return null;
        const delay = backoffDelay(attempt, retry, random);
        deps.logger.warn('gateway change will be retried', {
          requestId: item.requestId,
          domain: item.domain,
          code,
          delayMs: delay,
        });
        deps.onRetrying?.(item.requestId, item.domain);
        return delay;
      }
      // A refusal does not prove the change did not happen: an earlier try of this key may have been
      // applied with its answer lost (the client retries with the same Idempotency-Key; a crash or a
      // timeout leaves an attempt open), and the repeat then refused before the gateway's idempotency
      // check (a rotated token: 401/403). The domain's state decides what is recorded.
      const refusal = { requestId: item.requestId, domain: item.domain, code, err: message };
      const found = await currentState(change);
      if (found?.reached) {
        deps.logger.warn('gateway refused a change that is in effect: recorded as done', refusal);
        await recordSucceeded(
          item,
          { version: found.version, changed: null, replayed: false, verifiedAfterError: code },
          { gatewayError: message },
        );
        deps.onGatewayChanged?.([item.domain]);
        return null;
      }
      // The request (and its card) keeps the code; the card says it in plain words. The provider's
      // message, with its paths and status, goes to the audit log and the log.
      deps.logger.warn('gateway refused a change', refusal);
      // The version it failed at: a retry skips the domain when somebody changed it since.
      settle(item.requestId, {
        domain: item.domain,
        error: code,
        observedVersion: found?.version ?? null,
        details: { gatewayError: message },
        outbox: { key, outcome: 'failed', detail: message },
      });
      return null;
    }
  }

  /**
   * Queues the domain's success for its outbox row and the request, with the outcome and the
   * idempotency key in its audit entry. `changed` is null when it cannot be known.
   */
  async function recordSucceeded(
    item: OutboxItem,
    outcome: {
      version: number;
      changed: boolean | null;
      replayed: boolean;
      verifiedAfterError?: string;
      unchanged?: true;
    },
    audit: Record<string, unknown> = {},
  ): Promise<void> {
    settle(item.requestId, {
      ...succeededOutcome(item.domain, outcome, (item.change as DomainChange).idempotencyKey, audit),
      outbox: { key: item.key, outcome: 'succeeded', detail: outcome },
    });
  }

  function settle(requestId: string, outcome: Outcome): void {
    recorderOf(requestId).queue.push(outcome);
    flush(requestId, false);
  }

  /**
   * Writes the request's queued outcomes when a batch is full, when none of its items is queued or being
   * sent (the last ones, or all that is left waits for a retry), or when forced; one write at a time per
   * request, each taking everything queued.
   */
  function flush(requestId: string, force: boolean): void {
    const recorder = recorders.get(requestId);
    if (!recorder || recorder.writing) return;
    if (recorder.queue.length === 0) {
      if (recorder.active === 0 && recorder.waiting === 0 && recorder.lost === null) recorders.delete(requestId);
      return;
    }
    if (!force && recorder.active > 0 && recorder.queue.length < recorder.batch) return;
    const batch = recorder.queue.splice(0);
    recorder.writing = inFlight.track(
      write(requestId, recorder, batch).finally(() => {
        recorder.writing = null;
        flush(requestId, false);
      }),
    );
  }

  async function write(requestId: string, recorder: Recorder, batch: Outcome[]): Promise<void> {
    try {
      // The outbox rows first: once they are written, a restart finds the outcomes there.
      const rows = batch.flatMap((o) => (o.outbox ? [o.outbox] : []));
      await deps.store.completeOutboxItems(rows, deps.now().toISOString());
      await deps.service.recordOutcomes(
        requestId,
        batch.map(({ outbox: _, ...o }) => o),
      );
    } catch (error) {
      // The outcomes are in their outbox rows (a run reads them back from there), or the rows are still
      // pending and the run sends them again with the same key.
      if (running.has(requestId)) recorder.lost = error;
      else if (!closed) rerunLater(requestId, error);
    }
  }

  /** Resolves when every outcome queued for the request is written; throws if one of the writes failed. */
  async function recorded(requestId: string): Promise<void> {
    for (;;) {
      const recorder = recorders.get(requestId);
      if (!recorder) return;
      if (recorder.writing) await recorder.writing;
      else if (recorder.queue.length > 0) flush(requestId, true);
      else {
        const { lost } = recorder;
        recorder.lost = null;
        flush(requestId, false);
        if (lost !== null) throw lost;
        return;
      }
    }
  }

  /** The domain's version and whether every direction the change sets is already as asked; null if unreadable. */
  async function currentState(change: DomainChange): Promise<{ reached: boolean; version: number } | null> {
    try {
      const d = await deps.gateway.getDomain(change.domain);
      return { reached: inEffect(change, d), version: d.version };
    } catch (error) {
      // Cannot tell: the refusal stands (recorded as failed; "Fehlgeschlagene wiederholen" tries again).
      deps.logger.warn('could not read the domain after a refused change', {
        domain: change.domain,
        err: describeError(error),
      });
      return null;
    }
  }

  /** The gateway's domains now, for this run's first calls; null when unreadable or not safe to use. */
  async function snapshot(request: ExecutionRequestLike): Promise<ReadonlyMap<string, DomainState> | null> {
    const pending = Object.entries(request.execution.domains).filter(
      ([, d]) => d.status === 'pending' && d.attempts === 1,
    );
    if (pending.length === 0) return null;
    const change = request.execution.change;
    if (
      request.kind === 'block' &&
      (await releaseInFlight(
        request.id,
        change,
        pending.map(([d]) => d),
      ))
    )
      return null;
    try {
      return new Map((await deps.gateway.listDomains()).map((d) => [d.domain, d]));
    } catch (error) {
      // Without the facts every call is sent; the gateway keeps what is already in effect as it is.
      deps.logger.warn('could not read the gateway before executing', {
        requestId: request.id,
        err: describeError(error),
      });
      return null;
    }
  }

  async function reconcileOnce(requestId: string): Promise<void> {
    const current = await deps.service.get(requestId);
    if (current?.request.state !== 'executing') return;
    const { request } = current;
    const rows = new Map((await deps.store.listOutboxForRequest(requestId)).map((r) => [r.key, r]));
    const recorder = recorderOf(requestId);
    recorder.batch = Math.max(1, Math.ceil(Object.keys(request.execution.domains).length / OUTCOME_BATCHES));
    const toSend: OutboxItem[] = [];
    for (const [domain, exec] of Object.entries(request.execution.domains)) {
      if (exec.status !== 'pending') continue;
      const row = rows.get(outboxKey(exec.key, exec.attempts));
      if (!row) {
        deps.logger.error('executing domain without an outbox row', { requestId, domain });
        continue;
      }
      if (row.status === 'succeeded') {
        // Sent and recorded in the outbox before a crash or a failed write: recorded now, with what the
        // outbox kept of the gateway's answer.
        const result = (row.result ?? {}) as Record<string, unknown> & { unchanged?: boolean };
        recorder.queue.push(succeededOutcome(domain, result, exec.key, {}));
      } else if (row.status === 'failed') {
        recorder.queue.push({ domain, error: row.lastError ?? 'failed', details: {} });
      } else if (!busy.has(row.key)) {
        toSend.push(row);
      }
    }
    // Claimed in one transaction, while the gateway is read; an item another replica holds (or that
    // settled meanwhile) is left out.
    const [live, claimed] = await Promise.all([
      toSend.length > 0 ? snapshot(request) : null,
      deps.store.claimOutboxItems(
        toSend.map((r) => r.key),
        deps.holder,
        deps.now().toISOString(),
        claimMs,
      ),
    ]);
    const work = claimed.map((item) => startItem(item, 0, live, item));
    // Every item settles before the run ends: with Promise.all the first failure (the store gone) ended
    // the run while other items were still recording, so the retry run could find a row already settled,
    // skip it, finish cleanly — and a record that then failed left the request "executing" with nothing
    // in flight.
    const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
    await recorded(requestId);
    if (failed) throw failed.reason;
  }

  function rerunLater(requestId: string, error: unknown): void {
    // Typically the store was unreachable: try again with backoff instead of leaving the request
    // "executing" until the next sweep or restart. Nothing is lost: outbox and idempotency keys
    // make the repeat safe.
    const attempt = failures.get(requestId) ?? 0;
    failures.set(requestId, attempt + 1);
    const delay = backoffDelay(Math.min(attempt, 10), retry, random);
    deps.logger.error('execution interrupted; will try again', {
      requestId,
      delayMs: delay,
      err: describeError(error),
    });
    if (!closed) later(delay, () => run(requestId));
  }

  /** Runs (or resumes) a request's execution; concurrent calls for one request share one run. */
  function run(requestId: string): Promise<void> {
    const existing = running.get(requestId);
    if (existing) return existing;
    const p = inFlight.track(
      reconcileOnce(requestId)
        .then(() => {
          failures.delete(requestId);
        })
        .catch((error) => rerunLater(requestId, error))
        .finally(() => {
          running.delete(requestId);
          // A write that failed after this run had checked its outcomes: the next run records them.
          const recorder = recorders.get(requestId);
          if (recorder && recorder.lost !== null) {
            const { lost } = recorder;
            recorder.lost = null;
            flush(requestId, false);
            if (!closed) rerunLater(requestId, lost);
          }
        }),
    );
    running.set(requestId, p);
    return p;
  }

  return {
    run,

    /** On start-up: every request that was executing when the last process stopped. */
    async resumeAll(): Promise<number> {
      const executing = await deps.store.listRequests({ states: ['executing'], limit: 1000 });
      await Promise.all(executing.map((r) => run(r.id)));
      return executing.length;
    },

    /**
     * Resolves true when nothing is running or waiting to retry, false after timeoutMs (tests, shutdown).
     * A retry's wait counts: with the gateway down it returns only after the retries gave up or succeeded.
     */
    idle(timeoutMs = 30_000): Promise<boolean> {
      return inFlight.drain(timeoutMs);
    },

    /** Stops: no new retries, waiting ones are dropped (their outbox rows resume on the next start). */
    async close(drainMs = 5000): Promise<void> {
      closed = true;
      for (const cancel of [...waits]) cancel();
      await inFlight.drain(drainMs);
    },
  };
}

function succeededOutcome(
  domain: string,
  result: Record<string, unknown> & { unchanged?: boolean },
  key: string,
  audit: Record<string, unknown>,
): Outcome {
  const { unchanged, ...gateway } = result;
  return {
    domain,
    error: null,
    ...(unchanged === true ? { unchanged: true } : {}),
    details: { gateway: { ...gateway, key }, ...audit },
  };
}

export type ReleaseExecutor = ReturnType<typeof createReleaseExecutor>;
