// Bot Framework tokens always carry `exp` and `nbf`, but jsonwebtoken (under botbuilder) accepts a token
// without `exp` as valid for ever, and allows `nbf` up to botbuilder's clock tolerance in the future. A
// token signed by a trusted key but without an expiry is refused here, before botbuilder sees it,
// whatever the library does (issue 13); so are expired tokens and those not valid yet, which also keeps
// botbuilder from printing their stack traces.

// botbuilder's clock tolerance (botframework-connector/lib/auth/parameterizedBotFrameworkAuthentication.js:342).
export const CLOCK_SKEW_SECONDS = 300;

export type TokenTimeProblem = 'no_expiry' | 'expired' | 'not_yet_valid' | 'unreadable';

/**
 * What is wrong with the times of the bearer token in an Authorization header, or null when they are
 * fine or there is no bearer JWT at all (then botbuilder refuses the request itself).
 */
export function checkTokenTimes(authorization: string, nowMs: number): TokenTimeProblem | null {
  const [scheme, token, ...rest] = authorization.trim().split(/\s+/);
  if (scheme !== 'Bearer' || !token || rest.length > 0) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return 'unreadable';
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return 'unreadable';
  const { exp, nbf } = claims as { exp?: unknown; nbf?: unknown };
  const now = nowMs / 1000;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'no_expiry';
  if (exp + CLOCK_SKEW_SECONDS < now) return 'expired';
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) return 'unreadable';
  if (typeof nbf === 'number' && nbf - CLOCK_SKEW_SECONDS > now) return 'not_yet_valid';
  return null;
}
