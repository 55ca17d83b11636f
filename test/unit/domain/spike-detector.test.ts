import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createDetectorState,
  type DetectorState,
  defaultSpikeConfig,
  detectSpikes,
  type SpikeConfig,
  upgradeDetectorState,
} from '../../../src/domain/spike-detector.ts';
import {
  backfill,
  createSpamGenerator,
  isoOfMinute,
  minuteOf,
  type Rhythm,
  runPolls,
  type SeriesOptions,
  type SpikeInjection,
  type SyntheticDomain,
} from '../../fixtures/spam-series.ts';

// Kreis Olpe with six domains of different sizes (peak spam per minute on a weekday), Kreis Soest with three.
const domains: SyntheticDomain[] = [
  { domain: 'olpe.de', group: 'kr-olpe', peakSpam: 80 },
  { domain: 'attendorn.de', group: 'kr-olpe', peakSpam: 60 },
  { domain: 'lennestadt.de', group: 'kr-olpe', peakSpam: 50 },
  { domain: 'finnentrop.de', group: 'kr-olpe', peakSpam: 30 },
  { domain: 'wenden.de', group: 'kr-olpe', peakSpam: 25 },
  { domain: 'kirchhundem.de', group: 'kr-olpe', peakSpam: 2 },
  { domain: 'soest.de', group: 'kr-soest', peakSpam: 70 },
  { domain: 'lippstadt.de', group: 'kr-soest', peakSpam: 90 },
  { domain: 'warstein.de', group: 'kr-soest', peakSpam: 20 },
];

// Warm-up as the watcher does on first start: the last seven days in one backfill call.
// Mon 5 Feb 2024 00:00 local → Tue 13 Feb 10:00 local (09:00Z); the tests then run on Tuesday morning.
const WARM_FROM = '2024-02-04T23:00:00.000Z';
const WARM_TO = '2024-02-13T09:00:00.000Z';
const at = (hhmm: string, day = '2024-02-13') => `${day}T${hhmm}:00.000Z`;
const plus = (iso: string, minutes: number) => isoOfMinute(minuteOf(iso) + minutes);

const warmCache = new Map<string, DetectorState>();
function warmState(seed: number, rhythm: Rhythm = 'office'): DetectorState {
  const key = `${seed}/${rhythm}`;
  let warm = warmCache.get(key);
  if (!warm) {
    warm = backfill(createSpamGenerator(domains, { seed, rhythm }), createDetectorState(), WARM_FROM, WARM_TO);
    warmCache.set(key, warm);
  }
  // detectSpikes updates the state in place: every test gets its own copy.
  return structuredClone(warm);
}

function scenario(opts: Omit<SeriesOptions, 'seed'> & { seed?: number }) {
  const seed = opts.seed ?? 1;
  return { gen: createSpamGenerator(domains, { ...opts, seed }), state: warmState(seed, opts.rhythm) };
}

function spike(domain: string, from: string, minutes: number, factor: number): SpikeInjection {
  return { domain, from, minutes, factor };
}

describe('spike detector: normal traffic', () => {
  for (const [rhythm, seed] of [
    ['office', 1],
    ['office', 2],
    ['step', 3],
  ] as const) {
    test(`seven days of ${rhythm} rhythm with noise (seed ${seed}) raise no alert`, () => {
      const { gen, state } = scenario({ seed, rhythm });
      const run = runPolls(gen, state, {
        from: WARM_TO,
        to: plus(WARM_TO, 7 * 1440),
        stepMinutes: 5,
        windowMinutes: 10,
      });
      assert.deepEqual(
        run.events.map((e) => `${e.type} ${e.alert.id}`),
        [],
      );
    });
  }

  test('from a cold start without backfill, only the first morning may alarm; the rhythm is learned after one day', () => {
    // The simulator's hard 07:00 edge looks like a spike to a detector that has never seen a morning.
    const gen = createSpamGenerator(domains, { seed: 4, rhythm: 'step' });
    const run = runPolls(gen, createDetectorState(), {
      from: '2024-02-11T23:00:00.000Z',
      to: '2024-02-18T23:00:00.000Z',
      stepMinutes: 5,
      windowMinutes: 10,
    });
    const afterFirstDay = run.events.filter((e) => e.type === 'opened' && e.now >= '2024-02-12T23:00:00.000Z');
    assert.deepEqual(
      afterFirstDay.map((e) => e.alert.id),
      [],
    );
  });
});

describe('spike detector: one domain', () => {
  const start = at('09:30');

  test('a 5× step in one domain opens an alert within two buckets', () => {
    const { gen, state } = scenario({ spikes: [spike('olpe.de', start, 45, 5)] });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 10) });
    const opened = run.events.filter((e) => e.type === 'opened');
    assert.equal(opened.length, 1);
    const [e] = opened;
    // The poll at start+2 is the first that has both buckets start and start+1 complete.
    assert.ok(e!.now <= plus(start, 2), `opened at ${e!.now}`);
    assert.deepEqual(e!.alert.scope, { kind: 'domain', id: 'olpe.de' });
    assert.deepEqual(e!.alert.domains, ['olpe.de']);
    assert.equal(e!.alert.startedAt, start);
    assert.equal(e!.alert.id, `spike:domain:olpe.de:${start}`);
    assert.equal(e!.alert.endedAt, null);
    assert.equal(e!.alert.group, 'kr-olpe');
    assert.ok(e!.alert.factor >= 3.5 && e!.alert.factor <= 7, `factor ${e!.alert.factor}`);
    assert.ok(e!.alert.baselineRate > 50 && e!.alert.baselineRate < 120, `baseline ${e!.alert.baselineRate}`);
    const last = e!.alert.series.at(-1)!;
    assert.equal(last.at, plus(start, 1));
    // currentRate is the mean of the alert's buckets so far (here: the two that opened it).
    const own = e!.alert.series.filter((p) => p.at >= start);
    assert.equal(own.length, 2);
    assert.equal(e!.alert.currentRate, (own[0]!.value + own[1]!.value) / 2);
    assert.ok(e!.alert.series.length <= 120 && e!.alert.series.length > 60);
  });

  test('closes after the spike ends, with endedAt and peakFactor, and nothing else fires', () => {
    const { gen, state } = scenario({ spikes: [spike('olpe.de', start, 45, 5)] });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 120) });
    const kinds = run.events.map((e) => e.type);
    assert.deepEqual(
      kinds.filter((k) => k !== 'updated'),
      ['opened', 'closed'],
    );
    assert.ok(kinds.filter((k) => k === 'updated').length <= 2, 'a steady spike needs (almost) no card updates');
    const closed = run.events.find((e) => e.type === 'closed')!;
    assert.equal(closed.alert.id, `spike:domain:olpe.de:${start}`);
    assert.equal(closed.alert.endedAt, plus(start, 45));
    // Closing needs closeAfterBuckets calm buckets after the end.
    assert.ok(closed.now <= plus(start, 45 + defaultSpikeConfig.closeAfterBuckets + 1), `closed at ${closed.now}`);
    assert.ok(closed.alert.peakFactor >= 5 && closed.alert.peakFactor <= 8, `peak ${closed.alert.peakFactor}`);
    assert.ok(closed.alert.factor < 2, `factor at close ${closed.alert.factor}`);
    assert.equal(closed.alert.foldedInto, null);
  });

  test('a small domain going from 2 to 8 mails a minute does not alert (the volume guard, not luck)', () => {
    const spikes = [spike('kirchhundem.de', start, 60, 4)];
    const { gen, state } = scenario({ spikes });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 90) });
    assert.deepEqual(
      run.events.map((e) => e.alert.id),
      [],
    );
    // The same series with a lower volume floor does alert: the z-score alone would have fired.
    const again = scenario({ spikes });
    const loose: SpikeConfig = { ...defaultSpikeConfig, minSpamPerMinute: 5 };
    const looseRun = runPolls(again.gen, again.state, { from: plus(WARM_TO, 1), to: plus(start, 90), config: loose });
    assert.ok(looseRun.events.some((e) => e.type === 'opened' && e.alert.scope.id === 'kirchhundem.de'));
  });

  test('flapping around the threshold gives one alert, not many', () => {
    // For two hours the level jumps every two minutes between 2.5× (below the 3× open guard) and 3.5×.
    const flapFrom = minuteOf(start);
    const shape = (domain: string, minute: number) =>
      domain === 'olpe.de' && minute >= flapFrom && minute < flapFrom + 120
        ? Math.floor((minute - flapFrom) / 2) % 2 === 0
          ? 3.5
          : 2.5
        : 1;
    const { gen, state } = scenario({ shape });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 180) });
    assert.equal(run.events.filter((e) => e.type === 'opened').length, 1);
    assert.equal(run.events.filter((e) => e.type === 'closed').length, 1);
    assert.ok(run.events.filter((e) => e.type === 'updated').length <= 3, 'few card updates');
    const closed = run.events.find((e) => e.type === 'closed')!;
    assert.equal(closed.alert.endedAt, plus(start, 120));
    // Without hysteresis and cooldown the same series flaps: the test sees the difference.
    const again = scenario({ shape });
    const noHysteresis: SpikeConfig = { ...defaultSpikeConfig, zClose: 1000, cooldownMinutes: 0 };
    const flappy = runPolls(again.gen, again.state, {
      from: plus(WARM_TO, 1),
      to: plus(start, 180),
      config: noHysteresis,
    });
    assert.ok(flappy.events.filter((e) => e.type === 'opened').length >= 5);
  });

  test('on/off bursts shorter than the close hysteresis stay one alert', () => {
    // 4 minutes at 6×, 2 minutes normal, for an hour: the 2 calm buckets never close it.
    const from = minuteOf(start);
    const shape = (domain: string, minute: number) =>
      domain === 'olpe.de' && minute >= from && minute < from + 60 && (minute - from) % 6 < 4 ? 6 : 1;
    const { gen, state } = scenario({ shape });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 90) });
    assert.equal(run.events.filter((e) => e.type === 'opened').length, 1);
    assert.equal(run.events.filter((e) => e.type === 'closed').length, 1);
  });

  test('after closing, the same domain cannot open again during the cooldown', () => {
    // A: 09:30–09:50, B: 10:00–10:15 (inside the cooldown after A closed ~09:53), C: 11:00–11:20.
    const spikes = [
      spike('olpe.de', at('09:30'), 20, 5),
      spike('olpe.de', at('10:00'), 15, 5),
      spike('olpe.de', at('11:00'), 20, 5),
    ];
    const opened = (config?: SpikeConfig) => {
      const { gen, state } = scenario({ spikes });
      const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: at('12:00'), ...(config ? { config } : {}) });
      return run.events.filter((e) => e.type === 'opened').map((e) => e.alert.startedAt);
    };
    assert.deepEqual(opened(), [at('09:30'), at('11:00')]);
    // Without the cooldown B would have been its own alert: the test sees the difference.
    assert.deepEqual(opened({ ...defaultSpikeConfig, cooldownMinutes: 0 }), [at('09:30'), at('10:00'), at('11:00')]);
  });

  test('a spike still running when the cooldown ends opens a new alert then, dated from its start', () => {
    const spikes = [spike('olpe.de', at('09:30'), 20, 5), spike('olpe.de', at('10:00'), 60, 5)];
    const { gen, state } = scenario({ spikes });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: at('11:30') });
    const opened = run.events.filter((e) => e.type === 'opened');
    assert.deepEqual(
      opened.map((e) => e.alert.startedAt),
      [at('09:30'), at('10:00')],
    );
    const firstClosed = run.events.find((e) => e.type === 'closed')!;
    const cooldownEnd = plus(firstClosed.now, defaultSpikeConfig.cooldownMinutes);
    assert.equal(opened[1]!.now, cooldownEnd);
  });

  test('a level that stays up for hours becomes the new normal and the alert ends', () => {
    const { gen, state } = scenario({ spikes: [spike('olpe.de', at('09:30'), 24 * 60, 4)] });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: at('18:00'), stepMinutes: 2, windowMinutes: 4 });
    const types = run.events.filter((e) => e.type !== 'updated').map((e) => e.type);
    assert.deepEqual(types, ['opened', 'closed']);
    const closed = run.events.find((e) => e.type === 'closed')!;
    assert.ok(closed.now > plus(at('09:30'), defaultSpikeConfig.relearnAfterMinutes), `closed at ${closed.now}`);
  });

  test('a spike that keeps growing is reported as updated, with the higher factor', () => {
    const from = minuteOf(start);
    const shape = (domain: string, minute: number) =>
      domain === 'olpe.de' && minute >= from && minute < from + 60 ? (minute - from < 20 ? 4 : 12) : 1;
    const { gen, state } = scenario({ shape });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 40) });
    const opened = run.events[0]!;
    assert.equal(opened.type, 'opened');
    assert.ok(opened.alert.factor < 6, `opened at factor ${opened.alert.factor}`);
    // No update during the steady first 20 minutes; then one as the 5-minute rate climbs, maybe a
    // second when it settles at the new level — not one per minute.
    const updated = run.events.filter((e) => e.type === 'updated');
    assert.ok(updated.length >= 1 && updated.length <= 2, `${updated.length} updates`);
    assert.ok(updated[0]!.now > plus(start, 20), `first update at ${updated[0]!.now}`);
    assert.ok(updated[0]!.alert.factor >= opened.alert.factor * 1.5);
    assert.ok(updated.at(-1)!.alert.factor >= 9, `factor ${updated.at(-1)!.alert.factor}`);
    assert.ok(updated.every((e) => e.alert.id === opened.alert.id));
  });
});

describe('spike detector: Kreis aggregation', () => {
  const start = at('09:30');

  test('a spike in half the domains of a Kreis gives exactly one Kreis alert, listing them', () => {
    const spiking = ['olpe.de', 'attendorn.de', 'lennestadt.de'];
    const { gen, state } = scenario({ spikes: spiking.map((d) => spike(d, start, 30, 5)) });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 60) });
    const nonUpdates = run.events.filter((e) => e.type !== 'updated');
    assert.deepEqual(
      nonUpdates.map((e) => `${e.type} ${e.alert.scope.kind}:${e.alert.scope.id}`),
      ['opened group:kr-olpe', 'closed group:kr-olpe'],
    );
    const opened = nonUpdates[0]!;
    assert.ok(opened.now <= plus(start, 2));
    assert.deepEqual(opened.alert.domains, [...spiking].sort());
    assert.equal(opened.alert.id, `spike:group:kr-olpe:${start}`);
    assert.equal(opened.alert.group, 'kr-olpe');
    // Kreis figures are sums over its spiking domains.
    assert.ok(opened.alert.baselineRate > 140 && opened.alert.baselineRate < 260, `${opened.alert.baselineRate}`);
    assert.ok(opened.alert.factor >= 3.5);
    const closed = nonUpdates[1]!;
    assert.equal(closed.alert.endedAt, plus(start, 30));
    assert.ok(closed.alert.peakFactor >= 4.5);
  });

  test('two of six domains are not a Kreis event: two domain alerts', () => {
    const { gen, state } = scenario({ spikes: ['olpe.de', 'attendorn.de'].map((d) => spike(d, start, 30, 5)) });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 10) });
    assert.deepEqual(
      run.events.filter((e) => e.type === 'opened').map((e) => `${e.alert.scope.kind}:${e.alert.scope.id}`),
      ['domain:olpe.de', 'domain:attendorn.de'],
    );
  });

  test('two of three domains are half a Kreis: one Kreis alert', () => {
    const { gen, state } = scenario({ spikes: ['soest.de', 'lippstadt.de'].map((d) => spike(d, start, 30, 5)) });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 10) });
    assert.deepEqual(
      run.events.filter((e) => e.type === 'opened').map((e) => `${e.alert.scope.kind}:${e.alert.scope.id}`),
      ['group:kr-soest'],
    );
  });

  test('a domain alert that becomes part of a Kreis alert is folded into it', () => {
    const spikes = [
      spike('olpe.de', start, 40, 5),
      spike('attendorn.de', plus(start, 6), 30, 5),
      spike('lennestadt.de', plus(start, 6), 30, 5),
      spike('wenden.de', plus(start, 12), 20, 5),
    ];
    const { gen, state } = scenario({ spikes });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 90) });
    const lines = run.events
      .filter((e) => e.type !== 'updated')
      .map((e) => `${e.type} ${e.alert.scope.kind}:${e.alert.scope.id} ${e.alert.domains.length}`);
    assert.deepEqual(lines, [
      'opened domain:olpe.de 1',
      'closed domain:olpe.de 1', // folded
      'opened group:kr-olpe 3',
      'closed group:kr-olpe 4',
    ]);
    // wenden.de joining is reported at once (later updates follow the factor as the domains calm down).
    const joined = run.events.find((e) => e.type === 'updated')!;
    assert.deepEqual(joined.alert.domains, ['attendorn.de', 'lennestadt.de', 'olpe.de', 'wenden.de']);
    assert.ok(joined.now <= plus(start, 12 + 2), `joined at ${joined.now}`);
    const folded = run.events[1]!;
    assert.equal(folded.alert.foldedInto, `spike:group:kr-olpe:${start}`);
    const kreis = run.events[2]!;
    assert.equal(kreis.now, folded.now);
    assert.equal(kreis.alert.startedAt, start, 'the Kreis alert starts with its first domain');
    const closed = run.events.at(-1)!;
    assert.equal(closed.alert.endedAt, plus(start, 40));
    // After the Kreis alert, its domains are cooling down too: no domain alert follows right away.
    assert.equal(run.events.filter((e) => e.type === 'opened').length, 2);
  });
});

describe('spike detector: polling and state', () => {
  const start = at('09:30');
  const spikes = [spike('olpe.de', start, 30, 5), ...['soest.de', 'lippstadt.de'].map((d) => spike(d, start, 20, 4))];

  test('overlapping poll windows do not double count', () => {
    const runWith = (stepMinutes: number, windowMinutes: number) => {
      const { gen, state } = scenario({ spikes });
      return runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 90), stepMinutes, windowMinutes });
    };
    const exact = runWith(1, 1);
    const overlapping = runWith(1, 15);
    assert.ok(exact.events.length >= 4);
    assert.deepEqual(overlapping.events, exact.events);
    assert.deepEqual(overlapping.state, exact.state);
  });

  test('points out of order or repeated within one answer are taken once, in time order', () => {
    const { gen, state } = scenario({ spikes });
    const ordered = structuredClone(state);
    const now = minuteOf(plus(WARM_TO, 20));
    const window = gen.window(now - 20, now);
    const messy = window.map((d) => ({ ...d, points: [...d.points].reverse().concat(d.points.slice(0, 5)) }));
    assert.deepEqual(
      detectSpikes(state, { now: isoOfMinute(now), domains: messy }).state,
      detectSpikes(ordered, { now: isoOfMinute(now), domains: window }).state,
    );
  });

  test('the same poll twice changes nothing the second time', () => {
    const { gen, state } = scenario({ spikes });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 5) });
    const now = minuteOf(plus(start, 6));
    const input = { now: isoOfMinute(now), domains: gen.window(now - 30, now) };
    const first = detectSpikes(run.state, input);
    const snapshot = structuredClone(first.state);
    const second = detectSpikes(first.state, input);
    assert.deepEqual(second.events, []);
    assert.deepEqual(second.state, snapshot);
  });

  // The state as version 2 persisted it: the trailing window and the chart's series as lists, oldest first,
  // the series as long as the track had existed (at most seriesMinutes).
  function asVersion2(state: DetectorState): unknown {
    const v2 = structuredClone(state) as unknown as {
      version: number;
      domains: Record<string, { last: number | null; win: number[]; winNext?: number; recV: number[]; recB: number[] }>;
    };
    v2.version = 2;
    for (const t of Object.values(v2.domains)) {
      t.win = [...t.win.slice(t.winNext), ...t.win.slice(0, t.winNext)];
      delete t.winNext;
      const size = t.recV.length;
      const chronological = (ring: number[]) =>
        t.last === null ? [] : Array.from({ length: size }, (_, k) => ring[(t.last! - size + 1 + k) % size]!);
      t.recV = chronological(t.recV);
      t.recB = chronological(t.recB);
      while (t.recV.length > 0 && t.recV[0] === -1) {
        t.recV.shift();
        t.recB.shift();
      }
    }
    return v2;
  }

  test('a version-2 state (window and series as lists) is upgraded in place and goes on as before', () => {
    const { gen, state } = scenario({ spikes: ['soest.de', 'lippstadt.de'].map((d) => spike(d, start, 30, 5)) });
    // Stopped in the middle of the wave: the rest of it (updates, the close) comes after the upgrade.
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 10) });
    const wrapped = Object.values(run.state.domains).filter((t) => t.winNext !== 0);
    assert.ok(wrapped.length > 0, 'some windows have wrapped around');
    const v2 = asVersion2(run.state);
    // The same values; a ring that had wrapped comes back unwrapped (its oldest value first), which
    // the detector reads the same, as the polls after it show.
    const upgraded = upgradeDetectorState(structuredClone(v2))!;
    assert.equal(upgraded.version, 3);
    assert.deepEqual(asVersion2(upgraded), v2);
    const next = { from: plus(start, 11), to: plus(start, 60) };
    const after = runPolls(gen, upgradeDetectorState(v2)!, next).events;
    assert.ok(after.some((e) => e.type === 'closed'));
    assert.deepEqual(after, runPolls(gen, structuredClone(run.state), next).events);
  });

  test('a version-1 state (its group named "kreis", the Verband beside it) is upgraded in place', () => {
    const { gen, state } = scenario({ spikes: ['soest.de', 'lippstadt.de'].map((d) => spike(d, start, 30, 5)) });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 45) });
    assert.ok(Object.values(run.state.cooldowns).length > 0 || Object.values(run.state.alerts).length > 0);
    // The state as the watcher persisted it before the rename.
    const v1 = JSON.parse(JSON.stringify(asVersion2(run.state)), (key, value) => {
      if (key === 'version') return 1;
      if (key === 'cooldowns') {
        return Object.fromEntries(
          Object.entries(value as Record<string, number>).map(([k, v]) => [k.replace(/^group:/, 'kreis:'), v]),
        );
      }
      if (value && typeof value === 'object' && 'group' in value) {
        const { group, ...rest } = value as Record<string, unknown>;
        return { ...rest, kreis: group, verband: 'vb-x', ...(rest.kind === 'group' ? { kind: 'kreis' } : {}) };
      }
      return value;
    });
    assert.ok(JSON.stringify(v1).includes('"kreis"'));
    assert.deepEqual(asVersion2(upgradeDetectorState(v1)!), asVersion2(run.state));
    assert.equal(upgradeDetectorState(run.state), run.state);
    assert.equal(upgradeDetectorState({ version: 4, domains: {}, alerts: {}, cooldowns: {} }), null);
    assert.equal(upgradeDetectorState('{}'), null);
    assert.equal(upgradeDetectorState({ version: 1, domains: {} }), null);
  });

  test('other window and series lengths configured: each track keeps its newest minutes', () => {
    const { gen, state } = scenario({});
    const shorter: SpikeConfig = { ...defaultSpikeConfig, trailingMinutes: 40, seriesMinutes: 90 };
    const now = minuteOf(plus(WARM_TO, 1));
    const input = { now: isoOfMinute(now), domains: gen.window(now - 1, now) };
    const before = structuredClone(state.domains['olpe.de']!);
    const t = detectSpikes(state, input, shorter).state.domains['olpe.de']!;
    const ordered = (win: number[], next: number) => [...win.slice(next), ...win.slice(0, next)];
    // The window: the newest 40 admitted, then this minute's bucket in place of the oldest.
    assert.equal(t.win.length, 40);
    assert.deepEqual(ordered(t.win, t.winNext).slice(0, 39), ordered(before.win, before.winNext).slice(-39));
    assert.deepEqual(
      t.sorted,
      t.win.slice().sort((a, b) => a - b),
    );
    // The series: 90 minutes ending at this one, the 89 before it as they were.
    assert.equal(t.recV.length, 90);
    for (let m = t.last! - 89; m < t.last!; m++) assert.equal(t.recV[m % 90], before.recV[m % 120], `minute ${m}`);
  });

  test('a bucket that is still filling is not counted until its minute is over', () => {
    const { gen, state } = scenario({ spikes });
    const run = runPolls(gen, state, { from: plus(WARM_TO, 1), to: plus(start, 1) });
    // now = start+1 plus 30 s: the bucket start+1 is incomplete. The gateway shows a partial count;
    // here a huge one, which would open the alert at once if it were taken.
    const now = `${plus(start, 1).slice(0, 17)}30.000Z`;
    const partial = gen.window(minuteOf(start), minuteOf(start) + 2).map((d) => ({
      ...d,
      points: d.points.map((p, i) => (i === 1 ? { ...p, spam: 100_000 } : p)),
    }));
    const r1 = detectSpikes(run.state, { now, domains: partial });
    assert.deepEqual(r1.events, []);
    // One minute later the complete bucket (the generator's real count) arrives and is used.
    const complete = plus(start, 2);
    const r2 = detectSpikes(r1.state, { now: complete, domains: gen.window(minuteOf(start), minuteOf(complete)) });
    const olpe = r2.events.find((e) => e.alert.scope.id === 'olpe.de');
    assert.ok(olpe, 'olpe.de opens with the complete bucket');
    for (const e of r2.events) assert.ok(e.alert.currentRate < 1000, 'the partial 100,000 was never counted');
  });

  test('state stays bounded: its size after 7 days is about its size after 1 day, and then stops growing', () => {
    const few = [domains[0]!, domains[6]!];
    const gen = createSpamGenerator(few, { seed: 5, rhythm: 'office' });
    let st = createDetectorState();
    const sizes = new Map<number, number>();
    let day = 0;
    for (const until of [1, 7, 21, 28]) {
      st = backfill(gen, st, plus(WARM_FROM, day * 1440), plus(WARM_FROM, until * 1440));
      day = until;
      sizes.set(until, JSON.stringify(st).length);
    }
    const [one, seven, d21, d28] = [1, 7, 21, 28].map((d) => sizes.get(d)!);
    // The seasonal table fills up to seasonalDays hourly medians per slot (weekend slots take 2.5 weeks),
    // so day 1 is somewhat smaller; once full, nothing grows at all.
    assert.ok(seven < one * 1.5, `1 day ${one} B, 7 days ${seven} B`);
    assert.ok(Math.abs(d28 - d21) < d21 * 0.02, `21 days ${d21} B, 28 days ${d28} B`);
    assert.ok(d28 / few.length < 4000, `${d28 / few.length} B per domain`);
  });

  test('backfill learns but never alerts; a spike still running afterwards is alerted by the next poll', () => {
    // olpe.de spikes and calms down inside the backfill; attendorn.de is still spiking at its end.
    const gen = createSpamGenerator(domains, {
      seed: 1,
      spikes: [spike('olpe.de', at('09:05'), 20, 6), spike('attendorn.de', at('09:35'), 60, 6)],
    });
    const warm = warmState(1);
    const end = at('09:45');
    const r = detectSpikes(warm, { now: end, domains: gen.window(minuteOf(WARM_TO), minuteOf(end)), backfill: true });
    assert.deepEqual(r.events, []);
    const next = detectSpikes(r.state, { now: plus(end, 1), domains: gen.window(minuteOf(end), minuteOf(end) + 1) });
    assert.deepEqual(
      next.events.map((e) => `${e.type} ${e.alert.id}`),
      [`opened spike:domain:attendorn.de:${at('09:35')}`],
    );
  });

  test('alert ids are deterministic: the same series gives the same events', () => {
    const a = scenario({ spikes });
    const b = scenario({ spikes });
    const ra = runPolls(a.gen, a.state, { from: plus(WARM_TO, 1), to: plus(start, 40) });
    const rb = runPolls(b.gen, b.state, { from: plus(WARM_TO, 1), to: plus(start, 40) });
    assert.deepEqual(ra.events, rb.events);
  });

  test('the state survives a JSON round trip between polls', () => {
    // Also holds the detector's count of active tracks to account: kept up to date across the direct
    // run's polls, counted afresh for every round-tripped copy. A count that drifted to 0 would skip the
    // alert pass and lose events.
    const { gen, state } = scenario({ spikes });
    const direct = runPolls(gen, structuredClone(state), { from: plus(WARM_TO, 1), to: plus(start, 60) });
    let st = state;
    const events: unknown[] = [];
    for (let m = minuteOf(plus(WARM_TO, 1)); m <= minuteOf(plus(start, 60)); m++) {
      const r = detectSpikes(JSON.parse(JSON.stringify(st)), { now: isoOfMinute(m), domains: gen.window(m - 1, m) });
      st = r.state;
      events.push(...r.events);
    }
    assert.deepEqual(
      events,
      direct.events.map(({ now: _now, ...e }) => e),
    );
  });
});
