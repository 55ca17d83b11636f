import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compactName, normalizeName } from '../../../src/domain/normalize-name.ts';

describe('normalizeName', () => {
  const equal: [string, string][] = [
    ['Südverband', 'suedverband'],
    ['Suedverband', 'suedverband'],
    ['SÜDVERBAND', 'suedverband'],
    ['Su\u0308dverband', 'suedverband'], // decomposed ü (macOS input)
    ['Märkischer Kreis', 'maerkischer kreis'],
    ['Schalksmühle', 'schalksmuehle'],
    ['Erndtebrück', 'erndtebrueck'],
    ['STRAẞE', 'strasse'], // capital sharp s
    ['Straße', 'strasse'],
    ['Möhnesee', 'moehnesee'],
    ['Siegen-Wittgenstein', 'siegen wittgenstein'],
    ['Siegen – Wittgenstein', 'siegen wittgenstein'], // en dash
    ['Wickede (Ruhr)', 'wickede ruhr'],
    ['  Kreis\u00a0Olpe \t', 'kreis olpe'], // NBSP, tab
    ['Ｏｌｐｅ', 'olpe'], // full-width
    ['„Olpe“?', 'olpe'],
    ['Olpe.', 'olpe'],
    ['attendorn.de', 'attendorn.de'],
    ['IT@Attendorn.DE', 'it@attendorn.de'],
    ['Olpé', 'olpe'],
    ['', ''],
    ['   ', ''],
  ];
  for (const [input, expected] of equal) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeName(input), expected);
    });
  }

  test('injection-looking text is folded to plain words, nothing else', () => {
    assert.equal(normalizeName('<script>alert(1)</script>'), 'script alert 1 script');
    assert.equal(normalizeName("'; DROP TABLE regions; --"), 'drop table regions');
    assert.equal(normalizeName('\u0024{process.env.TOKEN}'), 'process.env.token'); // "${…}" as typed
  });

  test('compactName drops word breaks', () => {
    assert.equal(compactName('Siegen Wittgenstein'), 'siegenwittgenstein');
    assert.equal(compactName('Siegen-Wittgenstein'), compactName('SiegenWittgenstein'));
    assert.equal(compactName('Wickede (Ruhr)'), 'wickederuhr');
  });

  test('property: idempotent on any unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const once = normalizeName(s);
        assert.equal(normalizeName(once), once);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const once = normalizeName(s);
        assert.equal(normalizeName(once), once);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: output has no upper case, umlauts, ß, doubled or outer spaces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const n = normalizeName(s);
        assert.doesNotMatch(n, /[A-ZÄÖÜäöüß]|\s\s|^\s|\s$/);
      }),
      { numRuns: 1000 },
    );
  });

  test('property: case and umlaut spelling do not matter', () => {
    const german = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzäöüß -'.split('')), maxLength: 20 });
    fc.assert(
      fc.property(german, (s) => {
        const spelled = s.replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue').replace(/ß/g, 'ss');
        assert.equal(normalizeName(s.toUpperCase()), normalizeName(spelled));
      }),
      { numRuns: 1000 },
    );
  });
});
