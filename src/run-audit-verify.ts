import { readAuditAnchors } from './adapters/anchor-audit-log.ts';
import { loadAuditKeys } from './adapters/load-audit-keys.ts';
import { createStore } from './adapters/store/create-store.ts';
import { formatAuditVerification } from './adapters/store/format-audit-verification.ts';
import { type Config, ConfigError } from './config.ts';
import { silentLogger } from './domain/logger.ts';
import type { AuditVerification } from './domain/store-port.ts';

// `lagebot audit verify`: checks the audit log in the configured store (SQLite under DATA_DIR, or
// DATABASE_URL) — the hash chain, each entry's MAC with AUDIT_KEY/AUDIT_KEY_FILE (or local mode's key in
// DATA_DIR), the anchors in AUDIT_ANCHOR_FILE, and every request row against its audit entries. Prints one
// line. Exit code 0 when intact, 3 when not (monitoring waits for 3), 2 for a configuration problem.
export async function runAuditVerify(config: Config, lang: 'de' | 'en' = 'de'): Promise<number> {
  let keys: ReturnType<typeof loadAuditKeys>;
  try {
    keys = loadAuditKeys(config, { generate: false, logger: silentLogger });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.problems) console.error(line);
    return 2;
  }
  const read = config.audit.anchorFile ? readAuditAnchors(config.audit.anchorFile) : { ok: true as const, anchors: [] };
  let result: AuditVerification;
  if (!read.ok) {
    result = { ok: false, count: 0, brokenAtSeq: null, reason: 'anchor_forged', anchorLine: read.line };
  } else {
    const store = await createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, auditKeys: keys });
    try {
      result = await store.verifyAuditChain({ anchors: read.anchors });
    } finally {
      await store.close();
    }
  }
  console.log(formatAuditVerification(result, lang));
  return result.ok ? 0 : 3;
}
