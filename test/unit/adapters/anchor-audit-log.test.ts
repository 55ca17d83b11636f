import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, mock, test } from 'node:test';
import { createAuditAnchoring, makeAuditAnchor, readAuditAnchors } from '../../../src/adapters/anchor-audit-log.ts';
import { macAuditAnchor } from '../../../src/adapters/store/audit-chain.ts';
import type { AuditKeyring } from '../../../src/adapters/store/parse-audit-keys.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { AuditAnchor, AuditHead } from '../../../src/domain/store-port.ts';

const root = mkdtempSync(join(tmpdir(), 'lagebot-anchors-'));
after(() => rmSync(root, { recursive: true, force: true }));

const keys: AuditKeyring = { currentId: 'k1', keys: { k1: 'k1-secret-0123456789abcdef0123456789' } };
const head = (seq: number): AuditHead => ({ seq, hash: seq.toString(16).padStart(64, '0'), keyId: 'k1', mac: null });
const HOUR = 3_600_000;

describe('audit anchors', () => {
  let nowMs = Date.parse('2024-02-19T13:00:00Z');
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  function anchoring(file: string | undefined, posted: AuditAnchor[]) {
    return createAuditAnchoring({
      keys,
      file,
      post: async (a) => void posted.push(a),
      postIntervalMs: HOUR,
      now: () => new Date(nowMs),
      logger: silentLogger,
    });
  }

  test('a line per commit in the file, MACed with the key; out-of-order commits do not go back', () => {
    const file = join(root, 'sub', 'anchors.jsonl');
    const a = anchoring(file, []);
    for (const seq of [1, 2, 4, 3, 5]) a.record(head(seq));
    const read = readAuditAnchors(file);
    assert.ok(read.ok);
    assert.deepEqual(
      read.anchors.map((x) => x.seq),
      [1, 2, 4, 5],
    );
    for (const x of read.anchors) {
      assert.equal(x.keyId, 'k1');
      assert.equal(x.mac, macAuditAnchor(keys.keys.k1!, x));
    }
    assert.deepEqual(readAuditAnchors(join(root, 'none.jsonl')), { ok: true, anchors: [] });
  });

  test('Teams: the first at once, then at most one an interval, and the newest at shutdown', async () => {
    const posted: AuditAnchor[] = [];
    const a = anchoring(undefined, posted);
    a.record(head(1));
    assert.deepEqual(
      posted.map((p) => p.seq),
      [1],
    );
    a.record(head(2));
    a.record(head(3));
    assert.equal(posted.length, 1, 'not again within the hour');
    nowMs += HOUR;
    mock.timers.tick(HOUR);
    assert.deepEqual(
      posted.map((p) => p.seq),
      [1, 3],
    );
    a.record(head(4));
    await a.close();
    assert.deepEqual(
      posted.map((p) => p.seq),
      [1, 3, 4],
    );
    await a.close();
    assert.equal(posted.length, 3, 'nothing new, nothing posted');
  });

  test('a line that is not an anchor is reported with its number', () => {
    const file = join(root, 'bad.jsonl');
    writeFileSync(file, '');
    const good = makeAuditAnchor(head(7), keys, '2024-02-19T13:00:00.000Z');
    appendFileSync(file, `${JSON.stringify(good)}\n{"seq":8}\n`);
    assert.deepEqual(readAuditAnchors(file), { ok: false, line: 2 });
    assert.ok(readFileSync(file, 'utf8').includes('"keyId":"k1"'));
  });
});
