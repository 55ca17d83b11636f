import { parseArgs } from 'node:util';
import { formatTable } from '../lib/format-table.ts';
import { writeJsonResult } from '../lib/write-json-result.ts';
import { type RoundResult, runChaosRound } from './run-chaos-round.ts';

// N randomized chaos rounds (docs/decisions/exactly-once.md) against the real bot process. Each round: concurrent requests,
// approvals (two approvers at once, double clicks), blocks and retries while the gateway fails
// (errors, lost answers, no answers, slowness, 409 refusals) and the bot is SIGKILLed and restarted.
// Afterwards, with the faults cleared and the bot restarted once more: lost requests, lost decisions,
// duplicated gateway changes, stuck executions and misrecorded outcomes must all be 0 and the audit
// chain must verify. Prints a table, writes JSON, exits 1 if any round found an anomaly.
// "409 after applied" is shown, not counted: the simulator injects a 409 even on the retry of a change
// it already applied (no real gateway refuses a replayed Idempotency-Key), and the bot then records
// that domain as failed; "Fehlgeschlagene wiederholen" replays it to success.
//
//   npx tsx bench/chaos/run.ts [--runs 5] [--seed 1] [--workers 6] [--chaos-seconds 12]
//                              [--settle-seconds 30] [--kills 2] [--devices 2000]
//                              [--out bench/results/chaos.json]
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
};

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
  r.counts.changedWithoutDecision;
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
      r.counts.refusedAfterApplied,
      r.auditChain.ok ? `ok (${r.auditChain.count})` : 'BROKEN',
      r.settleMs === null ? `> ${options.settleMs / 1000}` : (r.settleMs / 1000).toFixed(1),
      (r.durationMs / 1000).toFixed(1),
    ]),
  ),
);
for (const r of failed) {
  console.log(`\nseed ${r.seed}: ${JSON.stringify(r.anomalies)}`);
}
console.log(
  failed.length === 0
    ? `\nall ${rounds.length} rounds: 0 lost, 0 lost decisions, 0 duplicated, 0 stuck, 0 misrecorded, 0 changed without a valid decision, audit chain intact`
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
    auditChainsBroken: rounds.filter((r) => !r.auditChain.ok).length,
  },
  rounds,
});
console.error(`wrote ${path}`);
process.exit(failed.length === 0 ? 0 : 1);
