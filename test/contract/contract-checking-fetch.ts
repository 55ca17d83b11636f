import { type ApiName, loadContract, type OpenApiContract } from './openapi-contract.ts';

// A fetch for the clients (and for raw calls) that checks every answer of the simulator against the
// OpenAPI document of the API it came from, matched by path template. Violations are collected,
// not thrown: a throw inside fetch would look like a network error to the client and be retried.

const bases: [string, ApiName][] = [
  ['/inventory/v1', 'inventory'],
  ['/gateway/v1', 'gateway'],
  ['/sim/v1', 'sim'],
];

export interface ContractChecker {
  contracts: Record<ApiName, OpenApiContract>;
  fetch: typeof globalThis.fetch;
  /** Violations since the last call, then forgotten. */
  takeViolations(): string[];
  /** Answers checked so far, as "GET /gateway/v1/domains/{domain} 200". */
  checked: string[];
}

export function createContractChecker(): ContractChecker {
  const contracts = {
    inventory: loadContract('inventory'),
    gateway: loadContract('gateway'),
    sim: loadContract('sim'),
  } satisfies Record<ApiName, OpenApiContract>;
  const templates = Object.fromEntries(
    bases.map(([, name]) => [name, Object.keys(contracts[name].doc['paths'] as object).map(compileTemplate)]),
  ) as Record<ApiName, { route: string; re: RegExp }[]>;
  let violations: string[] = [];
  const checked: string[] = [];

  const check = (method: string, url: URL, status: number, text: string) => {
    const base = bases.find(([prefix]) => url.pathname.startsWith(`${prefix}/`));
    if (!base) {
      violations.push(`${method} ${url.pathname}: not below a documented base path`);
      return;
    }
    const [prefix, name] = base;
    const rest = url.pathname.slice(prefix.length);
    const match = templates[name].find((t) => t.re.test(rest));
    if (!match) {
      violations.push(`${method} ${url.pathname}: no path of ${name}.openapi.yaml matches`);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      violations.push(`${method} ${url.pathname} ${status}: body is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    try {
      contracts[name].assertResponse(method, match.route, status, body);
      checked.push(`${method} ${prefix}${match.route} ${status}`);
    } catch (e) {
      violations.push((e as Error).message);
    }
  };

  const fetchChecked: typeof globalThis.fetch = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const text = await res.text();
    check(method, url, res.status, text);
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  };

  return {
    contracts,
    fetch: fetchChecked,
    checked,
    takeViolations: () => {
      const out = violations;
      violations = [];
      return out;
    },
  };
}

function compileTemplate(route: string): { route: string; re: RegExp } {
  const pattern = route.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return { route, re: new RegExp(`^${pattern}$`) };
}
