import { datetimeRegex, z } from 'zod';

// Wire types shared by the simulator (provider side) and the HTTP clients (consumer side).
// The published contract is api/*.openapi.yaml; contract tests check the simulator's real
// responses against those documents with ajv, so sharing these schemas cannot hide a drift.

// What z.string().datetime({ offset: true }) accepts, with the pattern compiled once: zod 3 builds
// that RegExp anew on every check, which was most of the parse time of a 10,000-domain spam page.
export const ISO_DATE_TIME = datetimeRegex({ offset: true, local: false, precision: null });
export const isoDateTime = z.string().regex(ISO_DATE_TIME, 'Invalid datetime');

export const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
  requestId: z.string().optional(),
});
export type ErrorBody = z.infer<typeof errorBody>;

export const health = z.object({ status: z.literal('ok'), time: isoDateTime, version: z.string() });
export type Health = z.infer<typeof health>;

export function page<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable(), total: z.number().int().nonnegative() });
}
