import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  detectLanguage,
  MAX_COMMAND_LENGTH,
  type ParsedCommand,
  parseCommand,
  parseDirectionAndReason,
} from '../../../src/teams/command-parser.ts';

describe('parseCommand', () => {
  const cases: [string, ParsedCommand][] = [
    // status / lage
    ['status', { kind: 'status', scopeText: '' }],
    ['status Kreis Olpe', { kind: 'status', scopeText: 'Kreis Olpe' }],
    ['Status   attendorn.de ', { kind: 'status', scopeText: 'attendorn.de' }],
    ['STATUS Südverband', { kind: 'status', scopeText: 'Südverband' }],
    ['lage alle', { kind: 'status', scopeText: 'alle' }],
    ['Lage Wickede (Ruhr)', { kind: 'status', scopeText: 'Wickede (Ruhr)' }],
    ['/status Olpe', { kind: 'status', scopeText: 'Olpe' }],
    ['status: Olpe', { kind: 'status', scopeText: 'Olpe' }],
    // typed decisions (Teams mobile)
    ['genehmigen r-788db484', { kind: 'approve', requestId: 'r-788db484' }],
    ['Genehmigen `R-788DB484`', { kind: 'approve', requestId: 'r-788db484' }],
    ['approve 788db484', { kind: 'approve', requestId: 'r-788db484' }],
    ['genehmigen', { kind: 'approve', requestId: null }],
    ['genehmigen Olpe', { kind: 'approve', requestId: null }],
    ['bestätigen r-788db484 123456', { kind: 'confirm', requestId: 'r-788db484', code: '123456', justification: null }],
    [
      'bestaetigen r-788db484 123456 Rathaus braucht Mail',
      { kind: 'confirm', requestId: 'r-788db484', code: '123456', justification: 'Rathaus braucht Mail' },
    ],
    ['confirm r-788db484', { kind: 'confirm', requestId: 'r-788db484', code: null, justification: null }],
    ['ablehnen r-788db484 nicht heute', { kind: 'reject', requestId: 'r-788db484', reason: 'nicht heute' }],
    ['reject r-788db484', { kind: 'reject', requestId: 'r-788db484', reason: null }],
    ['zurückziehen r-788db484', { kind: 'withdraw', requestId: 'r-788db484' }],
    ['Zurueckziehen r-788db484', { kind: 'withdraw', requestId: 'r-788db484' }],
    ['withdraw r-788db484', { kind: 'withdraw', requestId: 'r-788db484' }],
    ['wiederholen r-788db484', { kind: 'retry', requestId: 'r-788db484' }],
    ['retry r-788db484', { kind: 'retry', requestId: 'r-788db484' }],
    ['bestätigne r-788db484', { kind: 'unknown', word: 'bestätigne', suggestion: 'bestätigen' }],
    // daily report
    [
      'bericht an Südverband',
      { kind: 'report_on', localTime: null, badTime: null, weekdaysOnly: false, scopeText: 'Südverband' },
    ],
    [
      'bericht an 7:30 werktags Kreis Olpe',
      { kind: 'report_on', localTime: '07:30', badTime: null, weekdaysOnly: true, scopeText: 'Kreis Olpe' },
    ],
    [
      'report on weekdays 06.45 all',
      { kind: 'report_on', localTime: '06:45', badTime: null, weekdaysOnly: true, scopeText: 'all' },
    ],
    [
      'bericht an 25:00 Südverband',
      { kind: 'report_on', localTime: null, badTime: '25:00', weekdaysOnly: false, scopeText: 'Südverband' },
    ],
    ['bericht aus', { kind: 'report_off' }],
    ['report off', { kind: 'report_off' }],
    ['bericht jetzt', { kind: 'report_now' }],
    ['bericht', { kind: 'report_now' }],
    ['bericht morgen', { kind: 'unknown', word: 'bericht morgen', suggestion: 'bericht an' }],
    // mentions, HTML and entities from Teams
    ['<at>Lagebot</at> status Olpe', { kind: 'status', scopeText: 'Olpe' }],
    ['<at id="0">Lagebot</at>&nbsp;status&nbsp;Kreis&nbsp;Olpe', { kind: 'status', scopeText: 'Kreis Olpe' }],
    ['<p>status <b>Soest</b></p>', { kind: 'status', scopeText: 'Soest' }],
    ['status <script>alert(1)</script>', { kind: 'status', scopeText: 'alert(1)' }],
    ['status &lt;script&gt;', { kind: 'status', scopeText: '<script>' }],
    ['status Olpe &amp; Soest', { kind: 'status', scopeText: 'Olpe & Soest' }],
    ["status '; DROP TABLE regions; --", { kind: 'status', scopeText: "'; DROP TABLE regions; --" }],
    ['status\u200bOlpe', { kind: 'status', scopeText: 'Olpe' }],
    ['\ufeffstatus\tOlpe\n', { kind: 'status', scopeText: 'Olpe' }],
    // help
    ['hilfe', { kind: 'help' }],
    ['Help', { kind: 'help' }],
    ['?', { kind: 'help' }],
    ['hilfe freigabe', { kind: 'help' }],
    ['', { kind: 'help' }],
    ['   ', { kind: 'help' }],
    ['<at>Lagebot</at>', { kind: 'help' }],
    // release / block: raw words for the service
    [
      'freigabe Kreis Olpe eingehend Alle Clients gepatcht',
      { kind: 'release', words: ['Kreis', 'Olpe', 'eingehend', 'Alle', 'Clients', 'gepatcht'] },
    ],
    ['Freigabe', { kind: 'release', words: [] }],
    ['release Nord both patched', { kind: 'release', words: ['Nord', 'both', 'patched'] }],
    ['FREIGABE süd', { kind: 'release', words: ['süd'] }],
    ['sperren olpe.de', { kind: 'block', words: ['olpe.de'] }],
    ['Sperren Kreis Soest Spamwelle', { kind: 'block', words: ['Kreis', 'Soest', 'Spamwelle'] }],
    ['block attendorn.de outbound spam', { kind: 'block', words: ['attendorn.de', 'outbound', 'spam'] }],
    // requests, audit
    ['anträge', { kind: 'requests' }],
    ['Anträge', { kind: 'requests' }],
    ['ANTRÄGE', { kind: 'requests' }],
    ['antraege', { kind: 'requests' }],
    ['Antrage', { kind: 'requests' }],
    ['requests', { kind: 'requests' }],
    ['protokoll', { kind: 'audit', scopeText: '' }],
    ['Protokoll Kreis Olpe', { kind: 'audit', scopeText: 'Kreis Olpe' }],
    ['audit olpe.de', { kind: 'audit', scopeText: 'olpe.de' }],
    // alerts
    ['alarme', { kind: 'alerts_list' }],
    ['Alerts', { kind: 'alerts_list' }],
    ['alarme an Südverband', { kind: 'alerts_subscribe', scopeText: 'Südverband' }],
    ['alerts on Kreis Olpe', { kind: 'alerts_subscribe', scopeText: 'Kreis Olpe' }],
    ['alarme AN', { kind: 'alerts_subscribe', scopeText: '' }],
    ['alarme aus', { kind: 'alerts_unsubscribe', scopeText: '' }],
    ['alarme aus Südverband', { kind: 'alerts_unsubscribe', scopeText: 'Südverband' }],
    ['alerts off Nord', { kind: 'alerts_unsubscribe', scopeText: 'Nord' }],
    ['alarm test', { kind: 'alert_test' }],
    ['alert test', { kind: 'alert_test' }],
    ['alarme test', { kind: 'alert_test' }],
    ['alarme ab Nord', { kind: 'unknown', word: 'alarme ab', suggestion: 'alarme an' }],
    ['alerts of', { kind: 'unknown', word: 'alerts of', suggestion: 'alerts on' }],
    ['alarme Südverband', { kind: 'unknown', word: 'alarme Südverband', suggestion: null }],
    // unknown, with a suggestion for typos
    ['stauts Olpe', { kind: 'unknown', word: 'stauts', suggestion: 'status' }],
    ['statsu', { kind: 'unknown', word: 'statsu', suggestion: 'status' }],
    ['freigbe Olpe', { kind: 'unknown', word: 'freigbe', suggestion: 'freigabe' }],
    ['relase Olpe', { kind: 'unknown', word: 'relase', suggestion: 'release' }],
    ['spere olpe.de', { kind: 'unknown', word: 'spere', suggestion: 'sperren' }],
    ['hlife', { kind: 'unknown', word: 'hlife', suggestion: 'hilfe' }],
    ['antäge', { kind: 'unknown', word: 'antäge', suggestion: 'anträge' }],
    ['protokol', { kind: 'unknown', word: 'protokol', suggestion: 'protokoll' }],
    ['hallo', { kind: 'unknown', word: 'hallo', suggestion: null }],
    ['Olpe', { kind: 'unknown', word: 'Olpe', suggestion: null }],
    ["'; DROP TABLE regions; --", { kind: 'unknown', word: "';", suggestion: null }],
    ['<img src=x onerror=alert(1)>status', { kind: 'status', scopeText: '' }],
    ['🙂 status', { kind: 'unknown', word: '🙂', suggestion: null }],
    ['ｓｔａｔｕｓ Olpe', { kind: 'status', scopeText: 'Olpe' }], // full-width, as some IMEs type
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${expected.kind}`, () => {
      assert.deepEqual(parseCommand(input), expected);
    });
  }

  test('text over 2000 characters is refused, 2000 is fine', () => {
    const ok = `status ${'x'.repeat(MAX_COMMAND_LENGTH - 7)}`;
    assert.equal(ok.length, MAX_COMMAND_LENGTH);
    assert.equal(parseCommand(ok).kind, 'status');
    assert.deepEqual(parseCommand(`${ok}x`), { kind: 'too_long', length: MAX_COMMAND_LENGTH + 1 });
  });

  test('10 KB of text is too long, whatever it contains', () => {
    assert.equal(parseCommand(`status ${'Olpe '.repeat(2048)}`).kind, 'too_long');
    assert.equal(parseCommand('<'.repeat(10_240)).kind, 'too_long');
    assert.equal(parseCommand('<at>'.repeat(2560)).kind, 'too_long');
    assert.equal(parseCommand('x'.repeat(1_000_000)).kind, 'too_long');
  });

  test('markup does not count towards the limit, the visible text does (up to 4× the limit raw)', () => {
    const padded = `<div>${'<span></span>'.repeat(500)}status Olpe</div>`;
    assert.ok(padded.length > MAX_COMMAND_LENGTH);
    assert.deepEqual(parseCommand(padded), { kind: 'status', scopeText: 'Olpe' });
  });

  test('property: never throws; raw words of release/block contain no whitespace or markup', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'grapheme', maxLength: 80 }),
          fc
            .tuple(
              fc.constantFrom('freigabe ', 'sperren ', 'status ', '<at>Lagebot</at> '),
              fc.string({ maxLength: 60 }),
            )
            .map(([a, b]) => a + b),
        ),
        (text) => {
          const c = parseCommand(text);
          if (c.kind === 'release' || c.kind === 'block') {
            for (const w of c.words) {
              assert.ok(w.length > 0 && !/\s/.test(w), JSON.stringify(w));
              assert.doesNotMatch(w, /<[^<>]*>/);
            }
          }
          if ('scopeText' in c) assert.equal(c.scopeText, c.scopeText.trim());
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('parseDirectionAndReason', () => {
  const cases: [string, { direction: 'inbound' | 'outbound' | 'both'; reason: string | null }][] = [
    ['eingehend Alle Clients gepatcht', { direction: 'inbound', reason: 'Alle Clients gepatcht' }],
    ['Eingehend', { direction: 'inbound', reason: null }],
    ['eingehende Mails wieder an', { direction: 'inbound', reason: 'Mails wieder an' }],
    ['eingehend: Patch vollständig', { direction: 'inbound', reason: 'Patch vollständig' }],
    ['inbound patched', { direction: 'inbound', reason: 'patched' }],
    ['ausgehend Server gepatcht', { direction: 'outbound', reason: 'Server gepatcht' }],
    ['AUSGEHEND', { direction: 'outbound', reason: null }],
    ['outbound ok', { direction: 'outbound', reason: 'ok' }],
    ['beides Freigabe laut Krisenstab', { direction: 'both', reason: 'Freigabe laut Krisenstab' }],
    ['both', { direction: 'both', reason: null }],
    ['Alle Clients gepatcht', { direction: 'both', reason: 'Alle Clients gepatcht' }],
    // "in" and "aus" are ordinary words in a reason, not directions
    ['in Absprache mit dem Krisenstab', { direction: 'both', reason: 'in Absprache mit dem Krisenstab' }],
    ['aus Sicht der Leitstelle ok', { direction: 'both', reason: 'aus Sicht der Leitstelle ok' }],
    ['', { direction: 'both', reason: null }],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} → ${expected.direction}, ${JSON.stringify(expected.reason)}`, () => {
      assert.deepEqual(parseDirectionAndReason(text === '' ? [] : text.split(' ')), expected);
    });
  }
});

describe('detectLanguage', () => {
  const cases: [string | undefined, 'de' | 'en'][] = [
    ['en-US', 'en'],
    ['en-GB', 'en'],
    ['EN-us', 'en'],
    ['en', 'en'],
    ['en_US', 'en'],
    ['de-DE', 'de'],
    ['de', 'de'],
    ['fr-FR', 'de'],
    ['eng', 'de'],
    ['', 'de'],
    [undefined, 'de'],
  ];
  for (const [locale, lang] of cases) {
    test(`${String(locale)} → ${lang}`, () => {
      assert.equal(detectLanguage(locale), lang);
    });
  }
});
