import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findingsOf, judgeFindings, parseAllowlist } from '../../scripts/audit-dependencies.ts';

// Issue 13: .ci/run's dependency check. The real `npm audit` runs against a local stand-in for the
// registry's advisory service (npm posts the installed versions to /-/npm/v1/security/advisories/bulk and
// reads packuments for the fix hints), so every branch is exercised without the network.

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'lagebot-npm-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const zodAdvisory = (severity: string) => ({
  zod: [
    {
      id: 1_100_001,
      url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc',
      title: 'Test advisory against the installed zod',
      severity,
      vulnerable_versions: '<99.0.0',
      cwe: [],
      cvss: { score: 7.5, vectorString: null },
    },
  ],
});

let server: Server;
let registry = '';
let answer: { status: number; body: unknown } = { status: 200, body: {} };
before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const bulk = req.url?.includes('/-/npm/v1/security/advisories/bulk');
      res.writeHead(bulk ? answer.status : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bulk ? answer.body : {}));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function runCheck(allowlist: unknown) {
  const file = join(dir, `allowlist-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(allowlist));
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/audit-dependencies.ts', '--allowlist', file],
      {
        cwd: root,
        // A cache of its own per run: npm would otherwise answer the next run from the last one's advisories.
        env: { ...process.env, npm_config_registry: registry, npm_config_cache: mkdtempSync(join(dir, 'cache-')) },
      },
    );
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

const empty = { advisories: [] };
const entry = (expires: string) => ({
  advisories: [
    {
      id: 'GHSA-aaaa-bbbb-cccc',
      package: 'zod',
      reason: 'Only reachable through an API Lagebot does not call (test entry).',
      added: '2026-12-01',
      expires,
    },
  ],
});

describe('scripts/audit-dependencies.ts with npm audit', () => {
  test('a high advisory against a production dependency fails the run and names it', async () => {
    answer = { status: 200, body: zodAdvisory('high') };
    const res = await runCheck(empty);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stdout,
      /npm audit: high GHSA-aaaa-bbbb-cccc in zod: Test advisory .* not in audit-allowlist\.json/,
    );
  });

  test('allowlisted with a reason until a date still ahead: passes and says so; once expired: fails', async () => {
    answer = { status: 200, body: zodAdvisory('critical') };
    const allowedRun = await runCheck(entry('2999-01-01'));
    assert.equal(allowedRun.code, 0, allowedRun.stdout);
    assert.match(allowedRun.stdout, /allowed critical GHSA-aaaa-bbbb-cccc in zod/);
    const expired = await runCheck(entry('2020-01-01'));
    assert.equal(expired.code, 1);
    assert.match(expired.stdout, /allowlisted until 2020-01-01, which has passed/);
  });

  test('moderate advisories do not fail it', async () => {
    answer = { status: 200, body: zodAdvisory('moderate') };
    const res = await runCheck(empty);
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /no high or critical advisory/);
  });

  test('an advisory service that does not answer: skipped, visibly', async () => {
    answer = { status: 405, body: {} };
    const res = await runCheck(empty);
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /^npm audit: SKIPPED — the registry's advisory service did not answer \(405 /m);
  });
});

describe('the allowlist and the report', () => {
  test('the repository’s allowlist is valid', () => {
    parseAllowlist(readFileSync(join(root, 'audit-allowlist.json'), 'utf8'));
  });

  test('an entry needs a GHSA id, a reason and dates', () => {
    assert.throws(() => parseAllowlist(JSON.stringify({ advisories: [{ id: 'CVE-2024-1', package: 'x' }] })));
    assert.throws(() =>
      parseAllowlist(JSON.stringify({ advisories: [{ ...entry('2027-01-01').advisories[0], reason: 'ok' }] })),
    );
  });

  test('findings are the high and critical advisories, once each; not a report: null', () => {
    const report = {
      auditReportVersion: 2,
      vulnerabilities: {
        a: {
          via: [{ name: 'a', title: 'T', url: 'https://github.com/advisories/GHSA-1111-2222-3333', severity: 'high' }],
        },
        b: {
          via: [
            'a',
            { name: 'b', title: 'U', url: 'https://github.com/advisories/GHSA-4444-5555-6666', severity: 'low' },
          ],
        },
      },
      metadata: { vulnerabilities: { high: 1, low: 1 } },
    };
    assert.deepEqual(findingsOf(JSON.stringify(report)), [
      {
        id: 'GHSA-1111-2222-3333',
        package: 'a',
        severity: 'high',
        title: 'T',
        url: 'https://github.com/advisories/GHSA-1111-2222-3333',
      },
    ]);
    assert.equal(findingsOf('{"message":"405 Method Not Allowed","error":{"summary":""}}'), null);
    assert.equal(findingsOf('not json'), null);
    const f = findingsOf(JSON.stringify(report))!;
    assert.equal(judgeFindings(f, empty, '2026-12-05').failing.length, 1);
  });
});
