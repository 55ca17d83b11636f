import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Actor, createRequest, type ReleaseRequest, transition } from '../../../src/domain/release-request.ts';
import type { PolicySummary } from '../../../src/services/release-service.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { buildConfirmCard, buildRequestCard } from '../../../src/teams/views/request-card.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// The request card's semantics for decisions on current facts (docs/decisions/release-workflow.md):
// superseded, nothing to do, both justifications, and a confirmation whose required justification is
// legible in Teams and in `npm run chat` (cardToText).

const T0 = '2024-02-19T13:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
const actor = (id: string, name: string, ...roles: Actor['roles'][number][]): Actor => ({
  id,
  name,
  tenantId: 't1',
  roles,
});
const olaf = actor('olaf', 'Olaf Operator', 'operator');
const anna = actor('anna', 'Anna Approver', 'approver');
const bernd = actor('bernd', 'Bernd Approver', 'approver');
const below = {
  evaluation: { meets: false, shortfalls: [], missingPatches: [] },
  unpatchedClients: 37,
  unpatchedServers: 0,
  devices: [],
  observedAt: T0,
} as unknown as PolicySummary;

function release(meets: boolean): ReleaseRequest {
  const created = createRequest(
    {
      id: 'r-1',
      actor: olaf,
      kind: 'release',
      scope: { id: 'kr-olpe', name: 'Kreis Olpe', domains: ['olpe.de', 'attendorn.de'] },
      direction: 'inbound',
      reason: 'Bürgerbüro braucht Mail',
      policy: { meets, summary: meets ? { ...below, evaluation: { ...below.evaluation, meets } } : below },
      ttlMs: 3_600_000,
    },
    T0,
  );
  assert.ok(created.ok);
  return created.request;
}

function ok(outcome: ReturnType<typeof transition>): ReleaseRequest {
  assert.ok(outcome.ok, JSON.stringify(outcome));
  return outcome.request;
}

const approve = (who: Actor, justification: string | null, meets = false) =>
  ({
    type: 'approve',
    actor: who,
    freshPolicy: { meets, summary: below },
    freshPolicyWorse: false,
    override: false,
    justification,
  }) as const;

describe('request card semantics', () => {
  test('a superseded request names the block, who confirmed it and when; no buttons', () => {
    const superseded = ok(
      transition(
        release(true),
        { type: 'supersede', block: { requestId: 'r-9', by: { id: 'anna', name: 'Anna Approver' } } },
        at(5),
      ),
    );
    const card = buildRequestCard(superseded, 3, 'de');
    assertValidCard(card);
    const text = cardToText(card);
    assert.match(text, /überholt/);
    assert.match(text, /Überholt durch Sperre von Anna Approver um .*13:05|Überholt durch Sperre von Anna Approver/);
    assert.match(text, /Antrag r-9/);
    assert.deepEqual(card.actions, []);
    assert.match(cardToText(buildRequestCard(superseded, 3, 'en')), /Superseded by the block of Anna Approver/);
  });

  test('both approvers’ justifications are on the final card', () => {
    const first = ok(transition(release(false), approve(anna, 'Lagebesprechung: Restrisiko akzeptiert'), at(1)));
    const done = ok(transition(first, approve(bernd, 'Zweite Sicht: Clients sind isoliert'), at(2)));
    const text = cardToText(buildRequestCard(done, 3, 'de'));
    assert.match(text, /Anna Approver .*Lagebesprechung: Restrisiko akzeptiert/);
    assert.match(text, /Bernd Approver .*Zweite Sicht: Clients sind isoliert/);
  });

  test('nothing to do: every domain already in effect', () => {
    let r = ok(transition(release(true), approve(anna, null, true), at(1)));
    for (const domain of ['olpe.de', 'attendorn.de']) {
      r = ok(transition(r, { type: 'domain_succeeded', domain, unchanged: true }, at(2)));
    }
    const text = cardToText(buildRequestCard(r, 4, 'de'));
    assert.match(text, /Nichts zu tun: alle 2 Domänen waren bereits offen/);
    assert.match(text, /bereits in Kraft/);
  });

  test('below the policy the confirmation says the justification is required and why, also as chat text', () => {
    const request = release(false);
    const effect = { total: 2, already: ['olpe.de'], toChange: ['attendorn.de'] };
    const card = buildConfirmCard({ request, version: 1, fresh: below, worse: false, effect }, 'de');
    assertValidCard(card);
    const input = (card.body as Array<{ type: string; id?: string; isRequired?: unknown }>).find(
      (e) => e.type === 'Input.Text',
    );
    assert.equal(input?.isRequired, true);
    const text = cardToText(card, { showActions: true });
    assert.match(text, /2 Domänen, davon 1 bereits offen — 1 werden geändert/);
    assert.match(text, /Freigaberichtlinie ist nicht erfüllt/);
    assert.match(text, /Schriftliche Rechtfertigung – Pflicht.* \*\s+⟨justification⟩/);
    assert.match(
      text,
      /--invoke request\.confirm --data '\{"requestId":"r-1","version":1,"justification":"<justification>"\}'/,
    );
    // With one on record the second approver may add their own; it is not required.
    const first = ok(transition(request, approve(anna, 'Lagebesprechung: Restrisiko akzeptiert'), at(1)));
    const second = buildConfirmCard({ request: first, version: 2, fresh: below, worse: false, effect }, 'de');
    const optional = (second.body as Array<{ type: string; isRequired?: unknown }>).find(
      (e) => e.type === 'Input.Text',
    );
    assert.equal(optional?.isRequired, false);
    assert.match(cardToText(second), /Bisherige Rechtfertigung: „Lagebesprechung: Restrisiko akzeptiert“/);
  });
});
