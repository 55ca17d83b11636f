// One-time codes of typed approvals ("approving from a phone", docs/decisions/nudges.md). `genehmigen`
// issues a code to one person for the request version they were shown; `bestätigen` redeems it. Pure:
// the service stores the list (one document per request) and passes the clock in.

export interface DecisionCode {
  code: string;
  personId: string;
  /** The request version the confirmation text was made from; a newer version makes the code outdated. */
  version: number;
  /** The fresh policy was worse than at request time: confirming is the override path. */
  override: boolean;
  /** Below the policy with no justification on record: the confirmation must bring one. */
  justificationRequired?: boolean;
  issuedAt: string;
  /** Codes die with the request. */
  expiresAt: string;
  usedAt: string | null;
  /** Wrong codes typed against this one; after MAX_WRONG_TRIES it is void. */
  wrongTries: number;
}

export const DECISION_CODE_LENGTH = 6;
export const MAX_WRONG_TRIES = 5;

export type RedeemOutcome =
  | { ok: true; code: DecisionCode; codes: DecisionCode[] }
  | {
      ok: false;
      reason: 'no_code' | 'wrong_code' | 'used' | 'other_person' | 'outdated' | 'expired' | 'too_many_tries';
      /** What to store (a wrong try is counted), or null when nothing changes. */
      codes: DecisionCode[] | null;
    };

/** Parses the stored document; anything unexpected counts as no codes. */
export function decisionCodesOf(data: unknown): DecisionCode[] {
  const list = (data as { codes?: unknown } | null | undefined)?.codes;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is DecisionCode =>
      typeof c?.code === 'string' && typeof c?.personId === 'string' && typeof c?.version === 'number',
  );
}

/** A new code replaces the person's earlier unused ones: only the newest confirmation text is valid. */
export function issueDecisionCode(codes: readonly DecisionCode[], code: DecisionCode): DecisionCode[] {
  return [...codes.filter((c) => c.personId !== code.personId || c.usedAt !== null), code];
}

export function normalizeDecisionCode(typed: string): string {
  return typed.replace(/[\s-]/g, '');
}

export function isDecisionCodeShape(typed: string): boolean {
  return new RegExp(`^\\d{${DECISION_CODE_LENGTH}}$`).test(normalizeDecisionCode(typed));
}

export function redeemDecisionCode(
  codes: readonly DecisionCode[],
  input: { personId: string; code: string; currentVersion: number; now: string },
): RedeemOutcome {
  const typed = normalizeDecisionCode(input.code);
  const nowMs = Date.parse(input.now);
  const match = codes.find((c) => c.code === typed);
  const mine = codes.filter((c) => c.personId === input.personId && c.usedAt === null);
  if (!match) {
    if (mine.length === 0) return { ok: false, reason: 'no_code', codes: null };
    // Counted against the person's open codes, so six digits cannot be tried through.
    const counted = codes.map((c) => (mine.includes(c) ? { ...c, wrongTries: c.wrongTries + 1 } : c));
    return { ok: false, reason: 'wrong_code', codes: counted };
  }
  if (match.personId !== input.personId) return { ok: false, reason: 'other_person', codes: null };
  if (match.usedAt !== null) return { ok: false, reason: 'used', codes: null };
  if (match.wrongTries >= MAX_WRONG_TRIES) return { ok: false, reason: 'too_many_tries', codes: null };
  if (nowMs >= Date.parse(match.expiresAt)) return { ok: false, reason: 'expired', codes: null };
  if (match.version !== input.currentVersion) return { ok: false, reason: 'outdated', codes: null };
  const used = { ...match, usedAt: input.now };
  return { ok: true, code: used, codes: codes.map((c) => (c === match ? used : c)) };
}
