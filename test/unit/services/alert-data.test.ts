import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAlertData } from '../../../src/services/alert-data.ts';

const common = {
  kind: 'spike',
  lang: 'de',
  domains: ['olpe.de'],
  inbound: { 'olpe.de': 'held' },
  startedAt: '2024-02-15T17:00:00.000Z',
  endedAt: null,
  currentRate: 100,
  baselineRate: 10,
  factor: 10,
  peakFactor: 10,
  foldedInto: null,
  series: [],
  audience: ['all', 'kr-olpe'],
  muteScopes: ['kr-olpe'],
  updatedAt: '2024-02-15T17:05:00.000Z',
};

test('version 2 is read as stored', () => {
  const data = {
    v: 2,
    ...common,
    scope: { id: 'kr-olpe', kind: 'group', name: 'Kreis Olpe' },
    group: { id: 'kr-olpe', name: 'Kreis Olpe' },
    within: null,
  };
  assert.deepEqual(parseAlertData(data), data);
});

test('version 1 (kreis and verband) is read as version 2, so alerts open across an upgrade keep their cards', () => {
  const parsed = parseAlertData({
    v: 1,
    ...common,
    scope: { id: 'kr-olpe', kind: 'kreis', name: 'Kreis Olpe' },
    kreis: { id: 'kr-olpe', name: 'Kreis Olpe' },
    verband: { id: 'vb-sued', name: 'Südverband' },
  });
  assert.deepEqual(parsed, {
    v: 2,
    ...common,
    scope: { id: 'kr-olpe', kind: 'group', name: 'Kreis Olpe' },
    group: { id: 'kr-olpe', name: 'Kreis Olpe' },
    within: { id: 'vb-sued', name: 'Südverband' },
  });
});

test('stored alert data that is not ours is ignored, not trusted', () => {
  assert.equal(parseAlertData({ v: 2 }), null);
  assert.equal(parseAlertData({ v: 3, ...common }), null);
  assert.equal(parseAlertData('x'), null);
});
