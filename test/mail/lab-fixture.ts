import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LabLayout, labLayout } from '../../src/mail-lab/lab-layout.ts';
import { isRoot } from '../../src/mail-lab/mail-lab.ts';

// Real-mail tests need root (Postfix) and Debian's postfix and rspamd. Elsewhere they skip with the
// reason; with CI=true they must run (.ci/run installs both, as root).

export function mailLabSkipReason(): string | false {
  const missing = !isRoot()
    ? 'needs root to start Postfix'
    : !exists('/usr/sbin/postfix') || !exists('/usr/bin/rspamd')
      ? 'needs Debian postfix and rspamd (scripts/install-mail-gateway.sh)'
      : null;
  if (missing === null) return false;
  if (process.env.CI === 'true') throw new Error(`real-mail tests must run in CI but ${missing}`);
  return `real-mail test skipped: ${missing}`;
}

function exists(p: string): boolean {
  try {
    return existsSync(p);
  } catch {
    return false;
  }
}

/** A free loopback port, and for rspamd three in a row. Other engineers run tests on this machine too. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function freeRun(n: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const ok = await Promise.all(Array.from({ length: n }, (_, i) => canBind(base + i)));
    if (ok.every(Boolean)) return base;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function testLabLayout(): Promise<{ layout: LabLayout; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'mail-lab-'));
  const layout = labLayout(dir, {
    smtp: await freePort(),
    http: await freePort(),
    sinkSmtp: await freePort(),
    agent: await freePort(),
    rspamd: await freeRun(3),
  });
  return { layout, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
