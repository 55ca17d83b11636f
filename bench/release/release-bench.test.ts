import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Actor,
  createRequest,
  idempotencyKeyFor,
  type ReleaseRequest,
  transition,
} from '../../src/domain/release-request.ts';
import { buildRequestCard } from '../../src/teams/views/request-card.ts';
import {
  buttonRefOf,
  factValuesOf,
  STATE_EXECUTED,
  STATE_EXECUTING,
  STATE_WAITING_FOR_ONE,
  stateLineOf,
} from './read-request-card.ts';
import { type GatewayApplication, summarizeGatewayChanges } from './summarize-gateway-changes.ts';

// What bench/release reads from the bot's cards must match what the bot renders: a renamed state or
// a moved header would otherwise make the benchmark wait for a card that never comes.

const T0 = '2024-02-19T14:00:00.000Z';
const tenantId = 'tenant-bench';
const operator: Actor = { id: 'op', name: 'Olaf', tenantId, roles: ['operator'] };
const approver: Actor = { id: 'ap', name: 'Anna', tenantId, roles: ['approver'] };
const policy = {
  meets: true,
  summary: {
    evaluation: { meets: true, shortfalls: [] },
    region: {},
    unpatchedClients: 0,
    unpatchedServers: 0,
    devices: [],
    observedAt: T0,
  },
};
const domains = ['arnsberg.de', 'brilon.de'];

function step(request: ReleaseRequest, event: Parameters<typeof transition>[1]): ReleaseRequest {
  const r = transition(request, event, T0);
  assert.ok(r.ok, JSON.stringify(r));
  return r.request;
}

function lifecycle() {
  const created = createRequest(
    {
      id: 'r-1234abcd',
      actor: operator,
      kind: 'release',
      scope: { id: 'kr-hsk', name: 'Hochsauerlandkreis', domains },
      direction: 'outbound',
      reason: 'Benchmark',
      policy,
      ttlMs: 3_600_000,
    },
    T0,
  );
  assert.ok(created.ok, JSON.stringify(created));
  const pending = created.request;
  const executing = step(pending, {
    type: 'approve',
    actor: approver,
    freshPolicy: policy,
    freshPolicyWorse: false,
    override: false,
    justification: null,
  });
  const executed = domains.reduce((r, domain) => step(r, { type: 'domain_succeeded', domain }), executing);
  return { pending, executing, executed };
}

describe('reading the request card', () => {
  const { pending, executing, executed } = lifecycle();

  test('a new request: waiting for one approval, buttons carry its id and version', () => {
    const card = buildRequestCard(pending, 3, 'de');
    assert.equal(stateLineOf(card), STATE_WAITING_FOR_ONE);
    assert.deepEqual(buttonRefOf(card), { requestId: 'r-1234abcd', version: 3 });
  });

  test('executing, then executed: the state line and the request id among the facts', () => {
    assert.equal(stateLineOf(buildRequestCard(executing, 4, 'de')), STATE_EXECUTING);
    const done = buildRequestCard(executed, 6, 'de');
    assert.equal(stateLineOf(done), STATE_EXECUTED);
    assert.equal(STATE_EXECUTED, 'ausgeführt');
    assert.ok(factValuesOf(done).includes('r-1234abcd'));
    assert.equal(buttonRefOf(done), null, 'an executed request offers no buttons');
  });

  test('a card without the header is not mistaken for a state', () => {
    assert.equal(stateLineOf({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'Hallo' }] }), null);
    assert.equal(stateLineOf(null), null);
  });
});

describe('summarizeGatewayChanges', () => {
  const app = (domain: string, at: number, over: Partial<GatewayApplication> = {}): GatewayApplication => ({
    key: idempotencyKeyFor('r-1', domain),
    domain,
    at,
    changed: true,
    replayed: false,
    ...over,
  });

  test('complete when every domain is applied; the last application is the completion', () => {
    const s = summarizeGatewayChanges([app('a.de', 10), app('b.de', 30)], 'r-1', ['a.de', 'b.de']);
    assert.deepEqual(s, { completedAt: 30, firstAt: 10, applied: 2, missing: [], duplicates: [], unchanged: 0 });
  });

  test('a missing domain leaves it incomplete; other requests and replays do not count', () => {
    const s = summarizeGatewayChanges(
      [
        app('a.de', 10),
        app('b.de', 20, { replayed: true }),
        { ...app('b.de', 25), key: idempotencyKeyFor('r-2', 'b.de') },
      ],
      'r-1',
      ['a.de', 'b.de'],
    );
    assert.equal(s.completedAt, null);
    assert.deepEqual(s.missing, ['b.de']);
    assert.equal(s.applied, 1);
  });

  test('a key applied twice is reported; a change to the state it already had is counted', () => {
    const s = summarizeGatewayChanges([app('a.de', 10, { changed: false }), app('a.de', 40)], 'r-1', ['a.de']);
    assert.deepEqual(s.duplicates, ['a.de']);
    assert.equal(s.unchanged, 1);
    assert.equal(s.completedAt, 10);
  });
});
