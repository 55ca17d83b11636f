import { type DestinationStream, pino } from 'pino';
import type { Logger } from '../domain/logger.ts';

// Paths pino blanks out wherever they appear in a log line: tokens, secrets and auth headers must
// never reach the log (docs/decisions/hardening.md).
export const redactPaths = [
  'authorization',
  'token',
  'password',
  'secret',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.appPassword',
  '*.MicrosoftAppPassword',
  'headers.authorization',
  'req.headers.authorization',
  '*.headers.authorization',
];

export interface PinoLogger extends Logger {
  child(bindings: Record<string, unknown>): PinoLogger;
}

// pino's redact paths match fixed depths and exact key names; a config object or an error that
// carries the request it made hides secrets deeper and spelled otherwise. Every log line's fields are
// therefore also scrubbed by key name, at any depth.
const SECRET_KEY = /(token|secret|password|passwd|authorization|api[-_]?key|cookie|credential)/i;
const MAX_DEPTH = 8;

export function scrubSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value) || depth > MAX_DEPTH) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  // An Error's name, message and stack are not own enumerable properties: copy them explicitly.
  const source: object =
    value instanceof Error
      ? Object.assign({ name: value.name, message: value.message, stack: value.stack }, value as object)
      : value;
  for (const [key, v] of Object.entries(source)) {
    out[key] =
      SECRET_KEY.test(key) && v !== null && v !== undefined && typeof v !== 'boolean'
        ? '[redacted]'
        : scrubSecrets(v, depth + 1, seen);
  }
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): PinoLogger {
  const base = pino(
    {
      level,
      base: { app: 'lagebot' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      formatters: { log: (obj) => scrubSecrets(obj) as Record<string, unknown> },
    },
    destination ?? pino.destination(1),
  );
  return wrap(base);
}

function wrap(p: pino.Logger): PinoLogger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (bindings) => wrap(p.child(bindings)),
  };
}
