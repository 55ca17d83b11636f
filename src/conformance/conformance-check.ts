import type { ConformanceClient } from './conformance-client.ts';

// One named check of the conformance run. `run` returns a short detail for the table, throws when the
// implementation does not behave as the document says, or returns a SkipCheck when it cannot apply.

export interface ConformanceCheck {
  api: 'gateway' | 'inventory';
  name: string;
  run(client: ConformanceClient): Promise<string | SkipCheck>;
}

export class SkipCheck {
  constructor(readonly reason: string) {}
}

export interface CheckResult {
  api: string;
  name: string;
  outcome: 'pass' | 'fail' | 'skip';
  detail: string;
}

export class CheckFailed extends Error {}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function expectError(answer: { status: number; body: unknown }, status: number, code: string): void {
  const got = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  expect(answer.status === status && got === code, `expected ${status} ${code}, got ${answer.status} ${String(got)}`);
}
