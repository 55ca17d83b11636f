import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countAnomalies, type DecisionView, requestIdOfKey, roundOfKey } from './count-anomalies.ts';

const change = (requestId: string, domain: string) => ({ domain, idempotencyKey: `${requestId}:${domain}:apply` });

describe('countAnomalies', () => {
  test('a clean run has none', () => {
    const a = countAnomalies({
      created: ['r-1', 'r-2'],
      acknowledged: ['r-1'],
      requests: [
        { id: 'r-1', state: 'executed', domains: { 'a.de': 'succeeded', 'b.de': 'succeeded' } },
        { id: 'r-2', state: 'pending', domains: null },
      ],
      changes: [change('r-1', 'a.de'), change('r-1', 'b.de'), { domain: 'c.de', idempotencyKey: null }],
    });
    assert.deepEqual(a, {
      lost: [],
      lostDecisions: [],
      duplicated: [],
      stuck: [],
      misrecorded: [],
      refusedAfterApplied: [],
      changedWithoutDecision: [],
    });
  });

  test('finds each kind', () => {
    const a = countAnomalies({
      created: ['r-1', 'r-2', 'r-3', 'r-gone'],
      acknowledged: ['r-2'],
      requests: [
        { id: 'r-1', state: 'executed', domains: { 'a.de': 'succeeded' } },
        { id: 'r-2', state: 'pending', domains: null },
        { id: 'r-3', state: 'executing', domains: { 'x.de': 'pending' } },
        {
          id: 'r-4',
          state: 'partially_failed',
          domains: { 'f.de': 'failed', 'g.de': 'failed' },
          errors: { 'f.de': 'UPSTREAM_TIMEOUT', 'g.de': 'UPSTREAM_CONFLICT: gateway API answered 409' },
        },
      ],
      changes: [
        change('r-1', 'a.de'),
        change('r-1', 'a.de'),
        change('r-3', 'x.de'),
        change('r-4', 'f.de'),
        change('r-4', 'g.de'),
      ],
      refusalCodes: ['UPSTREAM_CONFLICT'],
    });
    assert.deepEqual(a.lost, ['r-gone']);
    assert.deepEqual(a.lostDecisions, ['r-2']);
    assert.deepEqual(a.duplicated, [{ requestId: 'r-1', domain: 'a.de', changes: 2 }]);
    assert.deepEqual(a.stuck, ['r-3']);
    // x.de is pending while its request executes: counted as stuck, not as misrecorded.
    assert.deepEqual(a.misrecorded, [
      { requestId: 'r-4', domain: 'f.de', recorded: 'failed', error: 'UPSTREAM_TIMEOUT' },
    ]);
    assert.deepEqual(a.refusedAfterApplied, [
      { requestId: 'r-4', domain: 'g.de', error: 'UPSTREAM_CONFLICT: gateway API answered 409' },
    ]);
  });

  test('a change for a request the store does not know is misrecorded', () => {
    const a = countAnomalies({ created: [], acknowledged: [], requests: [], changes: [change('r-9', 'a.de')] });
    assert.deepEqual(a.misrecorded, [{ requestId: 'r-9', domain: 'a.de', recorded: 'missing', error: null }]);
  });

  test('a change without a valid decision is counted, with why', () => {
    const release = (over: Partial<DecisionView> = {}): DecisionView => ({
      kind: 'release',
      requesterId: 'olaf',
      requiredApprovals: 1,
      approvers: ['anna'],
      confirmed: false,
      retry: null,
      lateRetries: 0,
      ...over,
    });
    const executed = (id: string, decision: DecisionView) => ({
      id,
      state: 'executed',
      domains: { 'a.de': 'succeeded' },
      decision,
    });
    const a = countAnomalies({
      created: [],
      acknowledged: [],
      requests: [
        executed('ok', release()),
        executed('self', release({ approvers: ['olaf'] })),
        executed('few', release({ requiredApprovals: 2 })),
        executed('late', release({ lateRetries: 1 })),
        executed('round', release({ retry: { round: 2, by: 'olaf', required: 2, approvers: ['anna'] } })),
        executed('block', { ...release(), kind: 'block', approvers: [], confirmed: false }),
      ],
      changes: [
        change('ok', 'a.de'),
        change('self', 'a.de'),
        change('few', 'a.de'),
        change('late', 'a.de'),
        { domain: 'a.de', idempotencyKey: 'round:a.de:apply:r2' },
        change('block', 'a.de'),
      ],
    });
    assert.deepEqual(
      a.changedWithoutDecision.map((c) => `${c.requestId}: ${c.why}`),
      [
        'self: self-approval',
        'few: too few approvals',
        'late: a retry after the lifetime without a new approval',
        'round: too few retry approvals',
        'block: unconfirmed block',
      ],
    );
    assert.equal(roundOfKey('r-1:a.de:apply:r3'), 3);
    assert.equal(roundOfKey('r-1:a.de:apply'), 1);
  });

  test('requestIdOfKey', () => {
    assert.equal(requestIdOfKey('r-1a2b:olpe.de:apply'), 'r-1a2b');
    assert.equal(requestIdOfKey(null), null);
    assert.equal(requestIdOfKey('nocolon'), null);
  });
});
