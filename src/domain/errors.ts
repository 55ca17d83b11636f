// One place for every coded error. Inside the code we throw/return codes; at the edges (chat,
// logs, CLI) the code is turned into an instruction a person can act on.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_REJECTED'
  | 'UPSTREAM_CONFLICT'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'NOT_FOUND'
  | 'STORE_CONFLICT'
  | 'STORE_UNAVAILABLE'
  | 'INVALID_INPUT'
  | 'FORBIDDEN';

export class LagebotError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LagebotError';
    this.code = code;
    this.details = details;
  }
}

export function isLagebotError(e: unknown, code?: ErrorCode): e is LagebotError {
  return e instanceof LagebotError && (code === undefined || e.code === code);
}
