import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RegionNode } from '../../../src/domain/model.ts';
import {
  ancestors,
  buildRegionIndex,
  childrenOf,
  choicesOf,
  descendants,
  domainsOf,
  editDistance,
  getNode,
  levelOf,
  ownerOfDomain,
  resolveScope,
  resolveScopeId,
  type ScopeResolution,
  splitScopeAndRest,
} from '../../../src/domain/region-index.ts';
import { fourLevelLevels, fourLevelRegions } from '../../fixtures/four-level-estate.ts';
import { regionFixture, regionLevelsFixture } from '../../fixtures/regions.ts';

const index = buildRegionIndex(regionFixture, regionLevelsFixture);

// One line per resolution, so a table row reads like the answer the bot gives.
function describeResolution(r: ScopeResolution): string {
  switch (r.kind) {
    case 'all':
      return 'all';
    case 'region':
      return `region ${r.node.id}`;
    case 'domain':
      return `domain ${r.domain} of ${r.node.id}`;
    case 'ambiguous':
      return `ambiguous ${r.candidates.map((n) => n.id).join(',')}`;
    case 'unknown':
      return `unknown suggest ${r.suggestions.map((n) => n.id).join(',')}`;
  }
}

describe('resolveScope', () => {
  const cases: [string, string][] = [
    ['alle', 'all'],
    ['ALLE', 'all'],
    ['all', 'all'],
    ['', 'all'],
    ['   ', 'all'],
    // Verbände: names, aliases, umlaut spellings, prefixes
    ['Nordverband', 'region vb-nord'],
    ['Nord', 'region vb-nord'],
    ['nord', 'region vb-nord'],
    ['Süd', 'region vb-sued'],
    ['süd', 'region vb-sued'],
    ['Sued', 'region vb-sued'],
    ['Südverband', 'region vb-sued'],
    ['Suedverband', 'region vb-sued'],
    ['SÜDVERBAND', 'region vb-sued'],
    ['Südverb', 'region vb-sued'],
    ['Verband', 'ambiguous vb-nord,vb-sued'],
    // Kreise with and without "Kreis", short names, aliases
    ['Kreis Olpe', 'region kr-olpe'],
    ['kreis olpe', 'region kr-olpe'],
    ['Landkreis Olpe', 'region kr-olpe'],
    ['Kreis Soest', 'region kr-soest'],
    ['Siegen-Wittgenstein', 'region kr-siegen-wittgenstein'],
    ['Siegen Wittgenstein', 'region kr-siegen-wittgenstein'],
    ['Kreis Siegen-Wittgenstein', 'region kr-siegen-wittgenstein'],
    ['HSK', 'region kr-hsk'],
    ['hsk', 'region kr-hsk'],
    ['Kreis HSK', 'region kr-hsk'],
    ['Hochsauerlandkreis', 'region kr-hsk'],
    ['Hochsauerland', 'region kr-hsk'],
    ['MK', 'region kr-mk'],
    ['Märkischer Kreis', 'region kr-mk'],
    ['Maerkischer Kreis', 'region kr-mk'],
    ['märkischer-kreis', 'region kr-mk'],
    ['Kreis', 'ambiguous kr-hsk,kr-olpe,kr-siegen-wittgenstein,kr-soest,kr-mk'],
    // Towns
    ['Attendorn', 'region ko-attendorn'],
    ['attendorn', 'region ko-attendorn'],
    ['Siegen', 'region ko-siegen'], // exact town beats the Kreis whose name starts with it
    ['Lüdenscheid', 'region ko-luedenscheid'],
    ['Luedenscheid', 'region ko-luedenscheid'],
    ['Wickede (Ruhr)', 'region ko-wickede-ruhr'],
    ['Wickede Ruhr', 'region ko-wickede-ruhr'],
    ['Wickede', 'region ko-wickede-ruhr'],
    ['Menden', 'region ko-menden-sauerland'],
    ['Eslohe', 'region ko-eslohe-sauerland'],
    ['Nachrodt-Wiblingwerde', 'region ko-nachrodt-wiblingwerde'],
    ['Bad Berleburg', 'region ko-bad-berleburg'],
    ['Lippstadt?', 'region ko-lippstadt'],
    // Olpe and Soest are a Kreis and a town
    ['Olpe', 'ambiguous kr-olpe,ko-olpe'],
    ['OLPE', 'ambiguous kr-olpe,ko-olpe'],
    ['Soest', 'ambiguous kr-soest,ko-soest'],
    ['Stadt Olpe', 'region ko-olpe'],
    ['Gemeinde Wenden', 'region ko-wenden'],
    ['Stadt Soest', 'region ko-soest'],
    ['Hansestadt Attendorn', 'region ko-attendorn'],
    // Ids, as card buttons send them
    ['kr-olpe', 'region kr-olpe'],
    ['ko-olpe', 'region ko-olpe'],
    // Mail domains: owner node and the domain as stored
    ['attendorn.de', 'domain attendorn.de of ko-attendorn'],
    ['Attendorn.DE', 'domain attendorn.de of ko-attendorn'],
    ['hansestadt-attendorn.de', 'domain hansestadt-attendorn.de of ko-attendorn'],
    ['it-service@olpe.de', 'domain olpe.de of ko-olpe'],
    ['lüdenscheid.de', 'domain luedenscheid.de of ko-luedenscheid'],
    ['kreis-olpe.de', 'domain kreis-olpe.de of kr-olpe'],
    ['siegen-wittgenstein.de', 'domain siegen-wittgenstein.de of kr-siegen-wittgenstein'],
    ['soest.de.', 'domain soest.de of ko-soest'],
    // Typos: never guessed, always suggested
    ['Kreis Olep', 'unknown suggest kr-olpe'],
    ['Atendorn', 'unknown suggest ko-attendorn'],
    ['Lüdenscheit', 'unknown suggest ko-luedenscheid'],
    ['Kreis Siegn', 'unknown suggest kr-siegen-wittgenstein'],
    ['Kreis Atendorn', 'unknown suggest ko-attendorn'],
    ['Olp', 'unknown suggest kr-olpe,ko-olpe'],
    ['Bad', 'unknown suggest ko-bad-berleburg,ko-bad-laasphe,ko-bad-sassendorf'],
    ['Sud', 'unknown suggest vb-sued'],
    ['atendorn.de', 'unknown suggest ko-attendorn'],
    ['olpe.dee', 'unknown suggest ko-olpe'],
    ['example.org', 'unknown suggest '],
    ['Berlin', 'unknown suggest '],
    ['Stadt', 'unknown suggest '], // 59 towns is no question to ask
    // Nothing that folds to nothing is "everything"
    ['???', 'unknown suggest '],
    ['<>', 'unknown suggest '],
    ['<script>alert(1)</script>', 'unknown suggest '],
    ["'; DROP TABLE regions; --", 'unknown suggest '],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(describeResolution(resolveScope(index, input)), expected);
    });
  }

  test('unknown keeps the input as typed (trimmed) for the answer', () => {
    const r = resolveScope(index, '  Kreis Olep ');
    assert.equal(r.kind, 'unknown');
    assert.equal(r.kind === 'unknown' && r.input, 'Kreis Olep');
  });

  test('suggestions are capped at three, closest first, then by name', () => {
    const town = regionFixture.find((n) => n.id === 'ko-wenden')!;
    const names = ['Wendelin', 'Wendes', 'Wenden', 'Wendez', 'Wender'];
    const idx = buildRegionIndex(names.map((name, i) => ({ ...town, id: `ko-w${i}`, name, domains: [] })));
    const r = resolveScope(idx, 'Wendex');
    assert.equal(r.kind, 'unknown');
    assert.deepEqual(r.kind === 'unknown' && r.suggestions.map((n) => n.name), ['Wenden', 'Wender', 'Wendes']);
  });

  test('a Kreis named without "Kreis" in the inventory still answers to "Kreis X"', () => {
    const bare = regionFixture.map((n) => (n.id === 'kr-olpe' ? { ...n, name: 'Olpe' } : n));
    const idx = buildRegionIndex(bare, regionLevelsFixture);
    assert.equal(describeResolution(resolveScope(idx, 'Kreis Olpe')), 'region kr-olpe');
    assert.equal(describeResolution(resolveScope(idx, 'Olpe')), 'ambiguous kr-olpe,ko-olpe');
  });

  test('a 10 KB input is answered, with no suggestions, and quickly enough not to need a timer', () => {
    const r = resolveScope(index, 'Olpe '.repeat(2000));
    assert.equal(describeResolution(r), 'unknown suggest ');
  });

  test('property: never throws, always one of the five answers', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
        const r = resolveScope(index, s);
        assert.ok(['all', 'region', 'domain', 'ambiguous', 'unknown'].includes(r.kind));
        if (r.kind === 'unknown') assert.ok(r.suggestions.length <= 3);
        if (r.kind === 'ambiguous') assert.ok(r.candidates.length >= 2);
      }),
      { numRuns: 1000 },
    );
  });

  test('property: every name, short name, alias and domain resolves to its node (or a question containing it)', () => {
    for (const node of regionFixture) {
      for (const text of [node.name, node.shortName, ...node.aliases].filter((t): t is string => t !== null)) {
        for (const variant of [text, text.toUpperCase(), text.toLowerCase(), ` ${text} `]) {
          const r = resolveScope(index, variant);
          const ids = r.kind === 'region' ? [r.node.id] : r.kind === 'ambiguous' ? r.candidates.map((n) => n.id) : [];
          assert.ok(ids.includes(node.id), `${variant} → ${describeResolution(r)}`);
        }
      }
      for (const d of node.domains) {
        const r = resolveScope(index, d.toUpperCase());
        assert.equal(describeResolution(r), `domain ${d} of ${node.id}`);
      }
    }
  });

  test('property: a one-letter slip in a town name is suggested, never resolved', () => {
    const towns = regionFixture.filter((n) => n.kind === 'kommune' && n.name.length >= 6);
    fc.assert(
      fc.property(fc.constantFrom(...towns), fc.nat(), fc.constantFrom(...'qxzjv'.split('')), (town, pos, letter) => {
        const at = 1 + (pos % (town.name.length - 2)); // keep the first letter
        const typo = town.name.slice(0, at) + letter + town.name.slice(at + 1);
        const r = resolveScope(index, typo);
        if (r.kind === 'unknown')
          assert.ok(
            r.suggestions.some((n) => n.id === town.id),
            `${typo}`,
          );
        else assert.ok(r.kind === 'region' && r.node.id === town.id, `${typo} → ${describeResolution(r)}`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('splitScopeAndRest', () => {
  const cases: [string, string, string[]][] = [
    ['Kreis Olpe eingehend Alle Clients gepatcht', 'Kreis Olpe', ['eingehend', 'Alle', 'Clients', 'gepatcht']],
    ['Olpe eingehend Test', 'Olpe', ['eingehend', 'Test']],
    ['Siegen Wittgenstein beides Server fertig', 'Siegen Wittgenstein', ['beides', 'Server', 'fertig']],
    ['Bad Berleburg ausgehend', 'Bad Berleburg', ['ausgehend']],
    ['olpe.de', 'olpe.de', []],
    ['attendorn.de inbound patched', 'attendorn.de', ['inbound', 'patched']],
    ['Süd', 'Süd', []],
    ['alle eingehend', 'alle', ['eingehend']],
    ['Wickede (Ruhr) eingehend ok', 'Wickede (Ruhr)', ['eingehend', 'ok']],
    // Nothing resolves: the run closest to a name, so the answer can suggest it
    ['Kreis Olep eingehend Alle Clients gepatcht', 'Kreis Olep', ['eingehend', 'Alle', 'Clients', 'gepatcht']],
    ['Atendorn ausgehend weil', 'Atendorn', ['ausgehend', 'weil']],
    ['Bad Berleberg eingehend x', 'Bad Berleberg', ['eingehend', 'x']],
    ['Berlin eingehend', 'Berlin', ['eingehend']],
    ['Kreis Berlin eingehend', 'Kreis Berlin', ['eingehend']],
  ];
  for (const [text, scopeText, rest] of cases) {
    test(`${JSON.stringify(text)} → ${JSON.stringify(scopeText)} + ${JSON.stringify(rest)}`, () => {
      assert.deepEqual(splitScopeAndRest(index, text.split(' ')), { scopeText, rest });
    });
  }

  test('no words: empty scope, nothing left', () => {
    assert.deepEqual(splitScopeAndRest(index, []), { scopeText: '', rest: [] });
  });

  test('property: scope words + rest are the input words, in order', () => {
    const word = fc.oneof(
      fc.constantFrom('Kreis', 'Olpe', 'Süd', 'eingehend', 'olpe.de', 'Bad', 'Berleburg', 'Stadt', 'alle'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((w) => w.trim() === w && !/\s/.test(w)),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (words) => {
        const { scopeText, rest } = splitScopeAndRest(index, words);
        const scopeWords = scopeText === '' ? [] : scopeText.split(' ');
        assert.deepEqual([...scopeWords, ...rest], words);
      }),
      { numRuns: 500 },
    );
  });
});

describe('tree queries', () => {
  test('getNode', () => {
    assert.equal(getNode(index, 'kr-olpe')?.name, 'Kreis Olpe');
    assert.equal(getNode(index, 'ko-nirgendwo'), undefined);
  });

  test('ownerOfDomain', () => {
    assert.equal(ownerOfDomain(index, 'attendorn.de')?.node.id, 'ko-attendorn');
    assert.deepEqual(ownerOfDomain(index, 'Siegen-Wittgenstein.DE'), {
      node: getNode(index, 'kr-siegen-wittgenstein'),
      domain: 'siegen-wittgenstein.de',
    });
    assert.equal(ownerOfDomain(index, 'example.org'), undefined);
  });

  test('childrenOf: direct children, sorted by name', () => {
    assert.deepEqual(
      childrenOf(index, 'vb-sued').map((n) => n.id),
      ['kr-olpe', 'kr-siegen-wittgenstein'],
    );
    assert.deepEqual(
      childrenOf(index, 'kr-olpe').map((n) => n.id),
      ['ko-attendorn', 'ko-lennestadt', 'ko-olpe', 'ko-wenden'],
    );
    assert.deepEqual(childrenOf(index, 'ko-olpe'), []);
    assert.deepEqual(childrenOf(index, 'nope'), []);
  });

  test('descendants: everything below, parents before children, not the node itself', () => {
    const ids = descendants(index, 'vb-sued').map((n) => n.id);
    assert.equal(ids.length, 2 + 4 + 5);
    assert.ok(!ids.includes('vb-sued'));
    assert.ok(ids.indexOf('kr-olpe') < ids.indexOf('ko-attendorn'));
    assert.deepEqual(
      descendants(index, 'vb-nord')
        .filter((n) => n.kind === 'kreis')
        .map((n) => n.id),
      ['kr-hsk', 'kr-soest', 'kr-mk'],
    );
    assert.deepEqual(descendants(index, 'ko-olpe'), []);
    assert.deepEqual(descendants(index, 'nope'), []);
  });

  test('ancestors: parent first, root last', () => {
    assert.deepEqual(
      ancestors(index, 'ko-attendorn').map((n) => n.id),
      ['kr-olpe', 'vb-sued'],
    );
    assert.deepEqual(ancestors(index, 'vb-sued'), []);
    assert.deepEqual(ancestors(index, 'nope'), []);
  });

  test('domainsOf: own domains and all below', () => {
    assert.deepEqual(domainsOf(index, 'ko-attendorn'), ['attendorn.de', 'hansestadt-attendorn.de']);
    assert.deepEqual(domainsOf(index, 'kr-olpe').sort(), [
      'attendorn.de',
      'hansestadt-attendorn.de',
      'kreis-olpe.de',
      'lennestadt.de',
      'olpe.de',
      'wenden.de',
    ]);
    const sued = domainsOf(index, 'vb-sued');
    assert.equal(sued.length, 1 + 5 + 1 + 5); // Kreis Olpe (own + 4 towns, one with two), Siegen-Wittgenstein (own + 5)
    assert.ok(sued.includes('siegen.de') && !sued.includes('soest.de'));
    const all = regionFixture.flatMap((n) => n.domains);
    assert.deepEqual([...domainsOf(index, 'vb-nord'), ...sued].sort(), all.sort());
    assert.deepEqual(domainsOf(index, 'nope'), []);
  });

  test('bad data: duplicate ids keep the first, a parent cycle does not hang', () => {
    const a: RegionNode = {
      ...regionFixture[0]!,
      id: 'kr-a',
      kind: 'kreis',
      name: 'A',
      parentId: 'kr-b',
      domains: ['a.de'],
    };
    const b: RegionNode = {
      ...regionFixture[0]!,
      id: 'kr-b',
      kind: 'kreis',
      name: 'B',
      parentId: 'kr-a',
      domains: ['b.de'],
    };
    const idx = buildRegionIndex([a, b, { ...a, name: 'A2' }]);
    assert.equal(getNode(idx, 'kr-a')?.name, 'A');
    assert.deepEqual(
      ancestors(idx, 'kr-a').map((n) => n.id),
      ['kr-b'],
    );
    assert.deepEqual(domainsOf(idx, 'kr-a').sort(), ['a.de', 'b.de']);
  });
});

describe('levels from the region list', () => {
  test('the inventory’s levels, top first, and the roots of the tree', () => {
    assert.deepEqual(
      index.levels.map((l) => l.kind),
      ['verband', 'kreis', 'kommune'],
    );
    assert.deepEqual(
      index.roots.map((n) => n.id),
      ['vb-nord', 'vb-sued'],
    );
    assert.equal(levelOf(index, 'kreis').plural.de, 'Kreise');
    assert.deepEqual(choicesOf(index, [getNode(index, 'ko-olpe')!]), [
      { id: 'ko-olpe', name: 'Olpe', level: { de: 'Kommune', en: 'municipality' } },
    ]);
  });

  test('without named levels: derived from the kinds, top first by depth, the kind is the qualifier', () => {
    const idx = buildRegionIndex(regionFixture);
    assert.deepEqual(
      idx.levels.map((l) => [l.kind, l.name.de, l.qualifiers]),
      [
        ['verband', 'Verband', ['verband']],
        ['kreis', 'Kreis', ['kreis']],
        ['kommune', 'Kommune', ['kommune']],
      ],
    );
    assert.equal(describeResolution(resolveScope(idx, 'Kommune Olpe')), 'region ko-olpe');
    assert.equal(describeResolution(resolveScope(idx, 'Kreis Olpe')), 'region kr-olpe');
    // "Stadt" names no level here, so "Stadt Olpe" is just a name nobody has.
    assert.equal(resolveScope(idx, 'Stadt Olpe').kind, 'unknown');
  });

  test('a level the inventory did not name is appended after the named ones', () => {
    const idx = buildRegionIndex(regionFixture, regionLevelsFixture.slice(0, 1));
    assert.deepEqual(
      idx.levels.map((l) => l.kind),
      ['verband', 'kreis', 'kommune'],
    );
    assert.equal(levelOf(idx, 'kommune').name.de, 'Kommune');
    assert.equal(levelOf(idx, 'nowhere').name.en, 'Nowhere');
  });

  test('a node whose id a scope id cannot name is left out', () => {
    const a = { ...regionFixture[0]!, id: 'all', name: 'Alles' };
    const b = { ...regionFixture[0]!, id: 'domain:x.de', name: 'Domäne' };
    const idx = buildRegionIndex([a, b, ...regionFixture], regionLevelsFixture);
    assert.equal(getNode(idx, 'all'), undefined);
    assert.equal(getNode(idx, 'domain:x.de'), undefined);
    assert.equal(idx.nodes.length, regionFixture.length);
  });
});

describe('a four-level estate with other ids and level names', () => {
  const land = buildRegionIndex(fourLevelRegions, fourLevelLevels);
  const cases: [string, string][] = [
    ['NRW', 'region ags:05'],
    ['Nordrhein-Westfalen', 'region ags:05'],
    ['Regierungsbezirk Köln', 'region ags:053'],
    ['Bezirk Koeln', 'region ags:053'],
    ['Köln', 'region ags:053'],
    ['Arnsberg', 'ambiguous ags:059,ags:05958004'],
    ['Stadt Arnsberg', 'region ags:05958004'],
    ['RB Arnsberg', 'region ags:059'],
    ['Unna', 'ambiguous ags:05978,ags:05978036'],
    ['Kreis Unna', 'region ags:05978'],
    ['Gemeinde Unna', 'region ags:05978036'],
    ['Regierungsbezirk', 'ambiguous ags:059,ags:053'],
    ['HSK', 'region ags:05958'],
    ['Bonn', 'region ags:05314000'],
    ['stadt-unna.nrw.example', 'domain stadt-unna.nrw.example of ags:05978036'],
    ['ags:05382', 'region ags:05382'],
    ['Meshede', 'unknown suggest ags:05958032'],
    ['alle', 'all'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(describeResolution(resolveScope(land, input)), expected);
    });
  }

  test('levels, roots and ranks come from the data', () => {
    assert.deepEqual(
      land.levels.map((l) => l.kind),
      ['land', 'regierungsbezirk', 'kreis', 'gemeinde'],
    );
    assert.deepEqual(
      land.roots.map((n) => n.id),
      ['ags:05'],
    );
    // A Kreis sorts before the kreisfreie Stadt beside it: rank by level, then by name.
    assert.deepEqual(
      childrenOf(land, 'ags:053').map((n) => n.id),
      ['ags:05382', 'ags:05314000'],
    );
    assert.deepEqual(
      ancestors(land, 'ags:05978036').map((n) => n.id),
      ['ags:05978', 'ags:059', 'ags:05'],
    );
    assert.equal(domainsOf(land, 'ags:05').length, fourLevelRegions.flatMap((n) => n.domains).length);
  });

  test('splitScopeAndRest with a qualifier of another estate', () => {
    assert.deepEqual(splitScopeAndRest(land, 'Regierungsbezirk Köln eingehend alles gepatcht'.split(' ')), {
      scopeText: 'Regierungsbezirk Köln',
      rest: ['eingehend', 'alles', 'gepatcht'],
    });
  });
});

describe('resolveScopeId', () => {
  test('all, a region id, a domain (any case), and nothing else', () => {
    assert.deepEqual(resolveScopeId(index, 'all'), { kind: 'all' });
    assert.equal(resolveScopeId(index, 'kr-olpe')?.kind, 'region');
    assert.deepEqual(resolveScopeId(index, 'domain:Attendorn.DE'), {
      kind: 'domain',
      node: getNode(index, 'ko-attendorn'),
      domain: 'attendorn.de',
    });
    assert.equal(resolveScopeId(index, 'domain:example.org'), null);
    assert.equal(resolveScopeId(index, 'kr-nirgendwo'), null);
    assert.equal(resolveScopeId(index, 'domain:'), null);
    assert.equal(resolveScopeId(index, ''), null);
    assert.equal(resolveScopeId(index, 'x'.repeat(65)), null);
  });
});

describe('editDistance (optimal string alignment)', () => {
  const cases: [string, string, number][] = [
    ['olpe', 'olpe', 0],
    ['olep', 'olpe', 1], // transposition
    ['atendorn', 'attendorn', 1],
    ['luedenscheit', 'luedenscheid', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3], // OSA, not unrestricted Damerau
  ];
  for (const [a, b, d] of cases) {
    test(`${a} ↔ ${b} = ${d}`, () => {
      assert.equal(editDistance(a, b), d);
      assert.equal(editDistance(b, a), d);
    });
  }

  test('gives up past max with max + 1', () => {
    assert.equal(editDistance('olpe', 'siegenwittgenstein', 2), 3);
    assert.equal(editDistance('abcdef', 'uvwxyz', 2), 3);
  });
});
