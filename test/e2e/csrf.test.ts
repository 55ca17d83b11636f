import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_FILE } from '../../src/adapters/store/create-store.ts';
import { demoTenantId, demoUsers } from '../../src/demo-users.ts';
import { FakeBotConnector } from '../fakes/fake-bot-connector.ts';
import { chromiumSkipReason, type LaunchedChromium, launchChromium } from './launch-chromium.ts';
import { type RunningDemo, startDemo } from './start-demo.ts';

// Issue 13, CSRF into the loopback bot: a page on another origin, open in the operator's browser, posts
// a release request to the running demo (local mode: no token needed) — as a form, and as a fetch in
// no-cors mode, the two ways that need no CORS preflight. Nothing may be created. The same activity
// posted as JSON without an Origin (what the Bot Connector and the Playground's server do) creates the
// request, so the payload itself is not what fails.

const skip = chromiumSkipReason(process.env);
const olaf = demoUsers.find((u) => u.key === 'operator')!;

function activity(serviceUrl: string, text: string) {
  return {
    type: 'message',
    id: `csrf-${Math.random().toString(36).slice(2)}`,
    channelId: 'msteams',
    serviceUrl,
    from: { id: `29:${olaf.aadObjectId}`, name: olaf.name, aadObjectId: olaf.aadObjectId },
    recipient: { id: '28:lagebot', name: 'Lagebot' },
    conversation: { id: `a:csrf-${olaf.aadObjectId}`, conversationType: 'personal', tenantId: demoTenantId },
    channelData: { tenant: { id: demoTenantId } },
    locale: 'de-DE',
    text,
  };
}

/** The attacker's page: a form that posts itself, and two fetches in no-cors mode. */
function attackPage(botUrl: string, serviceUrl: string): string {
  const act = activity(serviceUrl, 'freigabe Nordverband eingehend CSRF');
  const fields: Array<[string, string]> = [];
  const flatten = (v: unknown, prefix: string) => {
    if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}[${k}]` : k);
    else fields.push([prefix, String(v)]);
  };
  flatten(act, '');
  const inputs = fields
    .map(([n, v]) => `<input type="hidden" name="${n}" value="${v.replace(/"/g, '&quot;')}">`)
    .join('');
  return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="${botUrl}/api/messages" target="sink">${inputs}</form>
<script>
  window.results = [];
  const body = ${JSON.stringify(JSON.stringify(act))};
  Promise.allSettled([
    fetch('${botUrl}/api/messages', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/json' }, body }),
    fetch('${botUrl}/api/messages', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }),
    fetch('${botUrl}/api/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
  ]).then((r) => { window.results = r.map((x) => x.status + ':' + (x.value ? x.value.type : String(x.reason))); });
  document.getElementById('f').submit();
</script></body></html>`;
}

if (skip) {
  test('CSRF from a browser page (Chromium)', { skip }, () => {});
} else {
  describe('a page in the browser cannot create a request in the running demo', { timeout: 110_000 }, () => {
    let demo: RunningDemo;
    let browser: LaunchedChromium;
    let page: Server;
    let connector: FakeBotConnector;
    const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-e2e-csrf-'));
    let pageUrl = '';

    const requests = () => {
      const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM requests').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };

    before(async () => {
      browser = await launchChromium();
      demo = await startDemo({ dataDir });
      // The Nordverband is fully patched on Monday afternoon: the control request is a normal one.
      await fetch(`${demo.simUrl}/sim/v1/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceMinutes: 5580 }),
      });
      connector = await new FakeBotConnector().start();
      page = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(attackPage(demo.botUrl, connector.url));
      });
      page.listen(0, '127.0.0.1');
      await once(page, 'listening');
      // Another origin than the bot's: another port on the same loopback.
      pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    });
    after(async () => {
      await browser?.close();
      await demo?.stop();
      await connector?.close();
      page?.closeAllConnections();
      await new Promise<void>((resolve) => (page ? page.close(() => resolve()) : resolve()));
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('form post and no-cors fetch: nothing is created', async () => {
      const tab = await browser.context.newPage();
      const answers: Array<{ status: number; method: string }> = [];
      tab.on('response', (r) => {
        if (r.url().endsWith('/api/messages')) answers.push({ status: r.status(), method: r.request().method() });
      });
      await tab.goto(pageUrl);
      await tab.waitForFunction(() => (window as unknown as { results: string[] }).results.length === 3);
      const results = await tab.evaluate(() => (window as unknown as { results: string[] }).results);
      // The no-cors fetches resolve opaque (the browser hides the answer); the JSON one with CORS fails its preflight.
      assert.deepEqual(results.slice(0, 2), ['fulfilled:opaque', 'fulfilled:opaque']);
      assert.match(results[2]!, /^rejected:TypeError/);
      await tab.waitForLoadState('networkidle');
      const posts = answers.filter((a) => a.method === 'POST');
      assert.ok(posts.length >= 1, JSON.stringify(answers));
      assert.ok(
        posts.every((a) => a.status === 415),
        `the bot answered ${JSON.stringify(answers)}`,
      );
      await tab.close();
      assert.equal(requests(), 0, 'a request was created');
      assert.equal(connector.calls.length, 0, 'the bot answered into a chat');
    });

    test('control: the same activity as JSON without an Origin creates the request', async () => {
      const res = await fetch(`${demo.botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(activity(connector.url, 'freigabe Nordverband eingehend CSRF')),
      });
      assert.equal(res.status, 200, demo.output().slice(-2000));
      assert.equal(requests(), 1);
    });
  });
}
