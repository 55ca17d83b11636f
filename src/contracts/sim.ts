import { z } from 'zod';
import { regionId } from './inventory.ts';

// Simulator controls under /sim/v1 (not part of either provider's API).
export const scenarioName = z.enum(['feb-2024', 'all-patched', 'empty', 'land']);
export const resetRequest = z.object({ scenario: scenarioName.default('feb-2024'), seed: z.number().int().optional() });
export const clockRequest = z
  .object({
    advanceMinutes: z
      .number()
      .min(0)
      .max(60 * 24 * 30)
      .optional(),
    speed: z.number().min(0).max(10_000).optional(),
  })
  .refine((b) => b.advanceMinutes !== undefined || b.speed !== undefined, {
    message: 'advanceMinutes or speed required',
  });
export const clockState = z.object({
  now: z.string(),
  speed: z.number(),
  scenario: scenarioName,
  seed: z.number().int(),
});
export const spamRequest = z
  .object({
    domain: z.string().optional(),
    region: regionId.optional(),
    factor: z.number().min(0).max(1000),
    minutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 7),
  })
  .refine((b) => (b.domain === undefined) !== (b.region === undefined), { message: 'exactly one of domain, region' });
// mode none clears faults of the target. phase (gateway mutations): before = fail without applying,
// after = apply the change, then fail the response (the lost-answer case idempotency exists for).
export const faultRequest = z.object({
  target: z.enum(['inventory', 'gateway']),
  mode: z.enum(['latency', 'error', 'timeout', 'none']),
  rate: z.number().min(0).max(1).default(1),
  ms: z.number().int().min(0).max(120_000).optional(),
  status: z.number().int().min(400).max(599).optional(),
  phase: z.enum(['before', 'after']).default('before'),
  count: z.number().int().positive().optional(), // stop after this many injected faults
});
