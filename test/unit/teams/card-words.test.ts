import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AlertView } from '../../../src/services/alert-data.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { type Lang, placeName, t } from '../../../src/teams/i18n.ts';
import { buildAlertCard, buildAlertSubscriptionsCard } from '../../../src/teams/views/alert-card.ts';
import { buildHelpCard } from '../../../src/teams/views/help-card.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// Words and looks: singular and plural, the place named as Teams names it, colours by meaning and a
// time axis that reads HH:mm.

describe('plurals', () => {
  const cases: Array<[Lang, Record<string, number>, RegExp]> = [
    ['de', { count: 1, clients: 1, servers: 1 }, /für 1 Domäne freigeben\. 1 Client und 1 Server ungepatcht/],
    ['de', { count: 44, clients: 0, servers: 2 }, /für 44 Domänen freigeben\. 0 Clients und 2 Server ungepatcht/],
    ['en', { count: 1, clients: 1, servers: 1 }, /for 1 domain\. 1 client and 1 server unpatched/],
    ['en', { count: 2, clients: 3, servers: 0 }, /for 2 domains\. 3 clients and 0 servers unpatched/],
  ];
  for (const [lang, params, expected] of cases) {
    test(`${lang} ${JSON.stringify(params)}`, () => {
      assert.match(t(lang, 'confirm.release', { direction: 'x', ...params }), expected);
    });
  }

  test('formatted numbers: "1" is singular, "1.234" is not', () => {
    assert.match(t('de', 'status.mail', { count: '1' }), /1 Domäne$/);
    assert.match(t('de', 'status.mail', { count: '1.234' }), /1\.234 Domänen$/);
    assert.match(
      t('de', 'alerts.unsubscribed_all', { count: 1, here: 'Kanal' }),
      /^1 Spam-Alarm-Abo dieses Kanals ist beendet/,
    );
    assert.match(
      t('de', 'alerts.unsubscribed_all', { count: 3, here: 'Chat' }),
      /^3 Spam-Alarm-Abos dieses Chats sind beendet/,
    );
  });
});

describe('the place is named as Teams names it', () => {
  test('Kanal, Chat, Gruppenchat; channel, chat, group chat', () => {
    const said = (lang: Lang, type: 'personal' | 'groupChat' | 'channel') =>
      t(lang, 'alerts.subscribed', { scope: 'Südverband', here: placeName(lang, type) });
    assert.match(said('de', 'channel'), /^Dieser Kanal erhält jetzt Spam-Alarme/);
    assert.match(said('de', 'personal'), /^Dieser Chat erhält/);
    assert.match(said('de', 'groupChat'), /^Dieser Gruppenchat erhält/);
    assert.match(said('en', 'channel'), /^This channel now receives/);
    assert.match(said('en', 'groupChat'), /^This group chat now receives/);
    const list = cardToText(buildAlertSubscriptionsCard('de', [], placeName('de', 'channel')));
    assert.match(list, /Spam-Alarme in diesem Kanal/);
    assert.match(list, /Dieser Kanal erhält keine Spam-Alarme/);
  });
});

describe('the alert chart', () => {
  const view: AlertView = {
    v: 2,
    kind: 'spike',
    lang: 'de',
    scope: { id: 'kr-olpe', kind: 'group', name: 'Kreis Olpe' },
    group: { id: 'kr-olpe', name: 'Kreis Olpe' },
    within: { id: 'vb-sued', name: 'Südverband' },
    domains: ['olpe.de'],
    inbound: { 'olpe.de': 'held' },
    startedAt: '2024-02-19T13:00:00.000Z',
    endedAt: null,
    currentRate: 120,
    baselineRate: 20,
    factor: 6,
    peakFactor: 6.4,
    foldedInto: null,
    // Two hours of minutes, Berlin 12:10–14:09; spam from 13:00 UTC (14:00 CET).
    series: Array.from({ length: 120 }, (_, i) => ({
      at: new Date(Date.parse('2024-02-19T11:10:00.000Z') + i * 60_000).toISOString(),
      value: i >= 110 ? 120 : 20,
      baseline: 20,
    })),
    audience: ['kr-olpe'],
    muteScopes: ['kr-olpe'],
    updatedAt: '2024-02-19T13:10:00.000Z',
    alertId: 'a-1',
    status: 'open',
    acks: [],
    mutedUntil: null,
  };

  test('bars labelled HH:mm in Berlin time, red only above twice the usual rate', () => {
    const card = buildAlertCard(view, 'de');
    assertValidCard(card);
    const json = JSON.stringify(card);
    const chart = (card.body as Array<{ type: string; data?: Array<{ x: string; y: number; color: string }> }>).find(
      (e) => e.type === 'Chart.VerticalBar',
    );
    assert.ok(chart?.data, json.slice(0, 300));
    assert.equal(chart.data.length, 7);
    for (const p of chart.data) assert.match(p.x, /^\d\d:\d\d$/);
    assert.equal(chart.data[0]!.x, '12:00');
    assert.equal(chart.data.at(-1)!.x, '14:00');
    assert.deepEqual(
      chart.data.map((p) => p.color),
      [...Array(6).fill('neutral'), 'attention'],
    );
  });
});

describe('help you can click', () => {
  for (const lang of ['de', 'en'] as Lang[]) {
    test(`${lang}: one command per line in monospace, buttons that send a reading example`, () => {
      const card = buildHelpCard(lang) as unknown as {
        body: Array<{ type: string; items?: Array<{ text: string; fontType?: string }> }>;
        actions: Array<{ type: string; title: string; data: { msteams: { type: string; value: string } } }>;
      };
      assertValidCard(card);
      const commands = card.body.flatMap((e) => e.items ?? []).filter((i) => i.fontType === 'Monospace');
      assert.ok(commands.length >= 8);
      assert.ok(commands.some((c) => c.text === 'status Kreis Olpe'));
      for (const c of commands) assert.doesNotMatch(c.text, /[`,;]/, 'one command, no Markdown');
      assert.ok(card.actions.length >= 3 && card.actions.length <= 6);
      for (const a of card.actions) {
        assert.equal(a.type, 'Action.Submit');
        assert.equal(a.data.msteams.type, 'imBack');
        assert.ok(a.title.includes(a.data.msteams.value), a.title);
        // A click must never request a release or block.
        assert.doesNotMatch(a.data.msteams.value, /^(freigabe|sperren|release|block|alarme an|alerts on)\b/);
      }
      assert.equal(card.actions[0]!.title, lang === 'de' ? 'status Kreis Olpe ausprobieren' : 'Try status Kreis Olpe');
    });

    test(`${lang}: people on alerts are listed, with what they get`, () => {
      const card = buildHelpCard(lang) as unknown as {
        body: Array<{ items?: Array<{ text: string; fontType?: string }> }>;
      };
      const items = card.body.flatMap((e) => e.items ?? []);
      const at = items.findIndex(
        (i) =>
          i.fontType === 'Monospace' &&
          i.text === (lang === 'de' ? 'alarme an Südverband @Anna' : 'alerts on Südverband @Anna'),
      );
      assert.ok(at >= 0, items.map((i) => i.text).join('\n'));
      assert.match(
        items[at + 1]!.text,
        lang === 'de' ? /bei jedem Alarm @erwähnen/ : /@mention the people named on every alert/,
      );
    });
  }
});
