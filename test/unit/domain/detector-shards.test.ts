import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DETECTOR_SHARDS, decodeDetector, encodeShards, headOf, shardOf } from '../../../src/domain/detector-shards.ts';
import { createDetectorState, type DetectorState, detectSpikes } from '../../../src/domain/spike-detector.ts';

// The detector's state split into a head and shards for the store, and put back together.

const at = (minute: number) => new Date(Date.UTC(2024, 1, 15, 8, 0) + minute * 60_000).toISOString();

// A detector that has seen two hours of 40 domains in four groups, one of them spiking at the end.
function detectorWithHistory(): DetectorState {
  const state = createDetectorState();
  const domains = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
  for (let m = 1; m <= 120; m++) {
    detectSpikes(state, {
      now: at(m),
      domains: domains.map((domain, i) => ({
        domain,
        group: `g${i % 4}`,
        points: [
          {
            at: at(m - 1),
            received: 500,
            spam: m > 110 && i % 4 === 0 ? 200 : 5 + (i % 3),
            rejected: 0,
            quarantined: 0,
          },
        ],
      })),
    });
  }
  return state;
}

describe('detector shards', () => {
  test('a domain’s shard depends on its name only, and the shards are all used', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const shard = shardOf(name);
        assert.ok(Number.isInteger(shard) && shard >= 0 && shard < DETECTOR_SHARDS);
        assert.equal(shardOf(name), shard);
      }),
    );
    // Pinned (FNV-1a, worked out independently), so that a change of the hash — which would leave every
    // stored track in a row its domain no longer maps to — is seen.
    assert.deepEqual(
      ['olpe.de', 'attendorn.de', 'lippstadt.de'].map((d) => shardOf(d)),
      [46, 7, 21],
    );
    assert.deepEqual(
      ['olpe.de', 'attendorn.de', 'lippstadt.de'].map((d) => shardOf(d, 16)),
      [14, 7, 5],
    );
    const used = new Set(Array.from({ length: 2000 }, (_, i) => shardOf(`gemeinde-${i}.de`)));
    assert.equal(used.size, DETECTOR_SHARDS);
  });

  test('head and every shard decode to the state they were taken from, resuming at the oldest shard', () => {
    const state = detectorWithHistory();
    assert.ok(Object.keys(state.alerts).length > 0, 'an alert is open, so the head carries something');
    const all = Array.from({ length: DETECTOR_SHARDS }, (_, k) => k);
    const older = encodeShards(state, all.slice(0, 5), at(100), shardOf);
    const newer = encodeShards(state, all.slice(5), at(120), shardOf);
    const head = JSON.parse(JSON.stringify(headOf(state)));
    assert.equal('domains' in head, false);

    const decoded = decodeDetector(head, at(120), [...newer, ...older]);
    assert.ok(decoded);
    assert.equal(decoded.polledTo, at(100), 'polling resumes where the oldest shard was taken');
    assert.deepEqual(decoded.detector, JSON.parse(JSON.stringify(state)));
    // Each domain is in exactly one shard.
    const names = [...newer, ...older].flatMap((s) => Object.keys((JSON.parse(s.data) as { domains: object }).domains));
    assert.equal(names.length, Object.keys(state.domains).length);
    assert.equal(new Set(names).size, names.length);
  });

  test('a missing, foreign or broken shard, or a head that is not one, decodes to nothing', () => {
    const state = detectorWithHistory();
    const head = headOf(state);
    const shards = encodeShards(
      state,
      Array.from({ length: DETECTOR_SHARDS }, (_, k) => k),
      at(120),
      shardOf,
    );
    assert.ok(decodeDetector(head, at(120), shards));
    assert.equal(decodeDetector(head, at(120), shards.slice(1)), null, 'one shard missing');
    for (const data of ['not json', '{"domains":{}}', '{"polledTo":"yesterday","domains":{}}', 'null']) {
      assert.equal(decodeDetector(head, at(120), [...shards.slice(1), { shard: 0, data }]), null, data);
    }
    assert.equal(decodeDetector(null, at(120), shards), null);
    assert.equal(decodeDetector({ version: 2, alerts: {} }, at(120), shards), null, 'no cooldowns: not a head');
    assert.equal(decodeDetector(head, 'yesterday', shards), null);
    assert.equal(decodeDetector({ ...head, shards: 0 }, at(120), shards), null, 'no shard count');
  });

  test('a state written with 16 shards is read from those 16, whatever other rows the table holds', () => {
    const state = detectorWithHistory();
    // As the watcher wrote it until December 2026: the head without a count, 16 rows.
    const { shards: _count, ...head16 } = headOf(state);
    const sixteen = encodeShards(
      state,
      Array.from({ length: 16 }, (_, k) => k),
      at(120),
      (d) => shardOf(d, 16),
    );
    // Rows 16–63 as a newer replica left them before an older one took over again: stale copies.
    const stale = encodeShards(
      createDetectorState(),
      Array.from({ length: 48 }, (_, k) => k + 16),
      at(60),
      shardOf,
    );
    const decoded = decodeDetector(head16, at(120), [...sixteen, ...stale]);
    assert.ok(decoded);
    assert.equal(decoded.polledTo, at(120), 'the stale rows are not read, not even for their minute');
    assert.deepEqual(decoded.detector, JSON.parse(JSON.stringify(state)));
    // The other way round: a head that says 64 needs all 64.
    assert.equal(decodeDetector(headOf(state), at(120), sixteen), null);
  });
});
