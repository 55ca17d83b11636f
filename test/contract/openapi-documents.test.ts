import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import { errorBody, health } from '../../src/contracts/common.ts';
import {
  bulkChangeRequest,
  bulkChangeResult,
  domainChangeRequest,
  domainChangeResult,
  domainList,
  domainState,
  gatewayAuditPage,
  queueList,
  queueReleaseResult,
  selector,
  spamMetrics,
} from '../../src/contracts/gateway.ts';
import {
  complianceHistory,
  complianceReport,
  devicePage,
  patchList,
  patchStatePage,
  regionList,
} from '../../src/contracts/inventory.ts';
import { clockRequest, clockState, faultRequest, resetRequest, spamRequest } from '../../src/contracts/sim.ts';
import { type ApiName, collectExamples, loadContract, resolve } from './openapi-contract.ts';

// The documents themselves: well-formed as a provider would publish them, every example valid, and
// every component schema accepting and refusing exactly what the zod contract in src/contracts
// accepts and refuses (checked on hundreds of mutations of the documented examples).

type Json = Record<string, unknown>;
const apis: ApiName[] = ['inventory', 'gateway', 'sim'];

describe('OpenAPI documents', () => {
  for (const name of apis) {
    const contract = loadContract(name);
    const doc = contract.doc;

    test(`${name}: OpenAPI 3.1 with info, versioned servers, auth and unique operation ids`, () => {
      assert.equal(doc['openapi'], '3.1.0');
      const info = doc['info'] as Json;
      assert.ok(info['title'] && info['version'] && info['description']);
      const servers = doc['servers'] as Json[];
      assert.ok(servers.length > 0);
      for (const s of servers) assert.match(String(s['url']), /\/v1$/);
      if (name !== 'sim') {
        // The simulator's controls are open; both provider APIs take a bearer token.
        const schemes = (doc['components'] as Json)['securitySchemes'] as Json;
        assert.deepEqual(schemes['bearerAuth'], { ...(schemes['bearerAuth'] as Json), type: 'http', scheme: 'bearer' });
        assert.deepEqual(doc['security'], [{ bearerAuth: [] }]);
      }
      const ids = Object.values(doc['paths'] as Record<string, Json>).flatMap((item) =>
        Object.values(item)
          .filter((op): op is Json => typeof op === 'object' && op !== null && 'responses' in op)
          .map((op) => op['operationId']),
      );
      assert.ok(ids.every((id) => typeof id === 'string'));
      assert.equal(new Set(ids).size, ids.length);
    });

    test(`${name}: no key without a value outside examples (an unquoted comma in a flow mapping)`, () => {
      const empty: string[] = [];
      const walk = (node: unknown, path: string): void => {
        if (node === null || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node)) {
          if (k === 'example' || k === 'examples') continue;
          if (v === null) empty.push(`${path}.${k}`);
          walk(v, `${path}.${k}`);
        }
      };
      walk(doc, '');
      assert.deepEqual(empty, []);
    });

    test(`${name}: every 4xx/5xx answer is documented with the error body`, () => {
      for (const op of contract.operations) {
        const [method, route] = op.split(' ') as [string, string];
        const responses = ((doc['paths'] as Record<string, Json>)[route]![method.toLowerCase()] as Json)[
          'responses'
        ] as Json;
        const errors = Object.keys(responses).filter((s) => /^[45]/.test(s));
        assert.ok(errors.length > 0, `${op} documents no error answer`);
        for (const status of errors) {
          const response = resolve(doc, responses[status] as Json);
          const schema = ((response['content'] as Json)['application/json'] as Json)['schema'];
          assert.deepEqual(schema, { $ref: '#/components/schemas/Error' }, `${op} ${status}`);
        }
      }
    });

    test(`${name}: every example matches its schema`, () => {
      const examples = collectExamples(doc);
      assert.ok(examples.length >= contract.operations.length, 'fewer examples than operations');
      for (const { where, schema, value } of examples) {
        const validate = contract.validatorFor(schema);
        assert.ok(validate(value), `${where}: ${JSON.stringify(validate.errors)}`);
      }
    });
  }

  test('gateway: every mutation requires an Idempotency-Key; PATCH takes If-Match', () => {
    const doc = loadContract('gateway').doc;
    const paths = doc['paths'] as Record<string, Json>;
    let mutations = 0;
    for (const [route, item] of Object.entries(paths)) {
      for (const method of ['post', 'patch', 'put', 'delete']) {
        const op = item[method] as Json | undefined;
        if (!op) continue;
        mutations++;
        const params = ((op['parameters'] ?? []) as Json[]).map((p) => resolve(doc, p));
        const key = params.find((p) => p['name'] === 'Idempotency-Key');
        assert.ok(key && key['in'] === 'header' && key['required'] === true, `${method} ${route}`);
        if (method === 'patch') assert.ok(params.some((p) => p['name'] === 'If-Match' && p['in'] === 'header'));
      }
    }
    assert.equal(mutations, 3);
  });
});

// Component schema ↔ zod schema. Extra properties are the one intended difference (the documents
// say additionalProperties: false, zod strips unknown keys), so mutations never add keys.
const pairs: [ApiName, string, z.ZodTypeAny][] = [
  ['inventory', 'Error', errorBody],
  ['inventory', 'Health', health],
  ['inventory', 'RegionList', regionList],
  ['inventory', 'PatchList', patchList],
  ['inventory', 'DevicePage', devicePage],
  ['inventory', 'PatchStatePage', patchStatePage],
  ['inventory', 'ComplianceReport', complianceReport],
  ['inventory', 'ComplianceHistory', complianceHistory],
  ['gateway', 'Error', errorBody],
  ['gateway', 'Health', health],
  ['gateway', 'DomainList', domainList],
  ['gateway', 'DomainState', domainState],
  ['gateway', 'DomainChangeRequest', domainChangeRequest],
  ['gateway', 'DomainChangeResult', domainChangeResult],
  ['gateway', 'Selector', selector],
  ['gateway', 'BulkChangeRequest', bulkChangeRequest],
  ['gateway', 'BulkChangeResult', bulkChangeResult],
  ['gateway', 'QueueList', queueList],
  ['gateway', 'QueueReleaseResult', queueReleaseResult],
  ['gateway', 'SpamMetrics', spamMetrics],
  ['gateway', 'GatewayAuditPage', gatewayAuditPage],
  ['sim', 'Error', errorBody],
  ['sim', 'ClockState', clockState],
  ['sim', 'ClockRequest', clockRequest],
  ['sim', 'ResetRequest', resetRequest],
  ['sim', 'SpamRequest', spamRequest],
  ['sim', 'FaultRequest', faultRequest],
];

// Samples beyond the documented examples, where those miss a shape (nulls, the other branch of a union).
const extraSamples: Record<string, unknown[]> = {
  'gateway Selector': [{ kreis: 'kr-olpe' }, { domains: ['attendorn.de', 'olpe.de'], verband: 'vb-sued' }],
  'gateway BulkChangeResult': [
    {
      results: [{ domain: 'olpe.de', status: 'failed', version: null, error: { code: 'internal', message: 'x' } }],
      replayed: true,
    },
  ],
  'gateway GatewayAuditPage': [
    {
      items: [
        {
          id: 'gw-1',
          at: '2024-02-14T10:00:00Z',
          actor: 'a',
          action: 'queue.release',
          domain: 'olpe.de',
          before: null,
          after: null,
          reason: 'Freigabe',
          idempotencyKey: null,
        },
      ],
      nextCursor: 'c2',
    },
  ],
  'sim SpamRequest': [{ domain: 'attendorn.de', factor: 0.5, minutes: 1 }],
  'sim ClockRequest': [{ speed: 60 }, { advanceMinutes: 0, speed: 0 }],
  'sim ResetRequest': [{}],
  'sim FaultRequest': [{ target: 'inventory', mode: 'latency', rate: 0.25, ms: 1500, status: 503, phase: 'before' }],
};

const DELETE = Symbol('delete');
const replacements: unknown[] = [
  DELETE,
  null,
  'x',
  '',
  'a'.repeat(501),
  '2024-02-14T10:00:00+01:00',
  'kr-olpe',
  0,
  -1,
  1.5,
  400,
  true,
  [],
  {},
];

function* mutationsOf(root: unknown): Generator<{ where: string; value: unknown }> {
  function* walk(node: unknown, path: (string | number)[]): Generator<{ where: string; value: unknown }> {
    for (const r of replacements) {
      if (path.length === 0 && r === DELETE) continue;
      yield {
        where: `${path.join('.') || '(root)'} := ${r === DELETE ? '(deleted)' : JSON.stringify(r)}`,
        value: setAt(root, path, r),
      };
    }
    if (Array.isArray(node)) for (let i = 0; i < node.length; i++) yield* walk(node[i], [...path, i]);
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) yield* walk(v, [...path, k]);
    }
  }
  yield* walk(root, []);
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Json;
  let parent: Json | unknown[] = copy;
  for (const key of path.slice(0, -1)) parent = (parent as Json)[key as string] as Json;
  const last = path[path.length - 1]!;
  if (value !== DELETE) (parent as Json)[last as string] = value;
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete (parent as Json)[last as string];
  return copy;
}

describe('OpenAPI component schemas agree with src/contracts (zod)', () => {
  const contracts = Object.fromEntries(apis.map((n) => [n, loadContract(n)]));
  for (const [api, component, zodSchema] of pairs) {
    test(`${api} ${component}`, () => {
      const contract = contracts[api]!;
      const validate = contract.componentValidator(component);
      const ref = `#/components/schemas/${component}`;
      const samples = [
        ...collectExamples(contract.doc)
          .filter((e) => (e.schema as Json)['$ref'] === ref)
          .map((e) => e.value),
        ...(extraSamples[`${api} ${component}`] ?? []),
      ];
      assert.ok(samples.length > 0, `no example or sample for ${component}`);
      const disagreements: string[] = [];
      let checked = 0;
      for (const sample of samples) {
        assert.ok(zodSchema.safeParse(sample).success, `zod refuses the sample ${JSON.stringify(sample)}`);
        assert.ok(validate(sample), `the document refuses the sample ${JSON.stringify(sample)}`);
        for (const { where, value } of mutationsOf(sample)) {
          checked++;
          const byZod = zodSchema.safeParse(value).success;
          const byDoc = validate(value);
          if (byZod !== byDoc)
            disagreements.push(
              `${where}: zod ${byZod ? 'accepts' : 'refuses'}, document ${byDoc ? 'accepts' : 'refuses'}`,
            );
        }
      }
      assert.deepEqual(disagreements.slice(0, 20), [], `${disagreements.length} of ${checked} mutations disagree`);
    });
  }
});
