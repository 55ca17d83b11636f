import type { Caller } from '../domain/caller.ts';
import {
  type DecisionCode,
  decisionCodesOf,
  isDecisionCodeShape,
  issueDecisionCode,
  type RedeemOutcome,
  redeemDecisionCode,
} from '../domain/decision-code.ts';
import type { Logger } from '../domain/logger.ts';
import type { Store } from '../domain/store-port.ts';
import type { ActOutcome, ConfirmFacts, ReleaseService } from './release-service.ts';

// Decisions typed in chat, for the Teams mobile apps where Action.Execute does not work
// (docs/decisions/nudges.md). They go through the same release-service methods as the card clicks, so
// the checks, the confirmation step and the audit are the card's: `genehmigen` is the "Genehmigen" click
// (the confirmation view, as text, plus a one-time code), `bestätigen <code>` the "Bestätigen" click.
// A code is bound to the person and the request version it was issued for, is used once, and dies with
// the request.

export interface TypedDecisionDeps {
  release: ReleaseService;
  store: Pick<Store, 'readDecisionCodes' | 'writeDecisionCodes' | 'appendAudit'>;
  now: () => Date;
  /** Six random digits. */
  newCode: () => string;
  logger: Logger;
}

export type CodeRefusal = Exclude<RedeemOutcome, { ok: true }>['reason'] | 'malformed' | 'missing';

export type IssueOutcome = { kind: 'code'; facts: ConfirmFacts; code: string; expiresAt: string } | ActOutcome;

export type ConfirmOutcome =
  | ActOutcome
  | { kind: 'code_refused'; reason: CodeRefusal }
  | { kind: 'justification_missing' };

// A handful of rounds is plenty: two writers on one request's codes at the same moment is already rare.
const WRITE_ROUNDS = 10;

/** As the card's confirmation view decides it: below the policy, and no justification on record yet. */
function justificationRequired(facts: ConfirmFacts): boolean {
  const { request, fresh, worse } = facts;
  const round = request.state === 'retry_pending' ? (request.execution.pendingRetry ?? null) : null;
  const below = !fresh.evaluation.meets || (round ? round.requiredApprovals : request.requiredApprovals) === 2 || worse;
  const onRecord = round ? round.justification : request.justification;
  return below && !onRecord;
}

export function createTypedDecisions(deps: TypedDecisionDeps) {
  const nowIso = () => deps.now().toISOString();

  async function audit(
    request: { id: string; tenantId: string; scope: { id: string } },
    caller: Caller,
    action: string,
    details: Record<string, unknown>,
  ) {
    await deps.store.appendAudit([
      {
        at: nowIso(),
        actor: caller.aadObjectId ?? caller.userId,
        action,
        tenantId: request.tenantId,
        scopeId: request.scope.id,
        requestId: request.id,
        details: { by: caller.name, ...details },
      },
    ]);
  }

  return {
    /** `genehmigen <Antrag>`: the confirmation view's facts and a fresh code for this caller and version. */
    async issue(caller: Caller, requestId: string): Promise<IssueOutcome> {
      const facts = await deps.release.confirmFacts(caller, requestId);
      if ('kind' in facts) return facts;
      const personId = caller.aadObjectId!;
      const code: DecisionCode = {
        code: deps.newCode(),
        personId,
        version: facts.version,
        override: facts.worse,
        justificationRequired: justificationRequired(facts),
        issuedAt: nowIso(),
        expiresAt: facts.request.expiresAt!,
        usedAt: null,
        wrongTries: 0,
      };
      for (let round = 0; round < WRITE_ROUNDS; round++) {
        const doc = await deps.store.readDecisionCodes(requestId);
        const next = issueDecisionCode(decisionCodesOf(doc?.data), code);
        const written = await deps.store.writeDecisionCodes(requestId, { codes: next }, doc?.etag ?? null);
        if (written.ok) {
          await audit(facts.request, caller, 'release.code_issued', { version: facts.version, override: facts.worse });
          return { kind: 'code', facts, code: code.code, expiresAt: code.expiresAt };
        }
      }
      return { kind: 'unavailable', what: 'store' };
    },

    /**
     * `bestätigen <Antrag> <Code> [Rechtfertigung]`: redeems the code, then the confirmed approval exactly
     * as the card's "Bestätigen" (or, on a block awaiting confirmation, `bestätigen <Antrag>` confirms it).
     */
    async confirm(
      caller: Caller,
      requestId: string,
      typedCode: string | null,
      justification: string | null,
    ): Promise<ConfirmOutcome> {
      const current = await deps.release.get(requestId);
      if (!current) return { kind: 'not_found' };
      if (current.request.tenantId !== caller.tenantId) return { kind: 'wrong_tenant' };
      if (current.request.kind === 'block') {
        return deps.release.act(caller, requestId, current.version, 'confirm_block');
      }
      if (typedCode === null) return { kind: 'code_refused', reason: 'missing' };
      if (!isDecisionCodeShape(typedCode)) return { kind: 'code_refused', reason: 'malformed' };
      if (!caller.aadObjectId) return { kind: 'wrong_tenant' };
      for (let round = 0; round < WRITE_ROUNDS; round++) {
        const doc = await deps.store.readDecisionCodes(requestId);
        const redeemed = redeemDecisionCode(decisionCodesOf(doc?.data), {
          personId: caller.aadObjectId,
          code: typedCode,
          currentVersion: current.version,
          now: nowIso(),
        });
        if (!redeemed.ok) {
          if (redeemed.codes && doc) {
            const counted = await deps.store.writeDecisionCodes(requestId, { codes: redeemed.codes }, doc.etag);
            if (!counted.ok) continue;
          }
          await audit(current.request, caller, 'release.code_refused', { reason: redeemed.reason });
          return { kind: 'code_refused', reason: redeemed.reason };
        }
        // Below the policy the justification is part of the typed confirmation, as on the card's form.
        if (redeemed.code.justificationRequired && !justification) return { kind: 'justification_missing' };
        // Used before it is acted on: of two replicas redeeming the same code, one write wins.
        const used = await deps.store.writeDecisionCodes(requestId, { codes: redeemed.codes }, doc!.etag);
        if (!used.ok) continue;
        return deps.release.act(caller, requestId, redeemed.code.version, 'approve', {
          override: redeemed.code.override,
          justification,
        });
      }
      return { kind: 'unavailable', what: 'store' };
    },

    /** `ablehnen`, `zurückziehen`, `wiederholen`: the card's buttons on the request as it is now. */
    async act(
      caller: Caller,
      requestId: string,
      verb: 'reject' | 'cancel' | 'retry_failed',
      reason: string | null = null,
    ): Promise<ActOutcome> {
      const current = await deps.release.get(requestId);
      if (!current) return { kind: 'not_found' };
      return deps.release.act(caller, requestId, current.version, verb, { reason });
    },
  };
}

export type TypedDecisions = ReturnType<typeof createTypedDecisions>;
