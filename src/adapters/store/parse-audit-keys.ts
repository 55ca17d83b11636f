// The audit log's keys (AUDIT_KEY, AUDIT_KEY_FILE): `<id>:<secret>` entries, one per line or separated by
// commas, `#` starts a comment. The LAST entry is the current key, which signs new entries; the ones
// before it are retired keys that only verify old entries. Rotating is appending a new key (README
// "Audit log": key rotation). The database never holds a secret, only the key id next to each MAC.

/** Plain data, so that it can be handed to a child process like the rest of the store options. */
export interface AuditKeyring {
  currentId: string;
  keys: Record<string, string>;
}

// 32 characters: 128 bits even for a hex secret; `openssl rand -hex 32` gives 64.
export const MIN_SECRET_LENGTH = 32;
const keyId = /^[A-Za-z0-9._-]{1,64}$/;

export type ParsedAuditKeys = { ok: true; keyring: AuditKeyring } | { ok: false; problem: string };

export function parseAuditKeys(text: string): ParsedAuditKeys {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
  if (entries.length === 0) return { ok: false, problem: 'expected at least one key as <id>:<secret>' };
  const keys: Record<string, string> = {};
  let currentId = '';
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon).trim() : '';
    const secret = colon > 0 ? entry.slice(colon + 1).trim() : '';
    // Never quote the entry: it holds the secret.
    if (!keyId.test(id)) {
      return { ok: false, problem: `key ${i + 1}: expected <id>:<secret>, the id made of letters, digits, . _ -` };
    }
    if (secret.length < MIN_SECRET_LENGTH) {
      return { ok: false, problem: `key ${id}: the secret must be at least ${MIN_SECRET_LENGTH} characters` };
    }
    if (id in keys) return { ok: false, problem: `key ${id} is listed twice` };
    keys[id] = secret;
    currentId = id;
  }
  return { ok: true, keyring: { currentId, keys } };
}
