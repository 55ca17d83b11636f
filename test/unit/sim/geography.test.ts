import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { regionNode } from '../../../src/contracts/inventory.ts';
import { buildGeography, slugify } from '../../../src/sim/geography.ts';

describe('sim geography', () => {
  const geo = buildGeography();
  const byId = new Map(geo.nodes.map((n) => [n.id, n]));
  const ofKind = (kind: string) => geo.nodes.filter((n) => n.kind === kind);

  test('2 Verbände, 5 Kreise, 59 towns, every node valid against the wire contract', () => {
    assert.equal(ofKind('verband').length, 2);
    assert.equal(ofKind('kreis').length, 5);
    assert.equal(ofKind('kommune').length, 59);
    for (const n of geo.nodes) regionNode.parse(n);
  });

  test('the hierarchy is the real one', () => {
    const kreiseOf = (vb: string) =>
      ofKind('kreis')
        .filter((k) => k.parentId === vb)
        .map((k) => k.id)
        .sort();
    assert.deepEqual(kreiseOf('vb-nord'), ['kr-hsk', 'kr-mk', 'kr-soest']);
    assert.deepEqual(kreiseOf('vb-sued'), ['kr-olpe', 'kr-siegen-wittgenstein']);
    const towns = (kr: string) => ofKind('kommune').filter((t) => t.parentId === kr).length;
    assert.deepEqual(
      ['kr-olpe', 'kr-siegen-wittgenstein', 'kr-soest', 'kr-hsk', 'kr-mk'].map(towns),
      [7, 11, 14, 12, 15],
    );
    assert.equal(byId.get('ko-attendorn')?.parentId, 'kr-olpe');
    assert.equal(byId.get('ko-siegen')?.parentId, 'kr-siegen-wittgenstein');
    assert.equal(byId.get('ko-wickede-ruhr')?.parentId, 'kr-soest');
    assert.equal(byId.get('ko-sundern-sauerland')?.parentId, 'kr-hsk');
    assert.equal(byId.get('ko-luedenscheid')?.parentId, 'kr-mk');
  });

  test('ids are unique and towns are slugged per the rule', () => {
    assert.equal(new Set(geo.nodes.map((n) => n.id)).size, geo.nodes.length);
    for (const t of ofKind('kommune')) assert.equal(t.id, `ko-${slugify(t.name)}`);
    assert.equal(slugify('Wickede (Ruhr)'), 'wickede-ruhr');
    assert.equal(slugify('Schalksmühle'), 'schalksmuehle');
    assert.equal(slugify('Erndtebrück'), 'erndtebrueck');
    assert.equal(slugify('Möhnesee'), 'moehnesee');
    assert.equal(slugify('Anröchte'), 'anroechte');
    assert.equal(slugify('Straße'), 'strasse');
  });

  test('names, short names and aliases: Olpe is both a Kreis and a town', () => {
    assert.equal(byId.get('kr-olpe')?.name, 'Kreis Olpe');
    assert.equal(byId.get('ko-olpe')?.name, 'Olpe');
    assert.deepEqual(byId.get('kr-olpe')?.aliases, []);
    assert.equal(byId.get('kr-hsk')?.name, 'Hochsauerlandkreis');
    assert.equal(byId.get('kr-hsk')?.shortName, 'HSK');
    assert.ok(byId.get('kr-hsk')?.aliases.includes('Hochsauerland'));
    assert.equal(byId.get('kr-mk')?.name, 'Märkischer Kreis');
    assert.equal(byId.get('kr-mk')?.shortName, 'MK');
    assert.equal(byId.get('vb-nord')?.name, 'Nordverband');
    assert.deepEqual(byId.get('vb-sued')?.aliases, ['Süd']);
    for (const n of geo.nodes) assert.ok(!n.aliases.includes(n.name), `${n.id} repeats its name as alias`);
  });

  test('AGS: Kreisschlüssel of 5 digits, Gemeindeschlüssel of 8 digits within the Kreis', () => {
    const kreisAgs = Object.fromEntries(ofKind('kreis').map((k) => [k.id, k.ags]));
    assert.deepEqual(kreisAgs, {
      'kr-soest': '05974',
      'kr-hsk': '05958',
      'kr-mk': '05962',
      'kr-olpe': '05966',
      'kr-siegen-wittgenstein': '05970',
    });
    for (const t of ofKind('kommune')) {
      assert.match(t.ags ?? '', /^\d{8}$/);
      assert.ok(t.ags?.startsWith(byId.get(t.parentId!)!.ags!), t.id);
    }
    assert.equal(byId.get('ko-siegen')?.ags, '05970040');
    assert.equal(new Set(ofKind('kommune').map((t) => t.ags)).size, 59);
  });

  test('populations: towns plausible, Kreise and Verbände are the sums below them', () => {
    const pop = (id: string) => byId.get(id)!.population!;
    assert.ok(pop('ko-siegen') > 90_000 && pop('ko-siegen') < 110_000);
    assert.ok(pop('ko-hallenberg') < 6_000);
    for (const parent of [...ofKind('verband'), ...ofKind('kreis')]) {
      const sum = geo.nodes.filter((c) => c.parentId === parent.id).reduce((s, c) => s + c.population!, 0);
      assert.equal(parent.population, sum, parent.id);
    }
  });

  test('mail domains: ASCII, unique, each owned by exactly one node; towns and Kreise have their own', () => {
    const owners = new Map<string, string[]>();
    for (const n of geo.nodes) for (const d of n.domains) owners.set(d, [...(owners.get(d) ?? []), n.id]);
    assert.equal(owners.size, 64);
    for (const [d, o] of owners) {
      assert.equal(o.length, 1, `${d} owned by ${o.join(', ')}`);
      assert.match(d, /^[a-z0-9.-]+\.de$/);
    }
    for (const t of ofKind('kommune')) assert.equal(t.domains.length, 1, t.id);
    for (const v of ofKind('verband')) assert.deepEqual(v.domains, []);
    assert.deepEqual(byId.get('kr-olpe')?.domains, ['kreis-olpe.de']);
    assert.deepEqual(byId.get('kr-siegen-wittgenstein')?.domains, ['siegen-wittgenstein.de']);
    assert.deepEqual(byId.get('kr-soest')?.domains, ['kreis-soest.de']);
    assert.deepEqual(byId.get('kr-hsk')?.domains, ['hochsauerlandkreis.de']);
    assert.deepEqual(byId.get('kr-mk')?.domains, ['maerkischer-kreis.de']);
    assert.deepEqual(byId.get('ko-attendorn')?.domains, ['attendorn.de']);
    assert.deepEqual(byId.get('ko-luedenscheid')?.domains, ['luedenscheid.de']);
    assert.equal(geo.domains.length, 64);
    assert.deepEqual(
      geo.domains.map((d) => d.name),
      [...owners.keys()].sort(),
    );
  });

  test('domain facts name the owning town, Kreis and Verband', () => {
    const info = (name: string) => geo.domains[geo.domainIndex.get(name)!]!;
    assert.deepEqual(
      { ...info('olpe.de'), peakPerMinute: 0 },
      {
        name: 'olpe.de',
        owner: geo.index.get('ko-olpe'),
        municipality: 'ko-olpe',
        kreis: 'kr-olpe',
        verband: 'vb-sued',
        peakPerMinute: 0,
      },
    );
    assert.equal(info('kreis-soest.de').municipality, null);
    assert.equal(info('kreis-soest.de').kreis, 'kr-soest');
    assert.equal(info('kreis-soest.de').verband, 'vb-nord');
  });

  test('extraDomains adds unique synthetic domains below the towns', () => {
    const big = buildGeography(500);
    assert.equal(big.domains.length, 564);
    const all = big.nodes.flatMap((n) => n.domains);
    assert.equal(new Set(all).size, 564);
    const extras = big.domains.filter((d) => /^d\d{5}\./.test(d.name));
    assert.equal(extras.length, 500);
    for (const d of extras) {
      const owner = big.nodes[d.owner]!;
      assert.equal(owner.kind, 'kommune');
      assert.ok(d.name.endsWith(`.${owner.domains[0]}`), d.name);
    }
  });
});
