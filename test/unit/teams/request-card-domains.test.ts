import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { RequestOutcome } from '../../../src/services/release-service.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { buildRequestCard } from '../../../src/teams/views/request-card.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// The request card shows every domain the decision is about, by Kreis, compact; by town behind
// *Alle Domänen* — so the approver sees all 44, not the first 12.

let core: ReleaseCore;
beforeEach(async () => {
  core = await startReleaseCore();
});
afterEach(() => core.close());

function created(outcome: RequestOutcome) {
  assert.equal(outcome.kind, 'created', JSON.stringify(outcome).slice(0, 300));
  return outcome as Extract<RequestOutcome, { kind: 'created' }>;
}

describe('request card: every domain visible', () => {
  test('grouped by Kreis with counts, by town behind "Alle Domänen", in both languages', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(callers.operator, 'release', 'NRW eingehend alles gepatcht'.split(' ')),
    );
    const domains = request.scope.domains;
    assert.equal(domains.length, 12, 'more than the old card listed before its "…" would cut');
    assert.deepEqual(
      request.scope.groups!.map((g) => [g.name, g.towns.map((t) => t.name)]),
      [
        ['Nordrhein-Westfalen', ['Nordrhein-Westfalen']],
        // A kreisfreie Stadt: its group is the Regierungsbezirk.
        ['Regierungsbezirk Köln', ['Bonn']],
        ['Hochsauerlandkreis', ['Hochsauerlandkreis', 'Arnsberg', 'Meschede']],
        ['Kreis Unna', ['Kreis Unna', 'Schwerte', 'Unna']],
        ['Rhein-Sieg-Kreis', ['Rhein-Sieg-Kreis', 'Siegburg', 'Troisdorf']],
      ],
    );
    for (const lang of ['de', 'en'] as const) {
      const card = buildRequestCard(request, version, lang);
      assertValidCard(card);
      const text = cardToText(card);
      for (const d of domains) assert.ok(text.includes(d), `${lang}: ${d} is on the card`);
      assert.match(
        text,
        lang === 'de' ? new RegExp(`${domains.length} Domänen`) : new RegExp(`${domains.length} domains`),
      );
      assert.match(
        text,
        /\*\*Kreis Unna \(4\):\*\* kreis-unna\.nrw\.example, schwerte\.nrw\.example, stadt-unna\.nrw\.example, unna\.nrw\.example/,
      );
      const json = JSON.stringify(card);
      assert.match(
        json,
        /"type":"Action.ToggleVisibility","title":"(Alle Domänen|All domains)","targetElements":\["allDomains"\]/,
      );
      assert.match(json, /"id":"allDomains","isVisible":false/);
      // By town: Unna has two domains on one line.
      assert.match(text, /\nUnna: stadt-unna\.nrw\.example, unna\.nrw\.example\n/);
    }
  });

  test('a request stored before the groups existed still lists every domain', async () => {
    const { request, version } = created(
      await core.service.requestFromWords(
        callers.operator,
        'release',
        'Regierungsbezirk Arnsberg eingehend alles ok'.split(' '),
      ),
    );
    const { groups: _gone, ...scope } = request.scope;
    const text = cardToText(buildRequestCard({ ...request, scope }, version, 'de'));
    for (const d of request.scope.domains) assert.ok(text.includes(d), d);
  });
});
