import type { AuditAnchor } from './store-port.ts';

/** One line of AUDIT_ANCHOR_FILE (and of the anchor's Teams post): JSON, keys in a fixed order. */
export function formatAnchorLine(a: AuditAnchor): string {
  return JSON.stringify({ seq: a.seq, hash: a.hash, at: a.at, keyId: a.keyId, mac: a.mac });
}
