import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AuditHashInput,
  canonicalJson,
  checkAuditLink,
  GENESIS_HASH,
  hashAuditEntry,
} from '../../../src/adapters/store/audit-chain.ts';
import { formatAuditVerification } from '../../../src/adapters/store/format-audit-verification.ts';
import type { AuditEntry } from '../../../src/domain/store-port.ts';

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed + 1));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  // Rotate by seed: a different insertion order, same content.
  const k = entries.length ? seed % entries.length : 0;
  return Object.fromEntries(
    [...entries.slice(k), ...entries.slice(0, k)].reverse().map(([key, v]) => [key, shuffleKeys(v, seed + 1)]),
  );
}

describe('canonicalJson', () => {
  test('is the same whatever the key order, and survives a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        const canonical = canonicalJson(value);
        assert.equal(canonicalJson(shuffleKeys(value, seed)), canonical);
        // What the store writes and reads back hashes to the same bytes.
        assert.equal(canonicalJson(JSON.parse(canonical)), canonical);
        assert.deepEqual(JSON.parse(canonical), JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  test('sorts keys at every level and drops undefined members like JSON', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 0, y: undefined }], c: null } }),
      '{"a":{"c":null,"d":[1,{"z":0}]},"b":1}',
    );
    assert.equal(canonicalJson(undefined), 'null');
  });
});

describe('hash chain', () => {
  const base: AuditHashInput = {
    seq: 1,
    at: '2024-02-19T08:00:00.000Z',
    tenantId: 't',
    actor: 'aad-1',
    action: 'mail.blocked',
    scopeId: 'olpe.de',
    requestId: null,
    details: { reason: 'Spam' },
    request: null,
  };
  function chain(n: number): AuditEntry[] {
    const out: AuditEntry[] = [];
    let prevHash = GENESIS_HASH;
    for (let seq = 1; seq <= n; seq++) {
      const e = { ...base, seq, details: { seq } };
      const hash = hashAuditEntry(prevHash, e);
      out.push({ ...e, prevHash, hash, keyId: null, mac: null });
      prevHash = hash;
    }
    return out;
  }

  test('any changed field changes the hash', () => {
    const h = hashAuditEntry(GENESIS_HASH, base);
    const changes: Partial<AuditHashInput>[] = [
      { seq: 2 },
      { at: '2024-02-19T08:00:00.001Z' },
      { tenantId: null },
      { actor: 'aad-2' },
      { action: 'mail.released' },
      { scopeId: 'attendorn.de' },
      { requestId: 'r1' },
      { details: { reason: 'spam' } },
    ];
    for (const c of changes) assert.notEqual(hashAuditEntry(GENESIS_HASH, { ...base, ...c }), h, JSON.stringify(c));
    assert.notEqual(hashAuditEntry('1'.repeat(64), base), h);
  });

  test('checkAuditLink accepts an intact chain and names what broke', () => {
    const entries = chain(3);
    let prev: AuditEntry | null = null;
    for (const e of entries) {
      assert.equal(checkAuditLink(prev, e), null);
      prev = e;
    }
    assert.equal(checkAuditLink(entries[0]!, entries[2]!), 'seq_gap');
    assert.equal(checkAuditLink(null, entries[1]!), 'seq_gap');
    assert.equal(checkAuditLink(entries[0]!, { ...entries[1]!, prevHash: GENESIS_HASH }), 'prev_hash_mismatch');
    assert.equal(checkAuditLink(entries[0]!, { ...entries[1]!, actor: 'mallory' }), 'hash_mismatch');
  });
});

describe('formatAuditVerification', () => {
  test('says in German and English that the log is intact, and what was checked', () => {
    assert.equal(
      formatAuditVerification({ ok: true, count: 42, macs: 42, anchors: 7, requests: 3 }, 'de'),
      'Protokoll intakt: 42 Einträge geprüft, die Hash-Kette ist lückenlos; 42 MACs stimmen; 7 Anker und 3 Anträge stimmen überein.',
    );
    assert.equal(
      formatAuditVerification({ ok: true, count: 42, macs: 0, anchors: 0, requests: 3 }, 'en'),
      'Audit log intact: 42 entries checked, the hash chain is unbroken; checked without a key (hash chain only); 0 anchors and 3 requests agree.',
    );
  });

  test('one line: the broken entry, the reason, and where else to look', () => {
    assert.equal(
      formatAuditVerification({ ok: false, count: 7, brokenAtSeq: 7, reason: 'hash_mismatch' }, 'de'),
      'Protokoll BESCHÄDIGT bei Eintrag Nr. 7: der Inhalt des Eintrags passt nicht zu seinem Hash (nachträglich geändert).',
    );
    assert.equal(
      formatAuditVerification({ ok: false, count: 3, brokenAtSeq: 5, reason: 'seq_gap' }, 'en'),
      'Audit log BROKEN at entry #5: the sequence jumps (entries are missing).',
    );
    assert.match(
      formatAuditVerification({ ok: false, count: 0, brokenAtSeq: 1, reason: 'truncated', anchorLine: 9 }, 'de'),
      /^Protokoll BESCHÄDIGT bei Eintrag Nr\. 1: die Tabelle ist leer, aber ein Anker bezeugt Einträge \(geleert\) \(Anker-Datei Zeile 9\)\.$/,
    );
    assert.equal(
      formatAuditVerification(
        { ok: false, count: 9, brokenAtSeq: null, reason: 'request_unaudited', requestId: 'r-1' },
        'en',
      ),
      'Audit log BROKEN: the request has no entry in the log (created past the application) (request r-1).',
    );
  });
});
