import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { plainText } from '../../../src/teams/views/plain-text.ts';
import { hostileStrings } from '../../fixtures/hostile-strings.ts';
import { markdownProblems, visibleText } from '../../helpers/markdown-problems.ts';

// The look-alikes plainText shows instead of Markdown delimiters, mapped back to compare with the input.
const back: Record<string, string> = { '\u2217': '*', '\u02cd': '_', '\u223c': '~', '\u02cb': '`' };
const shown = (text: string) => visibleText(text).replace(/[\u2217\u02cd\u223c\u02cb]/g, (c) => back[c]!);
// What plainText keeps of an input: its lines, trimmed, without empty ones and without control characters.
const kept = (input: string) =>
  input
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, ' ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: mirrors plainText
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n');

describe('plainText', () => {
  test('the reason of issue 13 shows literally, with no link and no bold', () => {
    const reason = hostileStrings[0]!;
    const out = plainText(reason);
    assert.ok(!out.includes(']('), out);
    assert.deepEqual(markdownProblems(out), []);
    assert.equal(shown(out), reason);
  });

  for (const input of hostileStrings) {
    test(`renders as plain text: ${JSON.stringify(input).slice(0, 60)}`, () => {
      const out = plainText(input);
      assert.deepEqual(markdownProblems(out), [], out);
      assert.ok(!out.includes(']('), out);
      assert.equal(shown(out), kept(input));
    });
  }

  test('ordinary names, domains, hosts and sentences are unchanged', () => {
    for (const s of [
      'Kreis Olpe',
      'attendorn.de',
      'OLP-CL-0001',
      'Anna Approver',
      'Alle Clients gepatcht, Prüfbericht liegt vor (siehe Ticket 4711).',
      'Märkischer Kreis · Hochsauerlandkreis',
      '19.02.2024, 14:00',
      '1.000 Clients',
    ]) {
      assert.equal(plainText(s), s);
    }
  });

  test('line breaks are kept as paragraph breaks', () => {
    assert.equal(plainText('erste Zeile\nzweite Zeile\n\n\ndritte'), 'erste Zeile\n\nzweite Zeile\n\ndritte');
  });

  test('fuzz: any string of Markdown-heavy characters renders as plain text and shows what was typed', () => {
    const alphabet = fc.constantFrom(
      ...'[]()<>!*_~`#-+=|:&;\\/"\' \n\r\t.1aZ9äß'.split(''),
      'https://evil.example',
      '&lt;',
      '&#42;',
      '<b>',
      '](',
      '**',
      '1. ',
      '\u202e',
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
        const input = parts.join('');
        const out = plainText(input);
        assert.deepEqual(markdownProblems(out), [], JSON.stringify({ input, out }));
        assert.ok(!out.includes(']('), JSON.stringify({ input, out }));
        assert.equal(shown(out), kept(input), JSON.stringify({ input, out }));
        assert.equal(plainText(out), out, 'idempotent');
      }),
      { numRuns: 2000 },
    );
  });
});
