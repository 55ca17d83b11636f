import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spamMetrics } from '../../../src/contracts/gateway.ts';
import { createSimulator, type Simulator } from '../../../src/sim/simulator.ts';
import { berlinOffsetMinutes, officeRhythm } from '../../../src/sim/traffic.ts';

// Spam metrics are a pure function of (seed, domain, minute) plus injected spikes.

const DAY = 24 * 60;
const series = (sim: Simulator, domain: string, from: string, to: string) =>
  sim.spamMetrics({ from, to, domains: [domain] }).series[0]!.points;

describe('spam metrics', () => {
  const sim = createSimulator({ speed: 0, devices: 0 });
  sim.advance(20 * DAY);

  test('deterministic by seed: any range recomputes identically, another seed differs', () => {
    const a = series(sim, 'siegen.de', '2024-02-16T08:00:00Z', '2024-02-16T09:00:00Z');
    assert.equal(a.length, 60);
    const again = createSimulator({ speed: 0, devices: 0 });
    again.advance(20 * DAY);
    assert.deepEqual(series(again, 'siegen.de', '2024-02-16T08:00:00Z', '2024-02-16T09:00:00Z'), a);
    // an overlapping window gives the same buckets
    assert.deepEqual(
      series(sim, 'siegen.de', '2024-02-16T08:30:00Z', '2024-02-16T10:00:00Z').slice(0, 30),
      a.slice(30),
    );
    const other = createSimulator({ speed: 0, devices: 0, seed: 99 });
    other.advance(20 * DAY);
    assert.notDeepEqual(series(other, 'siegen.de', '2024-02-16T08:00:00Z', '2024-02-16T09:00:00Z'), a);
  });

  test('buckets are consistent: spam ≤ received, rejected + quarantined ≤ spam; contract-valid', () => {
    const m = spamMetrics.parse(
      sim.spamMetrics({ from: '2024-02-16T00:00:00Z', to: '2024-02-17T00:00:00Z', kreis: 'kr-olpe' }),
    );
    assert.equal(m.series.length, 8);
    assert.equal(m.bucketMinutes, 1);
    for (const s of m.series) {
      assert.equal(s.points.length, DAY);
      for (const p of s.points) {
        assert.ok(p.spam <= p.received && p.rejected + p.quarantined <= p.spam, `${s.domain} ${p.at}`);
      }
    }
  });

  test('office rhythm: weekday mornings busy, nights quiet; small towns single-digit at night', () => {
    const mean = (points: { received: number }[]) => points.reduce((s, p) => s + p.received, 0) / points.length;
    // Friday 2024-02-16: 10:00–11:00 CET vs 02:00–03:00 CET
    const day = series(sim, 'siegen.de', '2024-02-16T09:00:00Z', '2024-02-16T10:00:00Z');
    const night = series(sim, 'siegen.de', '2024-02-16T01:00:00Z', '2024-02-16T02:00:00Z');
    assert.ok(mean(day) > 2 * mean(night), `day ${mean(day)} night ${mean(night)}`);
    const small = series(sim, 'hallenberg.de', '2024-02-15T23:00:00Z', '2024-02-16T05:00:00Z');
    assert.ok(small.every((p) => p.received <= 9));
    const smallDay = series(sim, 'hallenberg.de', '2024-02-16T09:00:00Z', '2024-02-16T10:00:00Z');
    assert.ok(mean(day) > 5 * mean(smallDay), 'Siegen has far more mail than Hallenberg');
    // Saturday is quieter than Friday
    const saturday = series(sim, 'siegen.de', '2024-02-17T09:00:00Z', '2024-02-17T10:00:00Z');
    assert.ok(mean(day) > 2 * mean(saturday));
  });

  test('Berlin local time: CET in winter, CEST in summer', () => {
    const minute = (iso: string) => Date.parse(iso) / 60_000;
    assert.equal(berlinOffsetMinutes(minute('2024-02-16T09:00:00Z')), 60);
    assert.equal(berlinOffsetMinutes(minute('2024-07-01T09:00:00Z')), 120);
    assert.equal(berlinOffsetMinutes(minute('2024-03-31T00:59:00Z')), 60);
    assert.equal(berlinOffsetMinutes(minute('2024-03-31T01:00:00Z')), 120);
    assert.equal(berlinOffsetMinutes(minute('2024-10-27T01:00:00Z')), 60);
    // 06:30 UTC is 07:30 CET (office hours), 05:30 UTC is 06:30 CET (early shoulder)
    assert.equal(officeRhythm(minute('2024-02-16T06:30:00Z')), 1);
    assert.equal(officeRhythm(minute('2024-02-16T05:30:00Z')), 0.35);
  });

  test('an injected spike multiplies received and spam by its factor for its minutes only', () => {
    const base = createSimulator({ speed: 0, devices: 0 });
    const spiked = createSimulator({ speed: 0, devices: 0 });
    spiked.advance(60);
    const ack = spiked.injectSpam({ region: 'kr-olpe', factor: 8, minutes: 30 });
    assert.equal(ack.domains.length, 8);
    assert.equal(ack.from, '2024-02-15T18:00:00.000Z');
    assert.equal(ack.to, '2024-02-15T18:30:00.000Z');
    base.advance(180);
    spiked.advance(120);
    const range = ['2024-02-15T17:50:00Z', '2024-02-15T18:40:00Z'] as const;
    for (const domain of ['olpe.de', 'kreis-olpe.de', 'attendorn.de']) {
      const a = series(base, domain, ...range);
      const b = series(spiked, domain, ...range);
      a.forEach((p, k) => {
        const inSpike = k >= 10 && k < 40;
        assert.equal(b[k]!.spam, inSpike ? Math.round(p.spam * 8) : p.spam, `${domain} ${p.at}`);
        assert.equal(b[k]!.received, inSpike ? Math.round(p.received * 8) : p.received, `${domain} ${p.at}`);
      });
    }
    assert.deepEqual(
      series(spiked, 'siegen.de', ...range),
      series(base, 'siegen.de', ...range),
      'other Kreise untouched',
    );
  });

  test('the future has no buckets; more than 24 h is refused; pages by domain', () => {
    const fresh = createSimulator({ speed: 0, devices: 0 });
    const m = fresh.spamMetrics({ from: '2024-02-15T16:00:00Z', to: '2024-02-15T19:00:00Z', domains: ['olpe.de'] });
    assert.equal(m.to, '2024-02-15T17:00:00.000Z');
    assert.equal(m.series[0]!.points.length, 60);
    assert.throws(() => fresh.spamMetrics({ from: '2024-02-14T00:00:00Z', to: '2024-02-15T00:01:00Z' }), {
      status: 400,
      code: 'range_too_large',
    });
    assert.throws(
      () => fresh.spamMetrics({ from: '2024-02-14T00:00:00Z', to: '2024-02-14T01:00:00Z', domains: ['x.de'] }),
      {
        status: 404,
      },
    );
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = fresh.spamMetrics({ from: '2024-02-15T16:00:00Z', to: '2024-02-15T16:05:00Z', limit: 25, cursor });
      names.push(...page.series.map((s) => s.domain));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(names.length, 64);
    assert.deepEqual(names, [...names].sort());
  });
});
