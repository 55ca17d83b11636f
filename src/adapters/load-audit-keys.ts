import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError } from '../config.ts';
import type { Logger } from '../domain/logger.ts';
import { type AuditKeyring, parseAuditKeys } from './store/parse-audit-keys.ts';

// Where the audit log's key comes from (issue 13): AUDIT_KEY, or AUDIT_KEY_FILE, or — in local mode only —
// a key generated once into DATA_DIR. In production the key must live where the database's administrator
// cannot read it; a key next to the SQLite file protects against nothing but accidents, hence the warning.

export const LOCAL_KEY_FILE = 'audit-key';

export interface LoadAuditKeysOptions {
  /** Local mode without a key: create one in DATA_DIR (the bot) or only read an existing one (`audit verify`). */
  generate: boolean;
  logger: Logger;
}

function fromFile(path: string, variable: string): AuditKeyring {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `Invalid configuration: ${variable}=${JSON.stringify(path)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  const parsed = parseAuditKeys(text);
  if (!parsed.ok)
    throw new ConfigError([`Invalid configuration: ${variable}=${JSON.stringify(path)}: ${parsed.problem}`]);
  return parsed.keyring;
}

/** The keyring, or undefined when there is none to use (`audit verify` in local mode before any key existed). */
export function loadAuditKeys(config: Config, options: LoadAuditKeysOptions): AuditKeyring | undefined {
  const { keySecret, keyFile } = config.audit;
  if (keySecret) {
    const parsed = parseAuditKeys(keySecret);
    // loadConfig has checked it already; this is for a Config built by hand.
    if (!parsed.ok) throw new ConfigError([`Invalid configuration: AUDIT_KEY=(hidden): ${parsed.problem}`]);
    return parsed.keyring;
  }
  if (keyFile) return fromFile(keyFile, 'AUDIT_KEY_FILE');
  if (!config.localMode) {
    throw new ConfigError([
      'Invalid configuration: AUDIT_KEY and AUDIT_KEY_FILE are empty: outside local mode the audit log needs a key ' +
        'the database does not hold (generate one with `openssl rand -hex 32`, see README "Audit log")',
    ]);
  }
  if (config.dataDir === ':memory:') {
    if (!options.generate) return undefined;
    options.logger.warn('AUDIT_KEY not set: the audit log of this in-memory store is keyed with a throwaway key');
    return { currentId: 'memory', keys: { memory: randomBytes(32).toString('hex') } };
  }
  const path = join(config.dataDir, LOCAL_KEY_FILE);
  if (existsSync(path)) return fromFile(path, `the local key file ${path} (AUDIT_KEY_FILE)`);
  if (!options.generate) return undefined;
  mkdirSync(config.dataDir, { recursive: true });
  const id = `local-${randomBytes(4).toString('hex')}`;
  try {
    // wx: never overwrite a key another process wrote a moment ago; then that one is the key.
    writeFileSync(path, `${id}:${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return fromFile(path, `the local key file ${path}`);
    throw error;
  }
  options.logger.warn(
    `AUDIT_KEY not set: local mode generated the audit log's key into ${path}. Keep it: without it the log cannot be verified. In production set AUDIT_KEY or AUDIT_KEY_FILE to a key the database's administrators cannot read.`,
    { keyFile: path },
  );
  return fromFile(path, `the local key file ${path}`);
}
