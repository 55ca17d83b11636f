import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBundle, PRODUCTION_NODE_FLAGS } from '../../scripts/build-bundle.ts';
import { projectRoot } from '../../src/project-root.ts';
import { freePort, withoutLagebotSettings } from '../helpers/child-env.ts';
import { waitUntil } from '../helpers/wait-until.ts';

// What `npm run serve` and the container run: the esbuild bundle under plain node with the
// production flags, no tsx. Started from another working directory, so cards/ and the demo roles
// must be found from the bundle's own location.

const nf = new Intl.NumberFormat('de-DE');

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; exited: Promise<Exited> } {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<Exited>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out })));
  return { child, exited };
}

async function waitForHealthy(url: string, served: { exited: Promise<Exited> }, timeoutMs = 30_000) {
  let gone: Exited | null = null;
  void served.exited.then((e) => {
    gone = e;
  });
  await waitUntil(
    async () => {
      if (gone) assert.fail(`the bundle exited before it was healthy: ${(gone as Exited).out}`);
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    `${url}/healthz answers`,
    timeoutMs,
    100,
  );
}

describe('production build: dist/main.mjs under plain node', () => {
  const outdir = join(projectRoot, 'dist', `test-${process.pid}`);
  const work = mkdtempSync(join(tmpdir(), 'lagebot-dist-'));
  let served: { child: ChildProcess; exited: Promise<Exited> } | null = null;

  before(async () => {
    await buildBundle({ entryPoints: [join(projectRoot, 'src', 'main.ts')], outdir });
  });
  after(async () => {
    if (served && served.child.exitCode === null) {
      served.child.kill('SIGKILL');
      await served.exited;
    }
    rmSync(outdir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  test('the bundle is plain JavaScript: no TypeScript imports, npm packages left to node_modules', () => {
    const files = [
      join(outdir, 'main.mjs'),
      ...readdirSync(join(outdir, 'chunks')).map((f) => join(outdir, 'chunks', f)),
    ];
    let all = '';
    for (const file of files.filter((f) => f.endsWith('.mjs'))) {
      const code = readFileSync(file, 'utf8');
      assert.doesNotMatch(code, /from\s*["'][^"']+\.ts["']|import\(["'][^"']+\.ts["']\)/, `${file} imports a .ts file`);
      assert.doesNotMatch(code, /from\s*["']tsx["']/, `${file} needs tsx`);
      all += code;
    }
    // npm packages stay imports (one copy, in node_modules), not copies inside the bundle.
    assert.match(all, /from\s*["']botbuilder["']/);
    assert.match(all, /from\s*["']@microsoft\/teams-ai\/lib\/Application\.js["']/);
  });

  test('serve: healthy, answers status with the inventory numbers (German and English), stops on SIGTERM', async () => {
    const port = await freePort();
    const simPort = await freePort();
    const env = {
      ...withoutLagebotSettings(process.env),
      PORT: String(port),
      SIM_PORT: String(simPort),
      DATA_DIR: join(work, 'data'),
      PLAYGROUND: 'off',
      LOG_LEVEL: 'warn',
    };
    served = run([...PRODUCTION_NODE_FLAGS, join(outdir, 'main.mjs'), 'serve'], env, work);
    const botUrl = `http://127.0.0.1:${port}`;
    await waitForHealthy(botUrl, served);

    const chat = async (...args: string[]) => {
      const c = run([join(outdir, 'main.mjs'), 'chat', ...args, '--url', botUrl], env, work);
      const e = await c.exited;
      assert.equal(e.code, 0, e.out);
      return e.out;
    };
    const german = await chat('status Kreis Olpe');
    assert.match(german, /Lage: Kreis Olpe/);
    assert.match(german, /\[Aktualisieren\]/);
    const compliance = (await (
      await fetch(`http://127.0.0.1:${simPort}/inventory/v1/compliance?region=kr-olpe`)
    ).json()) as {
      region: { patches: Array<{ patchId: string; clients: { installed: number; total: number } }> };
      children: Array<{ name: string }>;
    };
    for (const p of compliance.region.patches.filter((x) => x.clients.total > 0)) {
      const expected = `${nf.format(p.clients.installed)} von ${nf.format(p.clients.total)}`;
      assert.ok(german.includes(expected), `clients of ${p.patchId}: ${expected} in\n${german}`);
    }
    for (const child of compliance.children) assert.ok(german.includes(child.name), `breakdown lists ${child.name}`);

    const english = await chat('status Kreis Olpe', '--lang', 'en');
    assert.match(english, /Status: Kreis Olpe/);
    assert.match(english, /\[Refresh\]/);

    served.child.kill('SIGTERM');
    const stopped = await served.exited;
    assert.equal(stopped.code, 0, stopped.out);
    assert.doesNotMatch(stopped.out, /Error|ERR_/, 'no errors on the way');
  });
});
