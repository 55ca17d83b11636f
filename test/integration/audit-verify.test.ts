import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { hashAuditEntry } from '../../src/adapters/store/audit-chain.ts';
import { SQLITE_FILE } from '../../src/adapters/store/create-store.ts';
import type { AuditEntry } from '../../src/domain/store-port.ts';
import { channel, message, post, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import { withoutLagebotSettings } from '../helpers/child-env.ts';
import { advanceToMondayAfternoon, click, refOf, say, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot } from '../helpers/start-test-bot.ts';

// Issue 13: `lagebot audit verify`, run as the CLI it is, against the SQLite file, key and anchor file a
// real bot left behind after a release — and against copies of them attacked the way someone with the
// database's rights would: each attack ends in exit 3, the number of the first bad entry and a one-line
// reason. (The same rules against both engines: test/adapters/store/store-contract.ts.)

const root = mkdtempSync(join(tmpdir(), 'lagebot-verify-'));
const original = join(root, 'original');
const repoRoot = join(import.meta.dirname, '..', '..');

async function verify(dataDir: string, lang: 'de' | 'en' = 'de') {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'audit', 'verify', ...(lang === 'en' ? ['--lang=en'] : [])],
      { cwd: repoRoot, env: { ...withoutLagebotSettings(process.env), DATA_DIR: dataDir, LOG_LEVEL: 'silent' } },
    );
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout.trim(), stderr: e.stderr };
  }
}

/** A copy of the bot's data directory with `attack` applied to its database. */
function attacked(name: string, attack: (db: Database.Database) => void): string {
  const dir = join(root, name);
  cpSync(original, dir, { recursive: true });
  const db = new Database(join(dir, SQLITE_FILE));
  try {
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    attack(db);
  } finally {
    db.close();
  }
  return dir;
}

function entries(db: Database.Database): Array<AuditEntry & { raw: Record<string, unknown> }> {
  return (db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Array<Record<string, unknown>>).map((r) => ({
    raw: r,
    seq: Number(r.seq),
    at: String(r.at),
    tenantId: (r.tenant_id as string | null) ?? null,
    actor: String(r.actor),
    action: String(r.action),
    scopeId: (r.scope_id as string | null) ?? null,
    requestId: (r.request_id as string | null) ?? null,
    details: JSON.parse(String(r.details)),
    request: r.request_state === null ? null : JSON.parse(String(r.request_state)),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
    keyId: (r.key_id as string | null) ?? null,
    mac: (r.mac as string | null) ?? null,
  }));
}

let last = 0;
let approvalSeq = 0;
let requestId = '';
const anchorChannel = channel('protokoll');
let anchorPosts: string[] = [];

before(async () => {
  const t = await startTestBot(
    { ROLES_FILE: writeTestRoles(), DATA_DIR: original, AUDIT_ANCHOR_CONVERSATION: anchorChannel.id },
    { devices: 1000 },
  );
  try {
    // The bot learns the anchor channel from a message in it.
    await post(t.botUrl, message('hilfe', { serviceUrl: t.connector.url, conversation: anchorChannel }));
    await advanceToMondayAfternoon(t);
    // The anchor post of this first commit may arrive between the replies: take the request card by its buttons.
    const replies = await say(t, 'freigabe Kreis Soest eingehend Alle Clients gepatcht', users.operator);
    const ref = refOf(
      replies.map((r) => cardOf(r.activity)).find((c) => JSON.stringify(c ?? {}).includes('requestId')),
    );
    requestId = ref.requestId;
    await click(t, 'request.approve', { ...ref }, users.approver2);
    await click(t, 'request.confirm', { ...ref }, users.approver2);
    assert.ok(await t.bot.executor.idle(20_000));
    anchorPosts = t.connector
      .messages(anchorChannel.id)
      .filter((c) => cardOf(c.activity))
      .map((c) => replyText(c.activity));
  } finally {
    await t.close();
  }
  const db = new Database(join(original, SQLITE_FILE), { readonly: true });
  try {
    const all = entries(db);
    last = all.length;
    approvalSeq = all.find((e) => (e.details as { by?: string }).by === users.approver2.name)!.seq;
  } finally {
    db.close();
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('lagebot audit verify', () => {
  test('the log a release left is intact: exit 0, MACs, anchors and the request checked', async () => {
    assert.ok(last >= 8, `${last} entries`);
    const res = await verify(original);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(
      res.stdout,
      new RegExp(
        `^Protokoll intakt: ${last} Einträge geprüft, die Hash-Kette ist lückenlos; ${last} MACs stimmen; \\d+ Anker und 1 Anträge stimmen überein\\.$`,
      ),
    );
    assert.match((await verify(original, 'en')).stdout, /^Audit log intact: /);
  });

  const attacks: Array<{ name: string; attack: (db: Database.Database) => void; expected: () => RegExp }> = [
    {
      name: 'truncation: the last entries deleted',
      attack: (db) => db.exec(`DELETE FROM audit_log WHERE seq > ${last - 3}`),
      expected: () => new RegExp(`^Protokoll BESCHÄDIGT bei Eintrag Nr\\. ${last - 2}: ab hier fehlen Einträge`),
    },
    {
      name: 'an entry deleted in the middle',
      attack: (db) => db.exec(`DELETE FROM audit_log WHERE seq = ${approvalSeq}`),
      expected: () =>
        new RegExp(`^Protokoll BESCHÄDIGT bei Eintrag Nr\\. ${approvalSeq + 1}: die Nummerierung springt`),
    },
    {
      name: 're-hash: the approver renamed and every later hash recomputed',
      attack: (db) => {
        const all = entries(db);
        let prevHash = all[approvalSeq - 2]!.hash;
        for (const e of all.slice(approvalSeq - 1)) {
          const details = e.seq === approvalSeq ? { ...(e.details as object), by: 'Mallory' } : e.details;
          const hash = hashAuditEntry(prevHash, { ...e, details });
          db.prepare('UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(
            JSON.stringify(details),
            prevHash,
            hash,
            e.seq,
          );
          prevHash = hash;
        }
      },
      expected: () =>
        new RegExp(`^Protokoll BESCHÄDIGT bei Eintrag Nr\\. ${approvalSeq}: der MAC des Eintrags stimmt nicht`),
    },
    {
      name: 'the table emptied',
      attack: (db) => db.exec('DELETE FROM audit_log'),
      expected: () => /^Protokoll BESCHÄDIGT bei Eintrag Nr\. 1: die Tabelle ist leer, aber ein Anker bezeugt Einträge/,
    },
    {
      name: 'invalid JSON in an entry',
      attack: (db) => db.exec(`UPDATE audit_log SET details = '{"by": "Bernd' WHERE seq = ${approvalSeq}`),
      expected: () =>
        new RegExp(`^Protokoll BESCHÄDIGT bei Eintrag Nr\\. ${approvalSeq}: der Eintrag ist kein gültiges JSON mehr`),
    },
    {
      name: 'the request set back to pending',
      attack: (db) => db.exec(`UPDATE requests SET state = 'pending' WHERE id = '${requestId}'`),
      expected: () =>
        new RegExp(
          `: der Antrag steht in der Tabelle nicht so, wie ihn dieser Eintrag festhält .*\\(Antrag ${requestId}\\)\\.$`,
        ),
    },
  ];

  for (const a of attacks) {
    test(`${a.name}: exit 3, the entry's number, one line`, async () => {
      const res = await verify(attacked(a.name.replace(/\W+/g, '-'), a.attack));
      assert.equal(res.code, 3, res.stdout + res.stderr);
      assert.match(res.stdout, a.expected());
      assert.equal(res.stdout.split('\n').length, 1);
      assert.equal(res.stderr, '', 'no crash, no stack');
    });
  }

  test('AUDIT_ANCHOR_CONVERSATION got a short post with the anchor line (the first commit; then hourly and at shutdown)', () => {
    const anchorPost = anchorPosts.find((text) => /Protokoll-Anker/.test(text));
    assert.ok(anchorPost, anchorPosts.join(' | '));
    assert.match(anchorPost, /Das Protokoll stand am .* bei Eintrag Nr\. 1 \(Hash [0-9a-f]{16}…\)/);
    assert.match(
      anchorPost,
      /\{"seq":1,"hash":"[0-9a-f]{64}","at":"[^"]+","keyId":"local-[0-9a-f]{8}","mac":"[0-9a-f]{64}"\}/,
    );
  });

  test('a forged line in the anchor file: exit 3', async () => {
    const dir = attacked('anchor-file', () => {});
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(dir, 'audit-anchors.jsonl'), 'not an anchor\n');
    const res = await verify(dir);
    assert.equal(res.code, 3);
    assert.match(
      res.stdout,
      /^Protokoll BESCHÄDIGT: ein Anker ist nicht mit dem Schlüssel signiert .*\(Anker-Datei Zeile \d+\)\.$/,
    );
  });
});
