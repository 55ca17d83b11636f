import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { projectRoot } from '../project-root.ts';

// One api/*.openapi.yaml, able to say whether an answer matches what the document declares for an
// operation and status. ajv runs in strict mode so an OpenAPI 3.0 habit (`nullable: true`) in the
// document fails loudly instead of being ignored; `strictRequired` is off because
// `anyOf: [{required: [inbound]}, {required: [outbound]}]` is the standard "at least one of".

// ajv-formats is CommonJS; under NodeNext its default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;

type Json = Record<string, unknown>;
export type ApiName = 'inventory' | 'gateway';

export interface OpenApiDocument {
  name: ApiName;
  /** null when the body matches; else what is wrong, in one paragraph. */
  problemWith(method: string, route: string, status: number, body: unknown): string | null;
}

export function loadOpenApiDocument(
  name: ApiName,
  file = join(projectRoot, 'api', `${name}.openapi.yaml`),
): OpenApiDocument {
  const doc = parse(readFileSync(file, 'utf8')) as Json;
  const base = `urn:lagebot:${name}`;
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  const components = (doc['components'] ?? {}) as Json;
  ajv.addSchema({ $id: base, $defs: rewriteRefs(components['schemas'] ?? {}, base) });
  const validators = new Map<unknown, ValidateFunction>();
  const paths = (doc['paths'] ?? {}) as Record<string, Json>;

  return {
    name,
    problemWith(method, route, status, body) {
      const op = `${method.toUpperCase()} ${route}`;
      const operation = paths[route]?.[method.toLowerCase()] as Json | undefined;
      if (!operation) return `${op} is not in the ${name} document`;
      const responses = operation['responses'] as Json;
      const declared = (responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default']) as
        | Json
        | undefined;
      if (!declared) return `${op}: status ${status} is not documented`;
      const response = resolve(doc, declared);
      const schema = ((response['content'] as Json | undefined)?.['application/json'] as Json | undefined)?.['schema'];
      if (schema === undefined) return null;
      let validate = validators.get(schema);
      if (!validate) {
        validate = ajv.compile(rewriteRefs(schema, base) as Json);
        validators.set(schema, validate);
      }
      if (validate(body)) return null;
      return `${op} ${status}: body does not match the document: ${ajv.errorsText(validate.errors, { separator: '; ' })}`;
    },
  };
}

function resolve(doc: Json, node: Json): Json {
  let current = node;
  for (let hops = 0; typeof current['$ref'] === 'string' && hops < 10; hops++) {
    let target: unknown = doc;
    for (const part of (current['$ref'] as string).slice(2).split('/')) {
      target = (target as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    current = (target ?? {}) as Json;
  }
  return current;
}

// The document's schemas live under components/schemas; ajv sees them as $defs of one schema resource
// per document, so every "#/components/schemas/X" becomes "<urn>#/$defs/X".
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
