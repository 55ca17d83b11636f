import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type {
  AuditAnchor,
  AuditBreakReason,
  AuditEntry,
  RequestStamp,
  StoredRequest,
} from '../../domain/store-port.ts';

// prevHash of the first entry.
export const GENESIS_HASH = '0'.repeat(64);

// JSON with object keys sorted at every level, so the same value always hashes the same no matter in which
// order its keys were built or how the engine stored the text. undefined members are dropped, as JSON does.
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const parts: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export type AuditHashInput = Omit<AuditEntry, 'hash' | 'prevHash' | 'keyId' | 'mac'>;

// hash = sha256(prevHash + canonical JSON of the entry's own fields). seq is hashed too, so entries
// cannot be reordered without breaking the chain. `request` (the state a request write left behind,
// since migration 003) is left out when null, so entries written before it hash as they always did.
export function hashAuditEntry(prevHash: string, e: AuditHashInput): string {
  const body = canonicalJson({
    seq: e.seq,
    at: e.at,
    tenantId: e.tenantId,
    actor: e.actor,
    action: e.action,
    scopeId: e.scopeId,
    requestId: e.requestId,
    details: e.details,
    request: e.request ?? undefined,
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

// Checks one entry against its predecessor (null for the first). Pure, so verifyAuditChain can stream.
export function checkAuditLink(prev: Pick<AuditEntry, 'seq' | 'hash'> | null, e: AuditEntry): AuditBreakReason | null {
  const expectedSeq = prev ? prev.seq + 1 : 1;
  if (e.seq !== expectedSeq) return 'seq_gap';
  if (e.prevHash !== (prev ? prev.hash : GENESIS_HASH)) return 'prev_hash_mismatch';
  if (e.hash !== hashAuditEntry(e.prevHash, e)) return 'hash_mismatch';
  return null;
}

// The hash chain alone is public arithmetic: whoever can write the table can recompute every hash after an
// edit. Each entry's hash is therefore also MACed with a key the database does not hold (issue 13). The
// hash covers the previous hash, so one valid MAC vouches for every entry before it as well.
export function macAuditHash(secret: string, keyId: string, hash: string): string {
  return createHmac('sha256', secret).update(`lagebot/audit-entry/${keyId}/${hash}`).digest('hex');
}

/** A checkpoint of the chain's head; its MAC is made under another label than an entry's, so neither passes for the other. */
export function macAuditAnchor(secret: string, a: Pick<AuditAnchor, 'seq' | 'hash' | 'at' | 'keyId'>): string {
  const body = canonicalJson({ seq: a.seq, hash: a.hash, at: a.at, keyId: a.keyId });
  return createHmac('sha256', secret).update(`lagebot/audit-anchor/${body}`).digest('hex');
}

export function macMatches(expected: string, actual: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(actual, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

// What a request write left in the requests table, as the audit entry of that write records it: state and
// version in the clear (for the message when they differ) and a hash of the whole row.
export function stampRequest(r: StoredRequest): RequestStamp {
  const row = canonicalJson({
    id: r.id,
    tenantId: r.tenantId,
    kind: r.kind,
    state: r.state,
    version: r.version,
    requesterId: r.requesterId,
    scopeId: r.scopeId,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
    data: r.data,
  });
  return { state: r.state, version: r.version, row: createHash('sha256').update(row).digest('hex') };
}
