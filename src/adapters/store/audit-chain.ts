import { createHash } from 'node:crypto';
import type { AuditBreakReason, AuditEntry } from '../../domain/store-port.ts';

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

export type AuditHashInput = Omit<AuditEntry, 'hash' | 'prevHash'>;

// hash = sha256(prevHash + canonical JSON of the entry's own fields). seq is hashed too, so entries
// cannot be reordered without breaking the chain.
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
