import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ComplianceReport, RegionCompliance, StateCounts } from '../../../src/domain/model.ts';
import { defaultReleasePolicy, evaluateReleasePolicy } from '../../../src/domain/release-policy.ts';
import { createRequest } from '../../../src/domain/release-request.ts';
import { summarizePatchStatus } from '../../../src/domain/summarize-patch-status.ts';
import type { PolicySummary } from '../../../src/services/release-service.ts';
import type { StatusView } from '../../../src/services/report-status.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { catalogues, type Lang } from '../../../src/teams/i18n.ts';
import { cardNames, renderCard } from '../../../src/teams/render-card.ts';
import { buildHelpCard } from '../../../src/teams/views/help-card.ts';
import { buildNoticeCard } from '../../../src/teams/views/notice-card.ts';
import { buildConfirmCard, buildReasonForm, buildRequestCard } from '../../../src/teams/views/request-card.ts';
import { buildScopeChoiceCard } from '../../../src/teams/views/scope-choice-card.ts';
import { buildStatusCard } from '../../../src/teams/views/status-card.ts';
import { trackedPatches } from '../../fixtures/patches.ts';
import { regionLevelsFixture } from '../../fixtures/regions.ts';
import { assertValidCard, cardProblems } from '../../helpers/validate-card.ts';

// Every template expanded with fixtures must parse with the official Adaptive Cards object model
// (only Teams' chart elements are unknown to it), leave no ${…} behind, and stay far below Teams'
// 40 KB message limit.

function counts(total: number, installed: number, failed = 0): StateCounts {
  return {
    total,
    installed,
    pending: total - installed - failed,
    pending_reboot: 0,
    failed,
    unknown: 0,
    notApplicable: 0,
    stale: 0,
  };
}

const patches = trackedPatches;

function region(id: string, name: string, kind: RegionCompliance['kind'], scale: number): RegionCompliance {
  return {
    regionId: id,
    name,
    kind,
    patches: [
      {
        patchId: 'exchange-2024-02',
        clients: counts(0, 0),
        servers: counts(2 * scale, 2 * scale),
        exchangeServers: counts(2 * scale, 2 * scale),
      },
      {
        patchId: 'outlook-2024-02',
        clients: counts(500 * scale, 480 * scale, 3 * scale),
        servers: counts(0, 0),
        exchangeServers: counts(0, 0),
      },
    ],
  };
}

function fixtureView(childCount: number): StatusView {
  const report: ComplianceReport = {
    observedAt: '2024-02-19T13:00:00Z',
    staleAfterHours: 168,
    region: region('vb-sued', 'Südverband', 'verband', childCount),
    children: Array.from({ length: childCount }, (_, i) =>
      region(`ko-town-${i}`, `Town Nummer ${i} (Sauerland)`, 'kommune', 1),
    ),
  };
  return {
    scope: { id: 'vb-sued', name: 'Südverband', kind: 'region', level: 'verband', domain: null },
    breakdownLevels: regionLevelsFixture.filter((l) => l.kind === 'kommune'),
    observedAt: report.observedAt,
    stale: false,
    fetchedAt: report.observedAt,
    staleAfterHours: 168,
    summary: summarizePatchStatus(report, patches, defaultReleasePolicy),
    policy: evaluateReleasePolicy(report.region),
    trends: [
      {
        patchId: 'outlook-2024-02',
        clients: {
          ratePerHour: 12.5,
          remaining: 60,
          etaAt: '2024-02-19T18:00:00Z',
          state: 'progressing',
          failed: 0,
          stalledSince: null,
        },
        servers: { ratePerHour: null, remaining: 0, etaAt: null, state: 'complete', failed: 0, stalledSince: null },
      },
    ],
    unpatched: {
      rows: Array.from({ length: 10 }, (_, i) => ({
        deviceId: `d${i}`,
        hostname: `OE-ATT-WS${String(i).padStart(4, '0')}`,
        kind: 'client' as const,
        role: 'workstation',
        municipality: 'ko-attendorn',
        kreis: 'kr-olpe',
        build: '16.0.17126.20132',
        lastSeenAt: '2024-02-19T12:00:00Z',
        patchId: 'outlook-2024-02',
        state: i % 3 === 0 ? ('failed' as const) : ('pending' as const),
        observedAt: '2024-02-19T13:00:00Z',
        townName: 'Attendorn',
      })),
      total: 63,
    },
    mail: {
      domains: Array.from({ length: childCount + 2 }, (_, i) => ({
        domain: `town${i}.de`,
        municipality: `ko-town-${i}`,
        kreis: 'kr-olpe',
        verband: 'vb-sued',
        inbound: 'held' as const,
        outbound: i % 2 ? ('open' as const) : ('held' as const),
        blockMode: 'hold' as const,
        reason: 'Exchange-Schwachstelle',
        changedBy: 'Olaf Operator',
        changedAt: '2024-02-15T17:00:00Z',
        version: 2,
      })),
      queues: [{ domain: 'town0.de', direction: 'inbound' as const, held: 1234, oldestAt: '2024-02-15T17:05:00Z' }],
    },
  };
}

const southRegion = region('vb-sued', 'Südverband', 'verband', 3);
const policySummary: PolicySummary = {
  evaluation: evaluateReleasePolicy(southRegion),
  region: southRegion,
  unpatchedClients: 60,
  unpatchedServers: 0,
  devices: [{ hostname: 'OE-ATT-WS0001', kind: 'client', town: 'Attendorn', state: 'failed' }],
  observedAt: '2024-02-19T13:00:00Z',
};

describe('cards', () => {
  for (const lang of ['de', 'en'] as Lang[]) {
    test(`every card renders valid in ${lang}`, () => {
      const cards = [
        buildHelpCard(lang),
        buildHelpCard(lang, 'kaffee'),
        buildNoticeCard('x', { title: 'T', color: 'Attention', hint: 'h' }),
        buildScopeChoiceCard(lang, 'Olpe', 'ambiguous', []),
        buildStatusCard(fixtureView(7), lang),
        buildStatusCard({ ...fixtureView(0), stale: true, mail: null }, lang),
      ];
      for (const card of cards) assertValidCard(card);
    });
  }

  test('the validator itself catches bad cards', () => {
    assert.ok(
      cardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'x', size: 'huge' }] })
        .length > 0,
    );
    assert.ok(cardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Bogus' }] }).length > 0);
    assert.ok(
      cardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Chart.Donut', data: [] }] }).length > 0,
    );
    assert.deepEqual(
      cardProblems({
        type: 'AdaptiveCard',
        version: '1.5',
        body: [{ type: 'Chart.Donut', data: [], fallback: 'drop' }],
      }),
      [],
    );
  });

  test('every template in cards/ is known to the renderer and a big scope stays well under 40 KB', () => {
    const files = readdirSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cards'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    assert.deepEqual([...cardNames].sort(), files);
    const big = JSON.stringify(buildStatusCard(fixtureView(15), 'de'));
    assert.ok(Buffer.byteLength(big) < 28 * 1024, `${Buffer.byteLength(big)} bytes`);
  });

  for (const lang of ['de', 'en'] as Lang[]) {
    test(`request, confirmation, reason and list cards render valid in ${lang}`, () => {
      const actor = { id: 'aad-op', name: 'Olaf Operator', tenantId: 't1', roles: ['operator' as const] };
      const created = createRequest(
        {
          id: 'r-1',
          actor,
          kind: 'release',
          scope: { id: 'vb-sued', name: 'Südverband', domains: ['olpe.de', 'attendorn.de'] },
          direction: 'inbound',
          reason: 'Alle Server gepatcht',
          justification: 'Restrisiko akzeptiert, Clients im Quarantäne-VLAN',
          policy: { meets: false, summary: policySummary },
          ttlMs: 3_600_000,
        },
        '2024-02-19T13:00:00.000Z',
      );
      assert.ok(created.ok);
      const request = created.request;
      const effect = { total: 3, already: ['a.de'], toChange: ['b.de', 'c.de'] };
      const cards = [
        buildRequestCard(request, 1, lang, { refreshUserIds: ['aad-op', 'aad-ap'] }),
        buildRequestCard(request, 1, lang, { message: 'x', actions: [] }),
        buildConfirmCard({ request, version: 1, fresh: policySummary, worse: true, effect }, lang),
        buildConfirmCard({ request, version: 1, fresh: policySummary, worse: false, effect }, lang),
        buildReasonForm(lang, { requestKind: 'block', scopeId: 'kr-olpe', scopeName: 'Kreis Olpe', direction: 'both' }),
        renderCard('list', { title: 'T', empty: 'none', lines: ['a', 'b'], buttons: [] }),
        renderCard('list', { title: 'T', empty: 'none', lines: [], buttons: [] }),
      ];
      for (const card of cards) assertValidCard(card);
      assert.equal((cards[0]!.refresh as { userIds: string[] }).userIds.length, 2);
    });
  }

  test('user text with ${…} is shown, not evaluated, and does not break the card', () => {
    const card = buildScopeChoiceCard('de', '${title}', 'unknown', []);
    assertValidCard(card);
    assert.match(JSON.stringify(card), /\$\\u200b\{title\}|\$\u200b\{title\}/);
  });

  test('a missing binding is an error, not a card with ${…} in it', () => {
    assert.throws(() => renderCard('notice', { title: 'x' }), /unexpanded binding/);
  });

  test('German and English catalogues have the same keys', () => {
    assert.deepEqual(Object.keys(catalogues.en).sort(), Object.keys(catalogues.de).sort());
  });

  describe('status card at a glance', () => {
    const townView = (exchange: StateCounts, domains: number): StatusView => {
      const town: RegionCompliance = {
        regionId: 'ko-wenden',
        name: 'Wenden',
        kind: 'kommune',
        patches: [
          { patchId: 'exchange-2024-02', clients: counts(0, 0), servers: exchange, exchangeServers: exchange },
          {
            patchId: 'outlook-2024-02',
            clients: counts(123, 111, 9),
            servers: counts(0, 0),
            exchangeServers: counts(0, 0),
          },
        ],
      };
      const base = fixtureView(0);
      const report: ComplianceReport = {
        observedAt: base.observedAt,
        staleAfterHours: 168,
        region: town,
        children: [],
      };
      return {
        ...base,
        scope: { id: 'ko-wenden', name: 'Wenden', kind: 'region', level: 'kommune', domain: null },
        summary: summarizePatchStatus(report, patches, defaultReleasePolicy),
        policy: evaluateReleasePolicy(town),
        mail: { domains: base.mail!.domains.slice(0, domains), queues: [] },
      };
    };

    test('a town without an Exchange server: "nicht betroffen", never "vollständig gepatcht"', () => {
      for (const lang of ['de', 'en'] as Lang[]) {
        const card = buildStatusCard(townView(counts(0, 0), 1), lang);
        assertValidCard(card);
        const text = cardToText(card);
        const exchangeLine = text.split('\n').findIndex((l) => l.startsWith('Exchange Server 2019 CU14'));
        const next = text
          .split('\n')
          .slice(exchangeLine, exchangeLine + 3)
          .join('\n');
        assert.match(next, lang === 'de' ? /nicht betroffen/ : /not affected/);
        assert.doesNotMatch(next, /vollständig gepatcht|fully patched/);
      }
    });

    test('verdict first, then one line per patch; details collapsed behind a toggle', () => {
      const card = buildStatusCard(townView(counts(1, 0), 2), 'de') as unknown as {
        body: Array<{ id?: string; isVisible?: boolean; type: string; actions?: Array<{ type: string }> }>;
      };
      const text = cardToText(card);
      const lines = text.split('\n');
      assert.equal(lines[2], 'Freigaberichtlinie nicht erfüllt');
      assert.equal(lines[3], 'Wenden: 1 Server ohne Exchange Server 2019 CU14');
      assert.ok(text.includes('Wenden: 12 Clients ohne Outlook security update, 9 davon fehlgeschlagen'));
      const details = card.body.find((e) => e.id === 'details');
      assert.equal(details?.isVisible, false);
      const toggles = card.body.flatMap((e) => e.actions ?? []).filter((a) => a.type === 'Action.ToggleVisibility');
      assert.equal(toggles.length, 1);
      // Colours by meaning: the verdict is red only when action is needed, green when met.
      assert.match(JSON.stringify(card), /"text":"Freigaberichtlinie nicht erfüllt","color":"Attention"/);
    });

    test('plurals: one domain, one client, one server', () => {
      const de = cardToText(buildStatusCard(townView(counts(1, 0), 1), 'de'));
      assert.match(de, /Externe Mail, 1 Domäne:/);
      assert.match(de, /1 Server ohne/);
      const en = cardToText(buildStatusCard(townView(counts(1, 0), 2), 'en'));
      assert.match(en, /External mail, 2 domains:/);
      assert.match(en, /1 server without/);
      assert.match(en, /12 clients without/);
    });

    test('the breakdown chart is stacked to 100 % (a 0–100 % axis) and says its unit', () => {
      const card = JSON.stringify(buildStatusCard(fixtureView(3), 'de'));
      const chart = JSON.parse(
        card.slice(card.indexOf('{"type":"Chart.HorizontalBar.Stacked"')).replace(/,"fallback".*$/s, '}'),
      );
      assert.match(chart.title, /in % \(0–100 %\)/);
      for (const row of chart.data as Array<{ data: Array<{ value: number }> }>) {
        assert.equal(Math.round(row.data.reduce((n, d) => n + d.value, 0) * 10) / 10, 100);
      }
    });
  });
});
