import { parseArgs } from 'node:util';
import { formatTable } from '../lib/format-table.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';
import { type RoundResult, runChaosRound } from './run-chaos-round.ts';

// N randomized chaos rounds (docs/decisions/exactly-once.md) against the real bot processes — one, or
// `--replicas N` on one PostgreSQL (`--store postgres`), each activity sent to a replica at random.
// Each round: concurrent requests, approvals (two approvers at once, double clicks), blocks and
// retries while the gateway fails (errors, lost answers, no answers, slowness, 409 refusals), a
// replica is SIGKILLed and restarted (the first kill: the spam watcher's leaseholder), and a spam wave
// hits a Kreis that a subscribed channel watches.
// Afterwards, with the faults cleared and the bot restarted once more: lost requests, lost decisions,
// duplicated gateway changes, stuck executions, misrecorded outcomes and alerts posted twice or not
// at all into a subscribed channel must all be 0 and the audit chain must verify. Measured: the time
// from killing the leaseholder to the next poll by another replica (target ≤ 2 × the lease's TTL). Prints a table, writes JSON, exits 1 if any round found an anomaly.
// "409 after applied" is shown, not counted: the simulator injects a 409 even on the retry of a change
// it already applied (no real gateway refuses a replayed Idempotency-Key), and the bot then records
// that domain as failed; "Fehlgeschlagene wiederholen" replays it to success.
//
//   npx tsx bench/chaos/run.ts [--runs 5] [--seed 1] [--workers 6] [--chaos-seconds 12]
//                              [--settle-seconds 30] [--kills 2] [--devices 2000]
//                              [--replicas 1] [--store sqlite|postgres] [--sim-speed 10]
//                              [--out bench/results/chaos.json]
//   npx tsx bench/chaos/run.ts --replicas 3 --store postgres     (DATABASE_URL or TEST_DATABASE_URL, default
//                                                                  postgres://postgres@127.0.0.1:5432/test)
//
// --kills: SIGKILLs during the chaos phase; one more follows it (the restart must finish the rest).
// A round takes about chaos-seconds + two bot start-ups (a few seconds each) + settling: ~25 s here.

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '6' },
    'chaos-seconds': { type: 'string', default: '12' },
    'settle-seconds': { type: 'string', default: '30' },
    kills: { type: 'string', default: '2' },
    devices: { type: 'string', default: '2000' },
    replicas: { type: 'string', default: '1' },
    store: { type: 'string', default: 'sqlite' },
    'sim-speed': { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results/chaos.json' },
  },
});

function int(name: keyof typeof values, min: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be a whole number ≥ ${min}, got ${values[name]}`);
    process.exit(2);
  }
  return n;
}

const options = {
  runs: int('runs', 1),
  seed: int('seed', 0),
  workers: int('workers', 1),
  chaosMs: int('chaos-seconds', 1) * 1000,
  settleMs: int('settle-seconds', 1) * 1000,
  kills: int('kills', 0),
  devices: int('devices', 100),
  replicas: int('replicas', 1),
  store: values.store === 'postgres' ? ('postgres' as const) : ('sqlite' as const),
  simSpeed: int('sim-speed', 1),
  databaseUrl: process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
};
if (values.store !== 'sqlite' && values.store !== 'postgres') {
  console.error(`--store must be sqlite or postgres, got ${values.store}`);
  process.exit(2);
}
if (options.replicas > 1 && options.store !== 'postgres') {
  console.error('--replicas above 1 need --store postgres (replicas share one database)');
  process.exit(2);
}

const rounds: RoundResult[] = [];
for (let i = 0; i < options.runs; i++) {
  const seed = options.seed + i;
  console.error(`chaos round ${i + 1}/${options.runs} (seed ${seed}) …`);
  rounds.push(
    await runChaosRound({
      seed,
      workers: options.workers,
      chaosMs: options.chaosMs,
      settleMs: options.settleMs,
      kills: options.kills,
      devices: options.devices,
      replicas: options.replicas,
      store: options.store,
      databaseUrl: options.databaseUrl,
      simSpeed: options.simSpeed,
      log: (line) => console.error(`  ${line}`),
    }),
  );
}

const anomalyCount = (r: RoundResult) =>
  r.counts.lost +
  r.counts.duplicated +
  r.counts.stuck +
  r.counts.misrecorded +
  r.counts.lostDecisions +
  r.counts.changedWithoutDecision +
  r.counts.alertsTwice +
  r.counts.alertsMissing;
const takeoverText = (r: RoundResult) =>
  r.takeovers.map((t) => (t.watcherMs === null ? 'none' : `${(t.watcherMs / 1000).toFixed(1)} s`)).join(', ') || '–';
const failed = rounds.filter((r) => anomalyCount(r) > 0 || !r.auditChain.ok);

console.log(
  formatTable(
    [
      'run',
      'seed',
      'requests',
      'acked',
      'executed',
      'part.failed',
      'open',
      'kills',
      'posts failed',
      { header: 'lost', align: 'right' },
      { header: 'lost decisions', align: 'right' },
      { header: 'duplicated', align: 'right' },
      { header: 'stuck', align: 'right' },
      { header: 'misrecorded', align: 'right' },
      { header: 'changed without a valid decision', align: 'right' },
      { header: 'alerts twice', align: 'right' },
      { header: 'alerts missing', align: 'right' },
      'alerts',
      'takeover (watcher time)',
      '409 after applied',
      'audit chain',
      'settled s',
      'round s',
    ],
    rounds.map((r, i) => [
      i + 1,
      r.seed,
      r.requests.created,
      r.requests.acknowledged,
      r.requests.byState.executed ?? 0,
      r.requests.byState.partially_failed ?? 0,
      (r.requests.byState.pending ?? 0) +
        (r.requests.byState.awaiting_confirmation ?? 0) +
        (r.requests.byState.retry_pending ?? 0),
      r.kills,
      r.posts.failed,
      r.counts.lost,
      r.counts.lostDecisions,
      r.counts.duplicated,
      r.counts.stuck,
      r.counts.misrecorded,
      r.counts.changedWithoutDecision,
      r.counts.alertsTwice,
      r.counts.alertsMissing,
      `${r.alerts.cardsPosted} cards, wave ${r.alerts.waves.join(', ')}`,
      takeoverText(r),
      r.counts.refusedAfterApplied,
      r.auditChain.ok ? `ok (${r.auditChain.count})` : 'BROKEN',
      r.settleMs === null ? `> ${options.settleMs / 1000}` : (r.settleMs / 1000).toFixed(1),
      (r.durationMs / 1000).toFixed(1),
    ]),
  ),
);
for (const r of failed) {
  console.log(`\nseed ${r.seed}: ${JSON.stringify(r.anomalies)} ${JSON.stringify(r.alertAnomalies)}`);
}
const takeovers = rounds.flatMap((r) => r.takeovers);
const leaseTtlMs = rounds[0]?.leaseTtlMs ?? 0;
const takeoverMs = takeovers.map((t) => t.watcherMs ?? Number.POSITIVE_INFINITY);
const worstTakeover = takeoverMs.length === 0 ? null : Math.max(...takeoverMs);
if (options.replicas > 1) {
  console.log(
    `\nleaseholder killed ${takeovers.length}×: next poll by another replica after at most ` +
      `${worstTakeover === null ? '–' : `${(worstTakeover / 1000).toFixed(1)} s`} of watcher time ` +
      `(lease TTL ${leaseTtlMs / 1000} s, target ≤ ${(2 * leaseTtlMs) / 1000} s: ` +
      `${worstTakeover !== null && worstTakeover <= 2 * leaseTtlMs ? 'met' : 'MISSED'}; ` +
      `the watchers ran on the simulator's clock at ${options.simSpeed}× real time)`,
  );
}
console.log(
  failed.length === 0
    ? `\nall ${rounds.length} rounds: 0 lost, 0 lost decisions, 0 duplicated, 0 stuck, 0 misrecorded, 0 changed without a valid decision, 0 alerts twice or missing, audit chain intact`
    : `\n${failed.length} of ${rounds.length} rounds found anomalies`,
);

const path = await writeJsonResult(values.out!, 'chaos', {
  options,
  ok: failed.length === 0,
  totals: {
    requests: rounds.reduce((n, r) => n + r.requests.created, 0),
    kills: rounds.reduce((n, r) => n + r.kills, 0),
    lost: rounds.reduce((n, r) => n + r.counts.lost, 0),
    lostDecisions: rounds.reduce((n, r) => n + r.counts.lostDecisions, 0),
    duplicated: rounds.reduce((n, r) => n + r.counts.duplicated, 0),
    stuck: rounds.reduce((n, r) => n + r.counts.stuck, 0),
    misrecorded: rounds.reduce((n, r) => n + r.counts.misrecorded, 0),
    changedWithoutDecision: rounds.reduce((n, r) => n + r.counts.changedWithoutDecision, 0),
    refusedAfterApplied: rounds.reduce((n, r) => n + r.counts.refusedAfterApplied, 0),
    alertsTwice: rounds.reduce((n, r) => n + r.counts.alertsTwice, 0),
    alertsMissing: rounds.reduce((n, r) => n + r.counts.alertsMissing, 0),
    leaseTtlMs,
    takeoverWatcherMsMax: worstTakeover,
    takeovers,
    auditChainsBroken: rounds.filter((r) => !r.auditChain.ok).length,
  },
  rounds,
});
console.error(`wrote ${path}`);
process.exit(failed.length === 0 ? 0 : 1);
