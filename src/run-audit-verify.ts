import { createStore } from './adapters/store/create-store.ts';
import { formatAuditVerification } from './adapters/store/format-audit-verification.ts';
import type { Config } from './config.ts';

// `lagebot audit verify`: checks the audit log's hash chain in the configured store (SQLite under
// DATA_DIR, or DATABASE_URL). Exit code 0 when intact, 3 when broken — usable from cron/monitoring.
export async function runAuditVerify(config: Config, lang: 'de' | 'en' = 'de'): Promise<number> {
  const store = await createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    const result = await store.verifyAuditChain();
    console.log(formatAuditVerification(result, lang));
    return result.ok ? 0 : 3;
  } finally {
    await store.close();
  }
}
