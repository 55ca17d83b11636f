import { type DestinationStream, pino } from 'pino';
import type { Logger } from '../domain/logger.ts';

// Paths pino blanks out wherever they appear in a log line: tokens, secrets and auth headers must
// never reach the log (ENGINEERING.md, issue 8).
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

export function createLogger(level: string, destination?: DestinationStream): PinoLogger {
  const base = pino(
    { level, base: { app: 'lagebot' }, redact: { paths: redactPaths, censor: '[redacted]' } },
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
