import type { OpenApiDocument } from './openapi-document.ts';

// Calls one API and checks every answer against its OpenAPI document as it arrives: a body that does
// not match fails the check that made the call, naming the operation.

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface ConformanceClient {
  call(
    method: 'GET' | 'PATCH' | 'POST',
    route: string,
    opts?: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: unknown;
      headers?: Record<string, string>;
      token?: string | null;
    },
  ): Promise<ApiAnswer>;
}

export class ContractViolation extends Error {}

export function createConformanceClient(
  baseUrl: string,
  token: string | undefined,
  doc: OpenApiDocument,
  fetchImpl: typeof fetch = fetch,
): ConformanceClient {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async call(method, route, opts = {}) {
      let path = route;
      for (const [k, v] of Object.entries(opts.params ?? {})) path = path.replace(`{${k}}`, encodeURIComponent(v));
      const qs = new URLSearchParams(opts.query ?? {}).toString();
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
      const bearer = opts.token === undefined ? token : opts.token;
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      let payload: string | undefined;
      if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      }
      const res = await fetchImpl(`${base}${path}${qs ? `?${qs}` : ''}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new ContractViolation(`${method} ${route} ${res.status}: the answer is not JSON: ${text.slice(0, 120)}`);
      }
      const problem = doc.problemWith(method, route, res.status, body);
      if (problem) throw new ContractViolation(problem);
      return { status: res.status, headers: res.headers, body };
    },
  };
}
