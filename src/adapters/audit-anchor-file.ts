import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { formatAnchorLine } from '../domain/format-anchor-line.ts';
import type { AuditAnchor, AuditHead } from '../domain/store-port.ts';
import { macAuditAnchor } from './store/audit-chain.ts';
import type { AuditKeyring } from './store/parse-audit-keys.ts';

// The anchors of the audit chain (docs/decisions/security.md): made and MACed with the audit key, appended
// to AUDIT_ANCHOR_FILE — a line per commit, never a rewrite — and read back by `lagebot audit verify`. An
// anchor ahead of the table is a deleted tail or an emptied table, an anchor whose hash differs from its
// entry a rewritten chain; the MAC tells a forged line. When anchors are made and posted:
// src/services/anchor-audit-log.ts.

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

/** Appends one anchor line (creating the file and its folder); throws when the file cannot be written. */
export function appendAuditAnchor(path: string, anchor: AuditAnchor): void {
  mkdirSync(dirname(path), { recursive: true });
  // O_APPEND: a line per write, never a rewrite; readable by the bot's user only.
  appendFileSync(path, `${formatAnchorLine(anchor)}\n`, { mode: 0o600 });
}
