import { isLagebotError } from './errors.ts';

// The one way an error goes into a log line (`{ err: describeError(error) }`). A coded error's message
// is already the instruction for the operator, so it carries its code and no stack; anything else is
// unexpected and keeps its stack, because that is what someone will need to find it.
export function describeError(error: unknown): Record<string, unknown> {
  if (isLagebotError(error)) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(code === undefined ? {} : { code }), stack: error.stack };
  }
  return { message: String(error) };
}

/** The error's message alone, for where a short text is stored or shown (an outbox row, a readiness reason). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
