import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseVerdict, readNewLines } from '../../../src/gateway-agent/rspamd-verdicts.ts';

// Real lines of Debian's rspamd 3.4 with its default log format (one ham, one GTUBE reject).
const ham =
  '2026-12-05 09:16:39 #29851(rspamd_proxy) <a1b2c3>; proxy; rspamd_task_write_log: id: <20261205091639.A4A3F216288@mail-lab.localhost>, qid: <A4A3F216288>, ip: 127.0.0.1, from: <ext@example.com>, (default: F (no action): [1.90/15.00] [DATE_IN_PAST(1.00){}]), len: 339, time: 0.9ms, dns req: 0, digest: <5d8a>, rcpts: <c@soest.de,e@attendorn.de>, mime_rcpts: <>';
const gtube =
  '2026-12-05 09:16:40 #29851(rspamd_proxy) <a80e86>; proxy; rspamd_task_write_log: id: <20261205091640.0538621629D@mail-lab.localhost>, qid: <0538621629D>, ip: 127.0.0.1, from: <ext@example.com>, (default: S (reject): [15.00/15.00] [GTUBE(0.00){}]), len: 213, time: 0.814ms, dns req: 0, digest: <5d8a0b84270e998f26ae4d011ed7d6e1>, rcpts: <d@soest.de,e@attendorn.de>, forced: reject "Gtube pattern"; score=15.00 (set by GTUBE)';

test('a task line gives time, action, spam and the SMTP recipients; other lines are ignored', () => {
  assert.deepEqual(parseVerdict(ham), {
    at: new Date('2026-12-05T09:16:39').getTime(),
    action: 'no action',
    spam: false,
    recipients: ['c@soest.de', 'e@attendorn.de'],
  });
  const v = parseVerdict(gtube);
  assert.equal(v?.action, 'reject');
  assert.equal(v?.spam, true);
  assert.deepEqual(v?.recipients, ['d@soest.de', 'e@attendorn.de']);
  assert.equal(
    parseVerdict('2026-12-05 09:16:32 #29823(main) <cxsw6u>; cfg; rspamd_init_lua_filters: init lua module'),
    null,
  );
});

test('reading goes on from the last complete line, and starts over when the file was replaced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'verdicts-'));
  try {
    const file = join(dir, 'rspamd.log');
    writeFileSync(file, `${ham}\n${gtube.slice(0, 50)}`);
    const first = await readNewLines(file, null);
    assert.deepEqual(first.lines, [ham]);
    appendFileSync(file, `${gtube.slice(50)}\n`);
    const second = await readNewLines(file, first.position);
    assert.deepEqual(second.lines, [gtube]);
    assert.deepEqual((await readNewLines(file, second.position)).lines, []);
    rmSync(file);
    writeFileSync(file, `${gtube}\n`);
    assert.deepEqual(
      (await readNewLines(file, second.position)).lines,
      [gtube],
      'a rotated log is read from its start',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
