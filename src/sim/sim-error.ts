// An expected failure of a simulated API call; the server turns it into the contract's error
// body { error: { code, message, details? } } with `status`.
export class SimError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'SimError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function notFound(code: string, message: string, details?: unknown): SimError {
  return new SimError(404, code, message, details);
}

export function badRequest(code: string, message: string, details?: unknown): SimError {
  return new SimError(400, code, message, details);
}
