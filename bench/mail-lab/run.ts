import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadGatewayDomains } from '../../src/gateway-agent/gateway-domains-file.ts';
import {
  DEFAULT_DOMAINS_FILE,
  type RunningGatewayAgent,
  startGatewayAgent,
} from '../../src/gateway-agent/start-gateway-agent.ts';
import { agentConfig, isRoot, ROOT_NEEDED, startMailLab } from '../../src/mail-lab/mail-lab.ts';
import { sendMail } from '../../src/mail-lab/send-mail.ts';
import { users } from '../../test/fakes/activities.ts';
import { click, requestFrom, writeTestRoles } from '../../test/helpers/release-helpers.ts';
import { startTestBot } from '../../test/helpers/start-test-bot.ts';
import { testLabLayout } from '../../test/mail/lab-fixture.ts';
import { formatMs, formatTable } from '../lib/format-table.ts';
import { summarizeLatencies } from '../lib/percentile.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';

// The mail lab under a February-sized release (docs/gateway-agent.md):
//   release→sink   *Bestätigen* of a release of all 64 domains (inbound) → the last of the held messages
//                  at the delivery sink; target ≤ 10 s (and → the first, which shows how much of it is the
//                  bot's and the agent's changes rather than Postfix's delivery)
//   change call    latency of the agent's PATCH /domains/{domain} with 8 changes in flight at once
// The lab runs on free loopback ports in a temp directory (real Postfix, rspamd as milter, the agent);
// the bot talks to the agent, its inventory is the simulator with every device patched, so one
// approver suffices. Needs root (Postfix).
//
//   npx tsx bench/mail-lab/run.ts [--messages 1000] [--changes 200] [--concurrency 8] [--out bench/results/mail-lab.json]

const RELEASE_TARGET_MS = 10_000;

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench/results/mail-lab.json' },
  },
});
const messages = Number(values.messages);
const changes = Number(values.changes);
const concurrency = Number(values.concurrency);

if (!isRoot()) {
  console.error(ROOT_NEEDED);
  process.exit(1);
}

const loadBefore = loadavg()[0] as number;
const token = 'bench-token';
const domains = loadGatewayDomains(DEFAULT_DOMAINS_FILE).domains.map((d) => d.domain);
const { layout, cleanup } = await testLabLayout();
console.log(`mail lab in ${layout.dir} …`);
const lab = await startMailLab(layout, { agent: false });
let agent: RunningGatewayAgent = await startGatewayAgent(agentConfig(layout, { token }), { log: () => {} });
const api = `http://127.0.0.1:${layout.ports.agent}/gateway/v1`;
const auth = { authorization: `Bearer ${token}` };

try {
  // 1. Held mail: `messages` messages round-robin over the 64 domains, 10 SMTP sessions at a time.
  console.log(`sending ${messages} messages to the 64 held domains …`);
  for (let i = 0; i < messages; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, messages - i) }, (_, j) =>
        sendMail({
          port: layout.ports.smtp,
          from: 'absender@extern.example',
          to: [`post@${domains[(i + j) % domains.length]}`],
          subject: `held ${i + j}`,
        }),
      ),
    );
  }
  const heldNow = async () => {
    const res = await fetch(`${api}/queues`, { headers: auth });
    return ((await res.json()) as { items: { direction: string; held: number }[] }).items.reduce(
      (n, q) => n + (q.direction === 'inbound' ? q.held : 0),
      0,
    );
  };
  while ((await heldNow()) < messages) await new Promise((r) => setTimeout(r, 200));

  // 2. The release through the bot: request, approve, and the measured click on Bestätigen.
  const t = await startTestBot({
    ROLES_FILE: writeTestRoles(),
    GATEWAY_API_URL: api,
    GATEWAY_API_TOKEN: token,
    UPSTREAM_TIMEOUT_MS: '15000',
  });
  let releaseMs: number;
  let firstMs: number | null = null;
  try {
    await fetch(`${t.simUrl}/sim/v1/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scenario: 'all-patched', seed: 42 }),
    });
    const { ref } = await requestFrom(t, 'freigabe alle eingehend Alle Geräte gepatcht', users.operator);
    if (!ref) throw new Error('the release request was not created');
    await click(t, 'request.approve', { ...ref }, users.approver2);
    const before = lab.sink.delivered().length;
    const started = performance.now();
    await click(t, 'request.confirm', { ...ref }, users.approver2);
    while (lab.sink.delivered().length - before < messages) {
      if (firstMs === null && lab.sink.delivered().length > before) firstMs = performance.now() - started;
      if (performance.now() - started > 300_000)
        throw new Error(`only ${lab.sink.delivered().length - before} of ${messages} delivered after 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    releaseMs = performance.now() - started;
    await t.bot.executor.idle(60_000);
  } finally {
    await t.close();
  }

  // 3. The agent's change call, 8 in flight: each worker flips its own domains between held and open.
  agent = await restart(agent);
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < changes) {
        const n = next++;
        const domain = domains[(w * 8 + (n % 8)) % domains.length] as string;
        const t0 = performance.now();
        const res = await fetch(`${api}/domains/${domain}`, {
          method: 'PATCH',
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `bench-${n}` },
          body: JSON.stringify({ inbound: n % 2 === 0 ? 'held' : 'open', reason: 'benchmark change', actor: 'bench' }),
        });
        await res.text();
        if (res.status !== 200) throw new Error(`change ${n}: status ${res.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const change = summarizeLatencies(latencies);

  const loadAfter = loadavg()[0] as number;
  const rows = [
    [`release of 64 domains → first held message at the sink`, formatMs(firstMs ?? releaseMs), '', ''],
    [
      `release of 64 domains → last of ${messages} held messages at the sink`,
      formatMs(releaseMs),
      `≤ ${formatMs(RELEASE_TARGET_MS)}`,
      releaseMs <= RELEASE_TARGET_MS ? 'met' : 'MISSED',
    ],
    [`agent change call, ${concurrency} concurrent (n=${change?.n}) p50`, formatMs(change?.p50), '', ''],
    [`agent change call, ${concurrency} concurrent p95`, formatMs(change?.p95), '', ''],
    [`agent change call, ${concurrency} concurrent max`, formatMs(change?.max), '', ''],
  ];
  console.log(`\n${formatTable(['measure', { header: 'ms', align: 'right' }, 'target ms', ''], rows)}\n`);
  console.log(`load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${cpus().length} CPUs`);
  const path = await writeJsonResult(values.out as string, 'mail-lab', {
    messages,
    releaseMs,
    firstAtSinkMs: firstMs,
    releaseTargetMs: RELEASE_TARGET_MS,
    changeCall: { concurrency, ...change },
    loadAverage: { before: loadBefore, after: loadAfter, cpus: cpus().length },
  });
  console.log(`JSON: ${path}`);
} finally {
  await agent.close();
  await lab.close();
  cleanup();
}

async function restart(a: RunningGatewayAgent): Promise<RunningGatewayAgent> {
  await a.close();
  return startGatewayAgent(agentConfig(layout, { token }), { log: () => {} });
}
