import { parseArgs } from 'node:util';
import { type CheckResult, type ConformanceCheck, SkipCheck } from './conformance-check.ts';
import { type ConformanceClient, createConformanceClient } from './conformance-client.ts';
import { gatewayChecks } from './gateway-checks.ts';
import { inventoryChecks } from './inventory-checks.ts';
import { loadOpenApiDocument } from './openapi-document.ts';

// `lagebot conformance`: runs the checks against the given implementations, prints a table, and
// answers 0 when every check passed or was skipped, 1 when one failed, 2 for a wrong command line.

export const conformanceUsage = `Usage: lagebot conformance --gateway <url> [--gateway-token <t>] [--inventory <url>] [--inventory-token <t>]
                           [--allow-changes --domain <test domain>]
  <url> is the API base, e.g. http://127.0.0.1:3979/gateway/v1. Read-only unless --allow-changes.`;

export interface ConformanceOptions {
  gateway?: { url: string; token?: string };
  inventory?: { url: string; token?: string };
  changeDomain?: string;
  fetch?: typeof fetch;
}

export async function runConformanceChecks(opts: ConformanceOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const runAll = async (checks: ConformanceCheck[], client: ConformanceClient) => {
    for (const check of checks) {
      try {
        const detail = await check.run(client);
        results.push(
          detail instanceof SkipCheck
            ? { api: check.api, name: check.name, outcome: 'skip', detail: detail.reason }
            : { api: check.api, name: check.name, outcome: 'pass', detail },
        );
      } catch (error) {
        results.push({ api: check.api, name: check.name, outcome: 'fail', detail: describe(error) });
      }
    }
  };
  if (opts.gateway) {
    const client = createConformanceClient(
      opts.gateway.url,
      opts.gateway.token,
      loadOpenApiDocument('gateway'),
      opts.fetch,
    );
    await runAll(gatewayChecks({ token: opts.gateway.token, changeDomain: opts.changeDomain }), client);
  }
  if (opts.inventory) {
    const doc = loadOpenApiDocument('inventory');
    await runAll(
      inventoryChecks({ token: opts.inventory.token }),
      createConformanceClient(opts.inventory.url, opts.inventory.token, doc, opts.fetch),
    );
  }
  return results;
}

export function formatConformanceTable(results: readonly CheckResult[]): string {
  const rows = [
    ['api', 'check', 'result', 'detail'],
    ...results.map((r) => [r.api, r.name, r.outcome.toUpperCase(), r.detail]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < 3 ? c.padEnd(widths[i] as number) : c))
      .join('  ')
      .trimEnd();
  const failed = results.filter((r) => r.outcome === 'fail').length;
  const passed = results.filter((r) => r.outcome === 'pass').length;
  return [
    line(rows[0] as string[]),
    line(widths.map((w) => '-'.repeat(w)).concat('------')),
    ...rows.slice(1).map(line),
    '',
    `${passed} passed, ${failed} failed, ${results.length - passed - failed} skipped`,
  ].join('\n');
}

export async function runConformance(argv: string[], fetchImpl?: typeof fetch): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        gateway: { type: 'string' },
        'gateway-token': { type: 'string' },
        inventory: { type: 'string' },
        'inventory-token': { type: 'string' },
        'allow-changes': { type: 'boolean' },
        domain: { type: 'string' },
      },
    }));
  } catch (error) {
    console.error(`${describe(error)}\n${conformanceUsage}`);
    return 2;
  }
  const gateway = values.gateway as string | undefined;
  const inventory = values.inventory as string | undefined;
  const domain = values.domain as string | undefined;
  if (!gateway && !inventory) {
    console.error(`conformance: give --gateway and/or --inventory\n${conformanceUsage}`);
    return 2;
  }
  if (Boolean(values['allow-changes']) !== Boolean(domain) || (domain && !gateway)) {
    console.error(`conformance: --allow-changes and --domain go together, with --gateway\n${conformanceUsage}`);
    return 2;
  }
  const results = await runConformanceChecks({
    gateway: gateway ? { url: gateway, token: values['gateway-token'] as string | undefined } : undefined,
    inventory: inventory ? { url: inventory, token: values['inventory-token'] as string | undefined } : undefined,
    changeDomain: domain,
    fetch: fetchImpl,
  });
  console.log(formatConformanceTable(results));
  return results.some((r) => r.outcome === 'fail') ? 1 : 0;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
