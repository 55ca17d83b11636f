import { AsyncLocalStorage } from 'node:async_hooks';

// botbuilder reports refused tokens with console.error, outside our JSON log and with stack traces
// (botframework-connector/lib/auth/jwtTokenExtractor.js:162 and :165: every bad signature, audience or
// endorsement under a published key), so unauthenticated traffic floods stderr (issue 13). While it
// authenticates a request, whatever it writes there is captured for that request alone — other requests
// running at the same time keep their console — and the caller puts it into its one log line.

const captures = new AsyncLocalStorage<string[]>();
let original: typeof console.error = console.error;

function firstLine(args: unknown[]): string {
  const text = args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(' ');
  return text.split('\n', 1)[0]!.slice(0, 300);
}

function capturingError(...args: unknown[]): void {
  const sink = captures.getStore();
  if (sink) sink.push(firstLine(args));
  else original.apply(console, args);
}

// Installed on first use, and again if something (a test's mock) replaced console.error since.
function install(): void {
  if (console.error === capturingError) return;
  original = console.error;
  console.error = capturingError;
}

export type Captured<T> =
  | { ok: true; value: T; captured: string[] }
  | { ok: false; error: unknown; captured: string[] };

/** Runs fn; what it (and everything it awaits) writes with console.error is returned instead of printed. */
export async function captureConsoleErrors<T>(fn: () => Promise<T>): Promise<Captured<T>> {
  install();
  const captured: string[] = [];
  try {
    return { ok: true, value: await captures.run(captured, fn), captured };
  } catch (error) {
    return { ok: false, error, captured };
  }
}
