import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type AuditLogReader, createAuditLogReader } from '../../../src/services/read-audit-log.ts';
import { readRegionIndex } from '../../../src/services/read-region-index.ts';
import type { RequestOutcome } from '../../../src/services/release-service.ts';
import { cardToText } from '../../../src/teams/card-to-text.ts';
import { buildAuditCard } from '../../../src/teams/views/audit-card.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';
import { assertValidCard } from '../../helpers/validate-card.ts';

// `protokoll` as people read it, in both languages: one line per request event, the per-domain gateway
// results folded into one line, filtered by scope, *Mehr* for older entries.

const TENANT = callers.operator.tenantId;
let core: ReleaseCore;
let reader: AuditLogReader;

beforeEach(async () => {
  core = await startReleaseCore();
  reader = createAuditLogReader({
    store: core.store,
    regions: () => readRegionIndex(core.inventory),
  });
});
afterEach(() => core.close());

function created(outcome: RequestOutcome) {
  assert.equal(outcome.kind, 'created', JSON.stringify(outcome).slice(0, 300));
  return outcome as Extract<RequestOutcome, { kind: 'created' }>;
}

// Olaf asks for Arnsberg inbound, Anna approves, the executor opens every domain.
async function executedRelease() {
  const { request, version } = created(
    await core.service.requestFromWords(
      callers.operator,
      'release',
      'Regierungsbezirk Arnsberg eingehend alles ok'.split(' '),
    ),
  );
  core.advance(5);
  const outcome = await core.service.act(callers.approver1, request.id, version, 'approve');
  assert.equal(outcome.kind, 'ok');
  await core.executor.run(request.id);
  assert.ok(await core.executor.idle());
  return request;
}

async function textOf(lang: 'de' | 'en', scopeText = '') {
  const result = await reader.latest(TENANT, scopeText);
  const card = buildAuditCard(lang, result);
  assertValidCard(card);
  return { result, text: cardToText(card, { showActions: true }) };
}

describe('protokoll people read', () => {
  test('German: who asked, who approved, the domains folded into one line, newest first', async () => {
    const request = await executedRelease();
    const { text } = await textOf('de');
    const lines = text.split('\n').slice(1);
    const n = request.scope.domains.length;
    assert.deepEqual(lines, [
      `19.02. 15:05 · Regierungsbezirk Arnsberg eingehend: ${n} Domänen geöffnet, 0 fehlgeschlagen`,
      '19.02. 15:05 · Anna Approver hat den Antrag von Olaf Operator genehmigt: Regierungsbezirk Arnsberg eingehend',
      '19.02. 15:00 · Olaf Operator hat eine Freigabe beantragt: Regierungsbezirk Arnsberg eingehend',
    ]);
    assert.doesNotMatch(text, /domain_succeeded|gateway\.intent|executing/);
  });

  test('English: the same lines in English', async () => {
    await executedRelease();
    const { text } = await textOf('en');
    assert.match(text, /^Audit log\n/);
    assert.match(text, /19 Feb 15:05 · Regierungsbezirk Arnsberg inbound: \d+ domains opened, 0 failed/);
    assert.match(
      text,
      /19 Feb 15:05 · Anna Approver approved Olaf Operator's request: Regierungsbezirk Arnsberg inbound/,
    );
    assert.match(text, /19 Feb 15:00 · Olaf Operator requested a release: Regierungsbezirk Arnsberg inbound/);
  });

  test('filtered by scope: another scope sees none of it', async () => {
    await executedRelease();
    const arnsberg = await textOf('de', 'Regierungsbezirk Arnsberg');
    assert.match(arnsberg.text, /^Protokoll: Regierungsbezirk Arnsberg\n/);
    assert.equal(arnsberg.text.split('\n').length, 4);
    const koeln = await textOf('de', 'Regierungsbezirk Köln');
    assert.match(koeln.text, /Keine Einträge/);
    const unknown = await reader.latest(TENANT, 'Atlantis');
    assert.equal(unknown.kind, 'unknown');
  });

  test('Mehr: older entries on the next page, each line once, the domains of a request counted once', async () => {
    // Seven executed releases: 21 lines, more than a page.
    const requests = [];
    for (let i = 0; i < 7; i++) {
      requests.push(await executedRelease());
      core.advance(60);
    }
    const first = await reader.latest(TENANT, '');
    assert.equal(first.kind, 'ok');
    if (first.kind !== 'ok') return;
    assert.equal(first.lines.length, 15);
    assert.ok(first.olderThan !== null);
    const firstCard = buildAuditCard('de', first);
    const more = (firstCard.actions as Array<{ title: string; verb: string; data: { olderThan: number } }>)[0]!;
    assert.equal(more.title, 'Mehr');
    assert.equal(more.verb, 'audit.more');
    const second = await reader.older(TENANT, null, more.data.olderThan);
    assert.equal(second.kind, 'ok');
    if (second.kind !== 'ok') return;
    assert.equal(second.lines.length, 6);
    assert.equal(second.olderThan, null, 'nothing older is left');
    const all = [...first.lines, ...second.lines];
    assert.equal(all.filter((l) => l.kind === 'domains').length, 7, 'one folded line per request');
    assert.equal(all.filter((l) => l.kind === 'request' && l.event === 'requested').length, 7);
    for (const l of all.filter((x) => x.kind === 'domains')) {
      assert.equal(l.kind === 'domains' && l.succeeded, requests[0]!.scope.domains.length);
    }
    assert.match(cardToText(buildAuditCard('de', second, true)), /^Protokoll \(ältere Einträge\)/);
  });

  test('alert subscriptions read as sentences too', async () => {
    await core.store.appendAudit([
      {
        at: new Date(core.now()).toISOString(),
        actor: 'aad-operator',
        action: 'alert.subscribe',
        tenantId: TENANT,
        scopeId: 'ags:059',
        requestId: null,
        details: { name: 'Olaf Operator', conversationId: '19:x@thread.tacv2' },
      },
    ]);
    assert.match(
      (await textOf('de')).text,
      /19\.02\. 15:00 · Olaf Operator hat Spam-Alarme für Regierungsbezirk Arnsberg abonniert/,
    );
    assert.match((await textOf('en')).text, /Olaf Operator subscribed to spam alerts for Regierungsbezirk Arnsberg/);
  });
});
