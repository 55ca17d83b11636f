import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alertGroupOf, alertScopeId, audienceOf, muteScopesOf } from '../../../src/domain/alert-audience.ts';
import { buildRegionIndex } from '../../../src/domain/region-index.ts';
import type { SpikeAlert } from '../../../src/domain/spike-detector.ts';
import { fourLevelLevels, fourLevelRegions } from '../../fixtures/four-level-estate.ts';
import { regionFixture, regionLevelsFixture } from '../../fixtures/regions.ts';

const spike = (over: Partial<SpikeAlert>): SpikeAlert => ({
  id: 'spike:domain:attendorn.de:2024-02-15T17:00:00.000Z',
  scope: { kind: 'domain', id: 'attendorn.de' },
  group: 'kr-olpe',
  domains: ['attendorn.de'],
  startedAt: '2024-02-15T17:00:00.000Z',
  endedAt: null,
  currentRate: 100,
  baselineRate: 10,
  factor: 10,
  peakFactor: 10,
  foldedInto: null,
  series: [],
  ...over,
});

describe('alert routing: who hears about an alert, and which mutes silence it', () => {
  const index = buildRegionIndex(regionFixture, regionLevelsFixture);

  test('a domain alert: the domain, its town, Kreis, Verband and "all" — not the neighbour town', () => {
    const audience = audienceOf(index, spike({}));
    for (const id of ['all', 'domain:attendorn.de', 'ko-attendorn', 'kr-olpe', 'vb-sued']) {
      assert.ok(audience.includes(id), `${id} hears it`);
    }
    for (const id of ['ko-olpe', 'domain:olpe.de', 'kr-soest', 'vb-nord'])
      assert.ok(!audience.includes(id), `${id} does not`);
    assert.deepEqual(muteScopesOf(index, spike({})), ['domain:attendorn.de', 'ko-attendorn', 'kr-olpe', 'vb-sued']);
  });

  test('a group (Kreis) alert also reaches the towns and domains that are part of it', () => {
    const alert = spike({ scope: { kind: 'group', id: 'kr-olpe' }, domains: ['attendorn.de', 'olpe.de'] });
    const audience = audienceOf(index, alert);
    for (const id of ['all', 'kr-olpe', 'vb-sued', 'ko-attendorn', 'ko-olpe', 'domain:olpe.de']) {
      assert.ok(audience.includes(id), `${id} hears it`);
    }
    assert.ok(!audience.includes('ko-wenden'), 'a town of the Kreis whose domain is not in the wave does not');
    // Muting one town does not silence a wave across the Kreis.
    assert.deepEqual(muteScopesOf(index, alert), ['kr-olpe', 'vb-sued']);
  });

  test('the scope an alert is stored and muted under', () => {
    assert.equal(alertScopeId({ kind: 'group', id: 'kr-olpe' }), 'kr-olpe');
    assert.equal(alertScopeId({ kind: 'domain', id: 'olpe.de' }), 'domain:olpe.de');
  });

  test('a domain is grouped with the region above its town; a Kreis administration domain with the Kreis', () => {
    assert.equal(alertGroupOf(index, 'attendorn.de'), 'kr-olpe');
    assert.equal(alertGroupOf(index, 'Kreis-Olpe.DE'), 'kr-olpe');
    assert.equal(alertGroupOf(index, 'example.org'), null);
  });
});

describe('alert routing on a four-level estate', () => {
  const index = buildRegionIndex(fourLevelRegions, fourLevelLevels);

  test('groups: a Gemeinde with its Kreis, a kreisfreie Stadt with its Regierungsbezirk, the Land alone', () => {
    assert.equal(alertGroupOf(index, 'unna.nrw.example'), 'ags:05978');
    assert.equal(alertGroupOf(index, 'kreis-unna.nrw.example'), 'ags:05978');
    assert.equal(alertGroupOf(index, 'bonn.nrw.example'), 'ags:053');
    assert.equal(alertGroupOf(index, 'it.nrw.example'), 'ags:05');
  });

  test('a Kreis alert reaches the Kreis, its Regierungsbezirk, the Land and its towns', () => {
    const alert = spike({
      id: 'spike:group:ags:05978:2024-02-15T17:00:00.000Z',
      scope: { kind: 'group', id: 'ags:05978' },
      group: 'ags:05978',
      domains: ['schwerte.nrw.example', 'unna.nrw.example'],
    });
    assert.deepEqual(audienceOf(index, alert), [
      'ags:05',
      'ags:059',
      'ags:05978',
      'ags:05978028',
      'ags:05978036',
      'all',
      'domain:schwerte.nrw.example',
      'domain:unna.nrw.example',
    ]);
    assert.deepEqual(muteScopesOf(index, alert), ['ags:05', 'ags:059', 'ags:05978']);
  });
});
