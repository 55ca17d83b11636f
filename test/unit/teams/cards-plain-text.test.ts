import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { defaultReleasePolicy, evaluateReleasePolicy } from '../../../src/domain/release-policy.ts';
import { createRequest, type ReleaseRequest, transition } from '../../../src/domain/release-request.ts';
import { summarizePatchStatus } from '../../../src/domain/summarize-patch-status.ts';
import type { AlertView } from '../../../src/services/alert-data.ts';
import type { PolicySummary } from '../../../src/services/release-service.ts';
import type { StatusView } from '../../../src/services/report-status.ts';
import { type Lang, placeName } from '../../../src/teams/i18n.ts';
import type { AdaptiveCardJson } from '../../../src/teams/render-card.ts';
import {
  buildAlertCard,
  buildAlertSubscriptionsCard,
  buildAlertWelcomeCard,
} from '../../../src/teams/views/alert-card.ts';
import { buildHelpCard } from '../../../src/teams/views/help-card.ts';
import { buildConfirmCard, buildReasonForm, buildRequestCard } from '../../../src/teams/views/request-card.ts';
import { buildScopeChoiceCard } from '../../../src/teams/views/scope-choice-card.ts';
import { buildStatusCard } from '../../../src/teams/views/status-card.ts';
import { hostileStrings } from '../../fixtures/hostile-strings.ts';
import { trackedPatches } from '../../fixtures/patches.ts';
import { markdownProblems, stringsOf } from '../../helpers/markdown-problems.ts';

// Issue 13: every card type, built with a hostile string in every place a user or a back end supplies
// text (reasons, justifications, display names, scope echoes, region and patch names, domains, hosts,
// towns), renders to plain text only — no Markdown link, emphasis, list, heading or HTML survives anywhere
// in the card. The bot's own texts are checked the same way, so they stay free of accidental Markdown.

const counts = (total: number, installed: number) => ({
  total,
  installed,
  pending: total - installed,
  pending_reboot: 0,
  failed: 0,
  unknown: 0,
  notApplicable: 0,
  stale: 0,
});

function statusView(h: string): StatusView {
  const region = (id: string, kind: 'verband' | 'kommune') => ({
    regionId: id,
    name: h,
    kind,
    patches: trackedPatches.map((p) => ({
      patchId: p.id,
      clients: p.appliesTo.kind === 'client' ? counts(100, 90) : counts(0, 0),
      servers: p.appliesTo.kind === 'server' ? counts(4, 3) : counts(0, 0),
      exchangeServers: counts(0, 0),
    })),
  });
  const report = {
    observedAt: '2024-02-19T13:00:00Z',
    staleAfterHours: 168,
    region: region('vb-sued', 'verband'),
    children: [region('ko-a', 'kommune'), region('ko-b', 'kommune')],
  };
  const summary = summarizePatchStatus(
    report,
    trackedPatches.map((p) => ({ ...p, title: h })),
    defaultReleasePolicy,
  );
  return {
    scope: { id: 'vb-sued', name: h, kind: 'region', level: 'verband', domain: null },
    breakdownLevels: [
      { kind: 'kreis', name: { de: h, en: h }, plural: { de: h, en: h }, qualifiers: [] },
      { kind: 'kommune', name: { de: h, en: h }, plural: { de: h, en: h }, qualifiers: [] },
    ],
    observedAt: report.observedAt,
    stale: true,
    fetchedAt: report.observedAt,
    staleAfterHours: 168,
    summary,
    policy: evaluateReleasePolicy(report.region),
    trends: [],
    unpatched: {
      rows: [
        {
          deviceId: 'd1',
          hostname: h,
          kind: 'client',
          role: 'workstation',
          municipality: 'ko-a',
          kreis: 'kr-olpe',
          build: h,
          lastSeenAt: '2024-02-19T12:00:00Z',
          patchId: trackedPatches[0]!.id,
          state: 'failed',
          observedAt: '2024-02-19T13:00:00Z',
          townName: h,
        },
      ],
      total: 1,
    },
    mail: {
      domains: [
        {
          domain: h,
          municipality: 'ko-a',
          kreis: 'kr-olpe',
          verband: 'vb-sued',
          inbound: 'held',
          outbound: 'open',
          blockMode: 'hold',
          reason: h,
          changedBy: h,
          changedAt: '2024-02-15T17:00:00Z',
          version: 2,
        },
      ],
      queues: [],
    },
  } as StatusView;
}

function requests(h: string): ReleaseRequest[] {
  const person = (id: string) => ({ id, name: h, tenantId: 't1', roles: ['operator' as const, 'approver' as const] });
  const summary = {
    evaluation: { meets: false },
    unpatchedClients: 1,
    unpatchedServers: 0,
    devices: [{ hostname: h, kind: 'client', town: h, state: 'failed' }],
    observedAt: '2024-02-19T13:00:00Z',
  } as unknown as PolicySummary;
  const created = createRequest(
    {
      id: 'r-1',
      actor: person('aad-op'),
      kind: 'release',
      scope: { id: 'kr-olpe', name: h, domains: [h, `${h}.de`] },
      direction: 'inbound',
      reason: `${h} Begründung`,
      justification: `${h} Rechtfertigung, ausführlich genug`,
      policy: { meets: false, summary },
      ttlMs: 3_600_000,
    },
    '2024-02-19T13:00:00.000Z',
  );
  assert.ok(created.ok);
  const open = created.request;
  const out: ReleaseRequest[] = [open];
  const rejected = transition(
    open,
    { type: 'reject', actor: person('aad-ap'), reason: `${h} abgelehnt` },
    '2024-02-19T13:05:00.000Z',
  );
  if (rejected.ok) out.push(rejected.request);
  const cancelled = transition(
    created.request,
    { type: 'cancel', actor: person('aad-op') },
    '2024-02-19T13:05:00.000Z',
  );
  if (cancelled.ok) out.push(cancelled.request);
  return out;
}

function alertView(h: string, kind: 'spike' | 'test'): AlertView {
  return {
    v: 2,
    kind,
    lang: 'de',
    scope: { id: 'domain:x.de', kind: kind === 'spike' ? 'domain' : 'group', name: h },
    group: { id: 'kr-olpe', name: h },
    within: { id: 'vb-sued', name: h },
    domains: [h, `${h}2`],
    inbound: { [h]: 'open' },
    startedAt: '2024-02-19T13:00:00.000Z',
    endedAt: null,
    currentRate: 120,
    baselineRate: 20,
    factor: 6,
    peakFactor: 6.4,
    foldedInto: kind === 'spike' ? null : { id: 'kr-olpe', name: h },
    series: [{ at: '2024-02-19T13:00:00.000Z', value: 120, baseline: 20 }],
    audience: ['kr-olpe'],
    muteScopes: ['kr-olpe'],
    updatedAt: '2024-02-19T13:10:00.000Z',
    alertId: 'a-1',
    status: 'open',
    acks: [{ actor: 'aad-op', name: h, at: '2024-02-19T13:05:00.000Z' }],
    mutedUntil: null,
  };
}

function everyCard(h: string, lang: Lang): Array<[string, AdaptiveCardJson]> {
  const node = { id: 'kr-olpe', name: h, level: { de: h, en: h } };
  const [pending, ...decided] = requests(h);
  const fresh = (pending!.policyAtRequest as { summary: PolicySummary }).summary;
  return [
    ['help (unknown command echoed)', buildHelpCard(lang, h)],
    ['help', buildHelpCard(lang)],
    ['status', buildStatusCard(statusView(h), lang)],
    ['scope choice, unknown input', buildScopeChoiceCard(lang, h, 'unknown', [node])],
    ['scope choice, ambiguous', buildScopeChoiceCard(lang, h, 'ambiguous', [node, node])],
    ['request', buildRequestCard(pending!, 1, lang)],
    ...decided.map((r): [string, AdaptiveCardJson] => [`request ${r.state}`, buildRequestCard(r, 2, lang)]),
    [
      'confirm',
      buildConfirmCard(
        {
          request: pending!,
          version: 1,
          fresh,
          worse: true,
          effect: { total: 2, already: ['a.de'], toChange: ['b.de'] },
        },
        lang,
      ),
    ],
    [
      'reason form',
      buildReasonForm(lang, { requestKind: 'release', scopeId: 'kr-olpe', scopeName: h, direction: 'both' }),
    ],
    ['alert', buildAlertCard(alertView(h, 'spike'), lang)],
    ['alert, folded test', buildAlertCard(alertView(h, 'test'), lang)],
    [
      'alert subscriptions',
      buildAlertSubscriptionsCard(
        lang,
        [{ scopeId: 'kr-olpe', name: h, createdAt: '2024-02-19T13:00:00.000Z', mutedUntil: null }],
        placeName(lang, 'channel'),
      ),
    ],
    ['alert welcome', buildAlertWelcomeCard(lang, [{ id: 'vb-sued', name: h }])],
  ];
}

// The bot's own texts may format (the help card shows commands as code); what a hostile string adds is
// what counts. So each card is compared, string by string, with the same card built from a harmless name.
function problemsByPath(card: AdaptiveCardJson): Map<string, string[]> {
  return new Map(
    stringsOf(card).map(({ path, text }) => [
      path,
      [...markdownProblems(text), ...(text.includes('](') ? [']('] : [])],
    ]),
  );
}

function addedProblems(card: AdaptiveCardJson, baseline: AdaptiveCardJson): string[] {
  const own = problemsByPath(baseline);
  const strings = new Map(stringsOf(card).map(({ path, text }) => [path, text]));
  return [...problemsByPath(card)].flatMap(([path, problems]) =>
    JSON.stringify(problems) === JSON.stringify(own.get(path) ?? [])
      ? []
      : [`${path}: ${problems.join(' ')} in ${JSON.stringify(strings.get(path))}`],
  );
}

function assertLiteral(h: string, lang: Lang): void {
  const baseline = everyCard('Musterstadt', lang);
  everyCard(h, lang).forEach(([name, card], i) => {
    assert.deepEqual(addedProblems(card, baseline[i]![1]), [], `${name} with ${JSON.stringify(h)}`);
  });
}

describe('cards show user and back-end text literally', () => {
  for (const lang of ['de', 'en'] as Lang[]) {
    test(`every card type with each hostile string (${lang})`, () => {
      for (const h of hostileStrings) assertLiteral(h, lang);
    });
  }

  test('the reason of issue 13 is in the request card, shown literally', () => {
    const reason = '[Prüfbericht.pdf](https://evil.example/phish) **GENEHMIGT durch Leitstelle**';
    const [pending] = requests(reason);
    const text = JSON.stringify(buildRequestCard(pending!, 1, 'de'));
    assert.ok(text.includes('Prüfbericht.pdf'), 'the reason is shown');
    assert.ok(!text.includes(']('), text);
    assert.ok(!text.includes('**'), text);
  });

  test('fuzz: random Markdown-heavy strings in every card type', () => {
    const piece = fc.constantFrom(
      ...'[]()<>!*_~`#-+=|:&\\ \n.1a'.split(''),
      'https://evil.example',
      '](',
      '**',
      '1. ',
      '<b>',
      '&lt;',
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 30 }), fc.constantFrom<Lang>('de', 'en'), (parts, lang) =>
        assertLiteral(parts.join(''), lang),
      ),
      { numRuns: 150 },
    );
  });
});
