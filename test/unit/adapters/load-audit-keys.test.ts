import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LOCAL_KEY_FILE, loadAuditKeys } from '../../../src/adapters/load-audit-keys.ts';
import { parseAuditKeys } from '../../../src/adapters/store/parse-audit-keys.ts';
import { ConfigError, loadConfig } from '../../../src/config.ts';
import type { Logger } from '../../../src/domain/logger.ts';

const root = mkdtempSync(join(tmpdir(), 'lagebot-keys-'));
after(() => rmSync(root, { recursive: true, force: true }));

const secretA = 'a'.repeat(32);
const secretB = 'b'.repeat(64);

function recorder() {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m) => void warnings.push(m), error() {} };
  return { logger, warnings };
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

describe('parseAuditKeys', () => {
  test('id:secret entries, by line or comma, comments allowed; the last is current', () => {
    assert.deepEqual(parseAuditKeys(`# rotated 2026-12-01\nold:${secretA}\n\nnew:${secretB} # current\n`), {
      ok: true,
      keyring: { currentId: 'new', keys: { old: secretA, new: secretB } },
    });
    assert.deepEqual(parseAuditKeys(`k1:${secretA}, k2:${secretB}`), {
      ok: true,
      keyring: { currentId: 'k2', keys: { k1: secretA, k2: secretB } },
    });
  });

  test('refuses short secrets, bad ids, duplicates and nothing at all, without quoting a secret', () => {
    for (const [text, problem] of [
      ['', /at least one key/],
      ['k1:short', /at least 32 characters/],
      [secretA, /key 1: expected <id>:<secret>/],
      [`bad id:${secretA}`, /key 1/],
      [`k1:${secretA}\nk1:${secretB}`, /listed twice/],
    ] as const) {
      const parsed = parseAuditKeys(text);
      assert.equal(parsed.ok, false, text);
      assert.match(!parsed.ok ? parsed.problem : '', problem);
      assert.ok(!(!parsed.ok && parsed.problem.includes('aaaa')), 'the secret is never quoted');
    }
  });
});

describe('loadConfig and the audit key', () => {
  test('a wrong AUDIT_KEY stops start-up without echoing it; AUDIT_KEY and AUDIT_KEY_FILE exclude each other', () => {
    const [line] = problemsOf(() => loadConfig({ AUDIT_KEY: 'k1:secret-too-short' }));
    assert.match(line!, /AUDIT_KEY=\(hidden\): key k1: the secret must be at least 32 characters/);
    assert.ok(!line!.includes('secret-too-short'));
    assert.match(problemsOf(() => loadConfig({ AUDIT_KEY: `k1:${secretA}`, AUDIT_KEY_FILE: '/x' }))[0]!, /both set/);
  });

  test('the anchor file defaults to DATA_DIR; none for a store in memory', () => {
    assert.equal(loadConfig({ DATA_DIR: '/var/lib/lagebot' }).audit.anchorFile, '/var/lib/lagebot/audit-anchors.jsonl');
    assert.equal(loadConfig({ DATA_DIR: ':memory:' }).audit.anchorFile, undefined);
    assert.equal(loadConfig({ AUDIT_ANCHOR_FILE: '/anchors/a.jsonl' }).audit.anchorFile, '/anchors/a.jsonl');
    assert.equal(loadConfig({}).audit.anchorIntervalMs, 3_600_000);
  });
});

describe('loadAuditKeys', () => {
  const production = { MicrosoftAppId: 'app', MicrosoftAppPassword: 'pw' };

  test('outside local mode a key is required', () => {
    const dataDir = mkdtempSync(join(root, 'prod-'));
    const [line] = problemsOf(() =>
      loadAuditKeys(loadConfig({ ...production, DATA_DIR: dataDir }), { generate: true, logger: recorder().logger }),
    );
    assert.match(line!, /AUDIT_KEY and AUDIT_KEY_FILE are empty: outside local mode/);
  });

  test('from AUDIT_KEY and from AUDIT_KEY_FILE', () => {
    const { logger } = recorder();
    assert.deepEqual(
      loadAuditKeys(loadConfig({ ...production, AUDIT_KEY: `k1:${secretA}` }), { generate: true, logger }),
      {
        currentId: 'k1',
        keys: { k1: secretA },
      },
    );
    const file = join(root, 'keys.txt');
    writeFileSync(file, `k1:${secretA}\nk2:${secretB}\n`);
    assert.equal(
      loadAuditKeys(loadConfig({ ...production, AUDIT_KEY_FILE: file }), { generate: true, logger })!.currentId,
      'k2',
    );
    writeFileSync(file, 'k1:tooshort\n');
    const [line] = problemsOf(() =>
      loadAuditKeys(loadConfig({ ...production, AUDIT_KEY_FILE: file }), { generate: true, logger }),
    );
    assert.match(line!, /AUDIT_KEY_FILE=.*at least 32 characters/);
    assert.ok(!line!.includes('tooshort'));
    assert.match(
      problemsOf(() =>
        loadAuditKeys(loadConfig({ ...production, AUDIT_KEY_FILE: join(root, 'missing') }), { generate: true, logger }),
      )[0]!,
      /cannot read it \(ENOENT\)/,
    );
  });

  test('local mode generates a key into DATA_DIR once, readable by its owner only, and warns', () => {
    const dataDir = mkdtempSync(join(root, 'local-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    assert.equal(
      loadAuditKeys(config, { generate: false, logger: recorder().logger }),
      undefined,
      'verify never creates one',
    );
    const { logger, warnings } = recorder();
    const first = loadAuditKeys(config, { generate: true, logger })!;
    assert.match(first.currentId, /^local-[0-9a-f]{8}$/);
    assert.equal(first.keys[first.currentId]!.length, 64);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /generated the audit log's key into .*audit-key/);
    const path = join(dataDir, LOCAL_KEY_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(readFileSync(path, 'utf8').startsWith(`${first.currentId}:`));
    const again = recorder();
    assert.deepEqual(loadAuditKeys(config, { generate: true, logger: again.logger }), first);
    assert.deepEqual(again.warnings, [], 'an existing key is used silently');
    assert.deepEqual(loadAuditKeys(config, { generate: false, logger: again.logger }), first);
  });
});
