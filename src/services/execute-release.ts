import { backoffDelay } from '../domain/backoff.ts';
import { describeError, messageOf } from '../domain/describe-error.ts';
import { isLagebotError } from '../domain/errors.ts';
import type { Logger } from '../domain/logger.ts';
import type { DomainState } from '../domain/model.ts';
import type { DomainChange, GatewayPort } from '../domain/ports.ts';
import type { ExecutionRequest, GatewayChange } from '../domain/release-request.ts';
import { sharedDomains } from '../domain/request-overlap.ts';
import type { OutboxItem, Store } from '../domain/store-port.ts';
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

export interface ExecutorDeps {
  store: Store;
  gateway: GatewayPort;
  service: ReleaseService;
  holder: string;
  now: () => Date;
  logger: Logger;
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
  // Gateway calls, reconciliations and the waits before a retry: idle() and close() wait for all of it.
  const inFlight = createInFlight();
  const waits = new Set<() => void>();
  const running = new Map<string, Promise<void>>();
  const failures = new Map<string, number>();
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

  async function executeItem(
    row: Pick<OutboxItem, 'key' | 'requestId' | 'change'>,
    attempt: number,
    live: ReadonlyMap<string, DomainState> | null = null,
  ): Promise<void> {
    const { key } = row;
    const nowIso = deps.now().toISOString();
    const asked = row.change as DomainChange;
    if (await releaseInFlight(row.requestId, asked, [asked.domain])) {
      // After the wait the snapshot is stale: the call is sent (the gateway is idempotent).
      later(backoffDelay(Math.min(attempt, 5), retry, random), () =>
        executeItem(row, attempt + 1).catch((e) =>
          deps.logger.error('block wait failed', { key, err: describeError(e) }),
        ),
      );
      return;
    }
    const item = await deps.store.claimOutbox(key, deps.holder, nowIso, claimMs);
    if (!item) return; // another replica has it, or it is settled already
    const change = item.change as DomainChange;
    try {
      const before = item.attempts === 1 ? live?.get(change.domain) : undefined;
      if (before && inEffect(change, before)) {
        // First call for this key and the gateway already shows what is asked: nothing is sent.
        await recordSucceeded(item, { version: before.version, changed: false, replayed: false }, {}, true);
        return;
      }
      const res = await deps.gateway.changeDomain(change);
      await recordSucceeded(item, { version: res.domain.version, changed: res.changed, replayed: res.replayed });
      if (res.changed !== false) deps.onGatewayChanged?.([item.domain]);
    } catch (error) {
      const code = isLagebotError(error) ? error.code : 'UNEXPECTED';
      const message = messageOf(error);
      if (TRANSIENT.has(code) && !closed) {
        // The gateway did not answer: the change may or may not have happened. Retrying with the same
        // Idempotency-Key is safe either way; the request stays "executing" until it answers.
        await deps.store.releaseOutbox(key, deps.holder, message, deps.now().toISOString());
        const delay = backoffDelay(attempt, retry, random);
        deps.logger.warn('gateway change will be retried', {
          requestId: item.requestId,
          domain: item.domain,
          code,
          delayMs: delay,
        });
        deps.onRetrying?.(item.requestId, item.domain);
        later(delay, () =>
          executeItem(row, attempt + 1).catch((e) => deps.logger.error('retry failed', { key, err: describeError(e) })),
        );
        return;
      }
      if (closed && TRANSIENT.has(code)) {
        await deps.store.releaseOutbox(key, deps.holder, message, deps.now().toISOString());
        return;
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
        return;
      }
      await deps.store.completeOutbox(key, 'failed', message, deps.now().toISOString());
      // The request (and its card) keeps the code; the card says it in plain words. The provider's
      // message, with its paths and status, goes to the audit log and the log.
      deps.logger.warn('gateway refused a change', refusal);
      // The version it failed at: a retry skips the domain when somebody changed it since.
      await deps.service.applySystemEvent(
        item.requestId,
        { type: 'domain_failed', domain: item.domain, error: code, observedVersion: found?.version ?? null },
        { gatewayError: message },
      );
    }
  }

  /**
   * The outcome into the item's outbox row, then the domain's success into the request, the outcome
   * and the idempotency key in its audit entry. `changed` is null when it cannot be known.
   */
  async function recordSucceeded(
    item: OutboxItem,
    outcome: { version: number; changed: boolean | null; replayed: boolean; verifiedAfterError?: string },
    audit: Record<string, unknown> = {},
    unchanged = false,
  ): Promise<void> {
    await deps.store.completeOutbox(item.key, 'succeeded', outcome, deps.now().toISOString());
    await deps.service.applySystemEvent(
      item.requestId,
      { type: 'domain_succeeded', domain: item.domain, ...(unchanged ? { unchanged: true } : {}) },
      { gateway: { ...outcome, key: (item.change as DomainChange).idempotencyKey }, ...audit },
    );
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
    const live = await snapshot(request);
    const work: Promise<void>[] = [];
    for (const [domain, exec] of Object.entries(request.execution.domains)) {
      if (exec.status !== 'pending') continue;
      const row = rows.get(outboxKey(exec.key, exec.attempts));
      if (!row) {
        deps.logger.error('executing domain without an outbox row', { requestId, domain });
        continue;
      }
      if (row.status === 'succeeded') {
        work.push(deps.service.applySystemEvent(requestId, { type: 'domain_succeeded', domain }).then(() => {}));
      } else if (row.status === 'failed') {
        work.push(
          deps.service
            .applySystemEvent(requestId, { type: 'domain_failed', domain, error: row.lastError ?? 'failed' })
            .then(() => {}),
        );
      } else {
        work.push(executeItem(row, 0, live));
      }
    }
    // Every item settles before the run ends: with Promise.all the first failure (the store gone) ended
    // the run while other items were still recording, so the retry run could find a row already settled,
    // skip it, finish cleanly — and a record that then failed left the request "executing" with nothing
    // in flight.
    const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  return {
    /** Runs (or resumes) a request's execution; concurrent calls for one request share one run. */
    run(requestId: string): Promise<void> {
      const existing = running.get(requestId);
      if (existing) return existing;
      const p = inFlight.track(
        reconcileOnce(requestId)
          .then(() => {
            failures.delete(requestId);
          })
          .catch((error) => {
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
            if (!closed) later(delay, () => this.run(requestId));
          })
          .finally(() => running.delete(requestId)),
      );
      running.set(requestId, p);
      return p;
    },

    /** On start-up: every request that was executing when the last process stopped. */
    async resumeAll(): Promise<number> {
      const executing = await deps.store.listRequests({ states: ['executing'], limit: 1000 });
      await Promise.all(executing.map((r) => this.run(r.id)));
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

export type ReleaseExecutor = ReturnType<typeof createReleaseExecutor>;
