import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { blockMode, flowState } from '../contracts/gateway.ts';
import { regionId } from '../contracts/inventory.ts';

// The gateway agent's domains file (YAML, or JSON — which is YAML): every mail domain it controls with
// its Kreis and Verband, and the state a domain gets the first time the agent sees it. Validated with
// zod; an error names the file, the line and what is expected, so a typo never starts a gateway.

const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'expected a lower-case mail domain');

export const gatewayDomainsFile = z
  .object({
    initial: z
      .object({ inbound: flowState.default('held'), outbound: flowState.default('held') })
      .strict()
      .default({}),
    domains: z
      .array(
        z
          .object({
            domain: domainName,
            municipality: regionId.nullable(),
            kreis: regionId,
            verband: regionId,
            blockMode: blockMode.default('hold'),
          })
          .strict(),
      )
      .min(1, 'expected at least one domain'),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.domains.forEach((d, i) => {
      if (seen.has(d.domain)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['domains', i, 'domain'],
          message: `${d.domain} is listed twice`,
        });
      }
      seen.add(d.domain);
    });
  });

export type GatewayDomains = z.infer<typeof gatewayDomainsFile>;
export type ConfiguredDomain = GatewayDomains['domains'][number];

export class DomainsFileError extends Error {}

export function loadGatewayDomains(path: string): GatewayDomains {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DomainsFileError(`${path}: cannot read the domains file (${(error as Error).message})`);
  }
  return parseGatewayDomains(text, path);
}

export function parseGatewayDomains(text: string, where: string): GatewayDomains {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0] as (typeof doc.errors)[number];
    const at = lines.linePos(e.pos[0]);
    throw new DomainsFileError(`${where}:${at.line}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
  }
  const result = gatewayDomainsFile.safeParse(doc.toJS());
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.ZodIssue;
  throw new DomainsFileError(
    `${where}:${lineOf(doc, lines, issue.path)}: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
  );
}

// The line of the deepest node of `path` that exists in the document (for a missing key: its parent).
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: (string | number)[]): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number] } | null)?.range?.[0] ?? 0;
  for (const key of path) {
    let next: unknown;
    if (isMap(node)) next = node.get(key, true);
    else if (isSeq(node)) next = node.get(Number(key), true);
    if (next === undefined || next === null) break;
    node = next;
    offset = (next as { range?: [number] }).range?.[0] ?? offset;
  }
  return lines.linePos(offset).line;
}
