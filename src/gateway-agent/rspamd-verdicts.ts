import { open, stat } from 'node:fs/promises';

// Spam metrics come from rspamd's own log: every scanned message gets one task line with its time, its
// action and its SMTP recipients — including messages rspamd rejects before any module runs (GTUBE),
// which rspamd's Redis history leaves out (docs/decisions/mail-gateway.md). Debian's default log format:
//   2026-12-05 09:16:40 #29851(rspamd_proxy) <a80e86>; proxy; rspamd_task_write_log: id: <…>, qid: <0538621629D>,
//   …, (default: S (reject): [15.00/15.00] [GTUBE(0.00){}]), …, rcpts: <d@soest.de,e@attendorn.de>, …

export interface Verdict {
  at: number; // ms since the epoch, as rspamd's local time stamp says
  action: string; // "no action", "add header", "rewrite subject", "soft reject", "reject", "greylist"
  spam: boolean;
  recipients: string[];
}

const LINE =
  /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.\d+)? .*rspamd_task_write_log: .*\(default: ([FTS]) \(([a-z ]+)\):.*?, rcpts: <([^>]*)>/;

export function parseVerdict(line: string): Verdict | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const at = new Date(`${m[1]}T${m[2]}`).getTime(); // rspamd writes local time, as does this host
  if (Number.isNaN(at)) return null;
  const action = m[4] as string;
  return {
    at,
    action,
    spam:
      m[3] === 'T' || m[3] === 'S' || action === 'reject' || action === 'add header' || action === 'rewrite subject',
    recipients: (m[5] as string).split(',').filter((r) => r !== ''),
  };
}

export interface LogPosition {
  inode: number;
  offset: number;
}

/** Complete lines appended since `from` (from the start when the file was replaced or truncated). */
export async function readNewLines(
  path: string,
  from: LogPosition | null,
): Promise<{ lines: string[]; position: LogPosition }> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    return { lines: [], position: from ?? { inode: 0, offset: 0 } };
  }
  const start = from && from.inode === info.ino && from.offset <= info.size ? from.offset : 0;
  if (info.size === start) return { lines: [], position: { inode: info.ino, offset: start } };
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(info.size - start);
    await file.read(buffer, 0, buffer.length, start);
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0) return { lines: [], position: { inode: info.ino, offset: start } };
    const text = buffer.subarray(0, end).toString('utf8');
    return { lines: text.split('\n'), position: { inode: info.ino, offset: start + end + 1 } };
  } finally {
    await file.close();
  }
}
