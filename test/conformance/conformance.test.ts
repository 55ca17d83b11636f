import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CheckResult } from '../../src/conformance/conformance-check.ts';
import { formatConformanceTable, runConformance, runConformanceChecks } from '../../src/conformance/run-conformance.ts';
import { startSimServer } from '../../src/sim/server.ts';
import { captureConsole } from './capture-console.ts';

// The conformance check against the simulator (everything passes, the write checks leave the test domain
// as it was) and against deliberately broken fakes of it: each break fails the check that names it.

let sim: Awaited<ReturnType<typeof startSimServer>>;
let base: string;
const token = 'conformance-test-token';

before(async () => {
  sim = await startSimServer({ port: 0, speed: 0, seed: 42, tokens: { gateway: token, inventory: token } });
  base = sim.url.replace(/\/+$/, '');
});
after(() => sim.close());

const failures = (results: CheckResult[]) => results.filter((r) => r.outcome === 'fail');

describe('against the simulator', () => {
  test('every check passes, reads and writes, and the test domain is restored', async () => {
    const before = sim.sim.domain('attendorn.de');
    const results = await runConformanceChecks({
      gateway: { url: `${base}/gateway/v1`, token },
      inventory: { url: `${base}/inventory/v1`, token },
      changeDomain: 'attendorn.de',
    });
    assert.deepEqual(failures(results), []);
    assert.deepEqual(
      results.filter((r) => r.outcome === 'skip'),
      [],
      'with tokens and a test domain nothing is skipped',
    );
    assert.ok(results.some((r) => r.name === 'replay returns first answer' && r.outcome === 'pass'));
    const now = sim.sim.domain('attendorn.de');
    assert.deepEqual([now.inbound, now.outbound], [before.inbound, before.outbound]);
  });

  test('read-only by default: no change reaches the gateway', async () => {
    const auditBefore = sim.sim.audit({ limit: 1000 }).items.length;
    const results = await runConformanceChecks({ gateway: { url: `${base}/gateway/v1`, token } });
    assert.deepEqual(failures(results), []);
    assert.equal(results.filter((r) => r.name.startsWith('change')).length, 0);
    assert.equal(sim.sim.audit({ limit: 1000 }).items.length, auditBefore);
  });

  test('the command prints the table and exits 0; a wrong command line exits 2', async () => {
    const out = await captureConsole(() =>
      runConformance(['--gateway', `${base}/gateway/v1`, '--gateway-token', token]),
    );
    assert.equal(out.result, 0);
    assert.match(out.stdout, /^api\s+check\s+result\s+detail/m);
    assert.match(out.stdout, /gateway\s+404 unknown domain\s+PASS/);
    assert.match(out.stdout, /\d+ passed, 0 failed/);
    const bad = await captureConsole(() => runConformance(['--allow-changes', '--gateway', `${base}/gateway/v1`]));
    assert.equal(bad.result, 2);
    assert.match(bad.stderr, /--allow-changes and --domain go together/);
  });
});

// A fetch in front of the simulator that breaks one behaviour.
function brokenFetch(
  rewrite: (url: URL, init: RequestInit) => { url: URL; init: RequestInit; body?: (b: unknown) => unknown },
): typeof fetch {
  return async (input, init = {}) => {
    const r = rewrite(new URL(String(input)), init);
    const res = await fetch(r.url, r.init);
    if (!r.body) return res;
    const body = r.body(await res.json());
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  };
}

describe('against broken fakes', () => {
  test('a wrong schema (a domain without its version) fails naming the check and the operation', async () => {
    const fetchImpl = brokenFetch((url, init) => ({
      url,
      init,
      body: /\/domains\/[^/]+$/.test(url.pathname)
        ? (b) => {
            const { version: _dropped, ...rest } = b as Record<string, unknown>;
            return 'domain' in rest ? rest : b;
          }
        : undefined,
    }));
    const results = await runConformanceChecks({ gateway: { url: `${base}/gateway/v1`, token }, fetch: fetchImpl });
    const failed = failures(results);
    assert.deepEqual(
      failed.map((r) => r.name),
      ['one domain + ETag'],
    );
    assert.match((failed[0] as CheckResult).detail, /GET \/domains\/\{domain\} 200: body does not match the document/);
    assert.match((failed[0] as CheckResult).detail, /version/);
  });

  test('a non-idempotent replay (the key is not remembered) fails the replay check', async () => {
    let calls = 0;
    const fetchImpl = brokenFetch((url, init) => {
      const headers = new Headers(init.headers);
      const key = headers.get('idempotency-key');
      // Every call gets a fresh key, as if the gateway forgot keys: a replay applies the change again.
      if (key) headers.set('idempotency-key', `${key}:${++calls}`);
      return { url, init: { ...init, headers } };
    });
    const results = await runConformanceChecks({
      gateway: { url: `${base}/gateway/v1`, token },
      changeDomain: 'olpe.de',
      fetch: fetchImpl,
    });
    const failed = failures(results).map((r) => r.name);
    assert.ok(failed.includes('replay returns first answer'), `failed: ${failed.join(', ')}`);
    const table = formatConformanceTable(results);
    assert.match(table, /replay returns first answer\s+FAIL/);
    assert.match(table, /restore olpe\.de\s+PASS/);
    const now = sim.sim.domain('olpe.de');
    assert.equal(now.inbound, 'held', 'the restore put olpe.de back');
  });

  test('a gateway that is down fails every check with the reason, and the command exits 1', async () => {
    const out = await captureConsole(() => runConformance(['--gateway', 'http://127.0.0.1:1/gateway/v1']));
    assert.equal(out.result, 1);
    assert.match(out.stdout, /health\s+FAIL\s+fetch failed/);
  });
});
