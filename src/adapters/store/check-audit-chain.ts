import type {
  AuditAnchor,
  AuditBreakReason,
  AuditEntry,
  AuditVerification,
  RequestStamp,
  StoredRequest,
} from '../../domain/store-port.ts';
import { checkAuditLink, macAuditAnchor, macAuditHash, macMatches, stampRequest } from './audit-chain.ts';
import type { AuditKeyring } from './parse-audit-keys.ts';

// `audit verify` as a walk: the store feeds every entry in seq order, then every request row; the first
// thing wrong ends it with the entry's number and a reason. Kept apart from the SQL so that both engines
// and the tests share one set of rules:
// - each entry links to its predecessor (seq, prevHash, hash) and its JSON parses;
// - with a keyring, each entry's MAC is right and made with a known key; an entry without a MAC may only
//   come before the first keyed one (written before the key existed), and the newest entry must be keyed;
// - each anchor's MAC is right, the entry at its seq has its hash (and a MAC, if the anchor has one), and no
//   anchor is ahead of the table (truncated tail, emptied table);
// - every request row is what the newest audit entry about it recorded, and every request the log recorded
//   is still there.

/** An entry as read from the table: `undefined` for a JSON column that did not parse. */
export type RawAuditEntry = Omit<AuditEntry, 'details' | 'request'> & {
  details: unknown | undefined;
  request: RequestStamp | null | undefined;
};

type Failure = Extract<AuditVerification, { ok: false }>;

export interface AuditChainCheck {
  /** The next entry in seq order; a failure ends the walk. */
  entry(e: RawAuditEntry): Failure | null;
  /** After the last entry. */
  endOfChain(): Failure | null;
  /** Every request row, after endOfChain. */
  request(r: StoredRequest): Failure | null;
  /** After the last request row. */
  finish(): AuditVerification;
}

export function createAuditChainCheck(options: { keyring?: AuditKeyring; anchors?: AuditAnchor[] }): AuditChainCheck {
  const { keyring } = options;
  let count = 0;
  let macs = 0;
  let prev: AuditEntry | null = null;
  let keyedSeen = false;
  const stamps = new Map<string, RequestStamp & { seq: number }>();
  const seenRequests = new Set<string>();
  let requests = 0;

  function fail(reason: AuditBreakReason, seq: number | null, anchorLine?: number, requestId?: string): Failure {
    return {
      ok: false,
      count,
      brokenAtSeq: seq,
      reason,
      ...(anchorLine !== undefined ? { anchorLine } : {}),
      ...(requestId !== undefined ? { requestId } : {}),
    };
  }

  const anchors = new Map<number, AuditAnchor>();
  let anchorProblem: Failure | null = null;
  for (const a of options.anchors ?? []) {
    if (!anchorProblem && keyring && a.mac !== null) {
      const secret = a.keyId === null ? undefined : keyring.keys[a.keyId];
      if (secret === undefined) anchorProblem = fail('unknown_key', null, a.line);
      else if (!macMatches(macAuditAnchor(secret, a), a.mac)) anchorProblem = fail('anchor_forged', null, a.line);
    }
    const known = anchors.get(a.seq);
    // Two anchors for one seq that disagree: one of them is not ours.
    if (!anchorProblem && known && known.hash !== a.hash) anchorProblem = fail('anchor_forged', a.seq, a.line);
    if (!known || (known.mac === null && a.mac !== null)) anchors.set(a.seq, a);
  }
  let maxAnchor = 0;
  for (const seq of anchors.keys()) maxAnchor = Math.max(maxAnchor, seq);

  return {
    entry(raw) {
      count += 1;
      if (anchorProblem) return anchorProblem;
      if (raw.details === undefined || raw.request === undefined) return fail('invalid_json', raw.seq);
      const e: AuditEntry = { ...raw, details: raw.details, request: raw.request };
      const linkProblem = checkAuditLink(prev, e);
      if (linkProblem) return fail(linkProblem, e.seq);
      if (keyring) {
        if (e.mac === null || e.keyId === null) {
          if (keyedSeen) return fail('mac_missing', e.seq);
        } else {
          const secret = keyring.keys[e.keyId];
          if (secret === undefined) return fail('unknown_key', e.seq);
          if (!macMatches(macAuditHash(secret, e.keyId, e.hash), e.mac)) return fail('mac_mismatch', e.seq);
          keyedSeen = true;
          macs += 1;
        }
      }
      const anchor = anchors.get(e.seq);
      if (anchor) {
        if (anchor.hash !== e.hash) return fail('anchor_mismatch', e.seq, anchor.line);
        // A keyed anchor for an entry without a MAC: the MACs were stripped (and the chain perhaps rewritten).
        if (keyring && anchor.mac !== null && e.mac === null) return fail('mac_missing', e.seq, anchor.line);
      }
      if (e.requestId !== null && e.request !== null) stamps.set(e.requestId, { ...e.request, seq: e.seq });
      prev = e;
      return null;
    },

    endOfChain() {
      if (anchorProblem) return anchorProblem;
      const last = prev as AuditEntry | null;
      const lastSeq = last?.seq ?? 0;
      if (maxAnchor > lastSeq) return fail('truncated', lastSeq + 1, anchors.get(maxAnchor)?.line);
      // The newest entries carry no MAC: appended past the store, or the MACs were stripped.
      if (keyring && last && last.mac === null) return fail('mac_missing', last.seq);
      return null;
    },

    request(r) {
      requests += 1;
      seenRequests.add(r.id);
      const stamp = stamps.get(r.id);
      if (!stamp) return fail('request_unaudited', null, undefined, r.id);
      const actual = stampRequest(r);
      if (actual.state !== stamp.state || actual.version !== stamp.version || actual.row !== stamp.row) {
        return fail('request_state_mismatch', stamp.seq, undefined, r.id);
      }
      return null;
    },

    finish() {
      for (const [id, stamp] of stamps) {
        if (!seenRequests.has(id)) return fail('request_missing', stamp.seq, undefined, id);
      }
      return { ok: true, count, macs, anchors: anchors.size, requests };
    },
  };
}
