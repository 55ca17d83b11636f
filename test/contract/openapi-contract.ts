import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

// Loads an api/*.openapi.yaml and validates bodies against the schema the document itself
// declares for an operation and status, with ajv in strict mode (so an OpenAPI 3.0 habit such as
// `nullable: true` fails loudly instead of being ignored). Records which operations were seen, so
// a test can assert that every documented operation was exercised.

// ajv-formats is CommonJS; under NodeNext its default import is module.exports, whose `default`
// property is the plugin.
const addFormats = addFormatsModule.default;

type Json = Record<string, unknown>;
export type ApiName = 'inventory' | 'gateway' | 'sim';

const methods = ['get', 'put', 'post', 'patch', 'delete'] as const;

export interface OpenApiContract {
  name: ApiName;
  doc: Json;
  /** "GET /domains/{domain}" for every documented operation. */
  operations: string[];
  /** Operations a body was checked for, with the statuses seen. */
  seen: Map<string, Set<number>>;
  validatorFor(schema: unknown): ValidateFunction;
  /** The JSON schema of a component, with refs resolved by ajv. */
  componentValidator(name: string): ValidateFunction;
  /** Assert that the body matches what the document declares for this operation and status. */
  assertResponse(method: string, route: string, status: number, body: unknown): void;
}

export function apiPath(name: ApiName): string {
  return fileURLToPath(new URL(`../../api/${name}.openapi.yaml`, import.meta.url));
}

export function loadContract(name: ApiName): OpenApiContract {
  const doc = parse(readFileSync(apiPath(name), 'utf8')) as Json;
  const base = `urn:lagebot:${name}`;
  // strictRequired is off: `anyOf: [{ required: [inbound] }, { required: [outbound] }]` is the
  // standard way to say "at least one of", and ajv would demand the properties be repeated there.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  const components = (doc['components'] ?? {}) as Json;
  ajv.addSchema({ $id: base, $defs: rewriteRefs(components['schemas'] ?? {}, base) });

  const validators = new Map<unknown, ValidateFunction>();
  const validatorFor = (schema: unknown): ValidateFunction => {
    let v = validators.get(schema);
    if (!v) {
      v = ajv.compile(rewriteRefs(schema, base) as Json);
      validators.set(schema, v);
    }
    return v;
  };
  const paths = (doc['paths'] ?? {}) as Record<string, Json>;
  const operations = Object.entries(paths).flatMap(([route, item]) =>
    methods.filter((m) => item[m] !== undefined).map((m) => `${m.toUpperCase()} ${route}`),
  );
  const seen = new Map<string, Set<number>>();

  return {
    name,
    doc,
    operations,
    seen,
    validatorFor,
    componentValidator: (component) => {
      assert.ok((components['schemas'] as Json)[component], `${name}: no component schema ${component}`);
      return validatorFor({ $ref: `#/components/schemas/${component}` });
    },
    assertResponse(method, route, status, body) {
      const op = `${method.toUpperCase()} ${route}`;
      const operation = paths[route]?.[method.toLowerCase()] as Json | undefined;
      assert.ok(operation, `${name}: ${op} is not documented`);
      const responses = operation['responses'] as Json;
      let response = (responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default']) as
        | Json
        | undefined;
      assert.ok(response, `${name}: ${op} does not document status ${status}`);
      response = resolve(doc, response);
      const schema = ((response['content'] as Json | undefined)?.['application/json'] as Json | undefined)?.['schema'];
      assert.ok(schema, `${name}: ${op} ${status} has no application/json schema`);
      const validate = validatorFor(schema);
      if (!validate(body)) {
        assert.fail(
          `${name}: ${op} ${status} body does not match the document:\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n` +
            JSON.stringify(body).slice(0, 2000),
        );
      }
      const statuses = seen.get(op) ?? new Set<number>();
      statuses.add(status);
      seen.set(op, statuses);
    },
  };
}

/** Follow a local $ref (#/components/...) of the OpenAPI document, not of a schema. */
export function resolve(doc: Json, node: Json): Json {
  let current = node;
  for (let hops = 0; typeof current['$ref'] === 'string'; hops++) {
    assert.ok(hops < 10, `ref loop at ${String(current['$ref'])}`);
    const ref = current['$ref'] as string;
    assert.ok(ref.startsWith('#/'), `only local refs are supported: ${ref}`);
    let target: unknown = doc;
    for (const part of ref.slice(2).split('/')) target = (target as Json | undefined)?.[unescapePointer(part)];
    assert.ok(target && typeof target === 'object', `unresolved ref ${ref}`);
    current = target as Json;
  }
  return current;
}

function unescapePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

// The document's schemas live under components/schemas; ajv sees them as $defs of one schema
// resource per document, so every "#/components/schemas/X" becomes "<urn>#/$defs/X".
function rewriteRefs(node: unknown, base: string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, base));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
        return [k, `${base}#/$defs/${v.slice('#/components/schemas/'.length)}`];
      }
      return [k, rewriteRefs(v, base)];
    }),
  );
}

/** Every example in the document with the schema it illustrates, named by where it sits. */
export function collectExamples(doc: Json): { where: string; schema: unknown; value: unknown }[] {
  const out: { where: string; schema: unknown; value: unknown }[] = [];
  const fromHolder = (where: string, holder: Json, schema: unknown) => {
    if (schema === undefined) return;
    if ('example' in holder) out.push({ where, schema, value: holder['example'] });
    for (const [key, ex] of Object.entries((holder['examples'] ?? {}) as Json)) {
      const example = resolve(doc, ex as Json);
      out.push({ where: `${where} examples.${key}`, schema, value: example['value'] });
    }
  };
  const fromContent = (where: string, content: unknown) => {
    for (const [type, media] of Object.entries((content ?? {}) as Json)) {
      fromHolder(`${where} ${type}`, media as Json, (media as Json)['schema']);
    }
  };
  const fromParameters = (where: string, params: unknown) => {
    for (const p of (params ?? []) as Json[]) {
      const param = resolve(doc, p);
      fromHolder(`${where} parameter ${String(param['name'])}`, param, param['schema']);
    }
  };
  for (const [route, item] of Object.entries((doc['paths'] ?? {}) as Record<string, Json>)) {
    fromParameters(route, item['parameters']);
    for (const m of methods) {
      const op = item[m] as Json | undefined;
      if (!op) continue;
      const where = `${m.toUpperCase()} ${route}`;
      fromParameters(where, op['parameters']);
      const body = op['requestBody'] ? resolve(doc, op['requestBody'] as Json) : undefined;
      if (body) fromContent(`${where} requestBody`, body['content']);
      for (const [status, r] of Object.entries((op['responses'] ?? {}) as Json)) {
        const response = resolve(doc, r as Json);
        fromContent(`${where} ${status}`, response['content']);
        for (const [h, header] of Object.entries((response['headers'] ?? {}) as Json)) {
          const resolved = resolve(doc, header as Json);
          fromHolder(`${where} ${status} header ${h}`, resolved, resolved['schema']);
        }
      }
    }
  }
  return out;
}
