import { z } from 'zod';
import { isoDateTime } from './common.ts';
import { regionId } from './inventory.ts';

// Gateway-control API, base path /gateway/v1. See api/gateway.openapi.yaml.

// open: mail flows; blocked: external mail is rejected; held: external mail is accepted and queued.
export const flowState = z.enum(['open', 'blocked', 'held']);
// defer: new mail of a blocked direction gets a temporary 4xx, so senders retry (the gateway agent on Postfix).
export const blockMode = z.enum(['hold', 'defer', 'reject']);
export const direction = z.enum(['inbound', 'outbound']);

export const domainState = z.object({
  domain: z.string(),
  municipality: regionId.nullable(), // kommune id; null for a Kreis administration's own domain
  kreis: regionId,
  verband: regionId,
  inbound: flowState,
  outbound: flowState,
  blockMode, // what a block does to new mail on this domain
  reason: z.string().nullable(),
  changedBy: z.string().nullable(),
  changedAt: isoDateTime.nullable(),
  version: z.number().int().positive(),
});
export const domainList = z.object({ items: z.array(domainState) });

// PATCH /domains/{domain}  headers: Idempotency-Key (required), If-Match: "<version>" (optional)
export const domainChangeRequest = z
  .object({
    inbound: flowState.optional(),
    outbound: flowState.optional(),
    reason: z.string().min(3).max(500),
    actor: z.string().min(1).max(200),
  })
  .refine((b) => b.inbound !== undefined || b.outbound !== undefined, { message: 'inbound or outbound required' });
export const domainChangeResult = z.object({
  domain: domainState,
  changed: z.boolean(), // false when the domain already was in the requested state
  replayed: z.boolean(), // true when this answer is a replay for a known Idempotency-Key
});

// POST /changes  header: Idempotency-Key (required) — one key per bulk call; per domain the
// provider derives "<key>:<domain>".
export const selector = z
  .object({
    domains: z.array(z.string()).optional(),
    municipality: regionId.optional(),
    kreis: regionId.optional(),
    verband: regionId.optional(),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), { message: 'empty selector' });
export const bulkChangeRequest = z.object({
  selector,
  inbound: flowState.optional(),
  outbound: flowState.optional(),
  reason: z.string().min(3).max(500),
  actor: z.string().min(1).max(200),
});
export const bulkChangeResult = z.object({
  results: z.array(
    z.object({
      domain: z.string(),
      status: z.enum(['changed', 'unchanged', 'failed']),
      version: z.number().int().positive().nullable(),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
    }),
  ),
  replayed: z.boolean(),
});

// GET /queues?domain=&kreis=&verband=
export const heldQueue = z.object({
  domain: z.string(),
  direction,
  held: z.number().int().nonnegative(),
  oldestAt: isoDateTime.nullable(),
});
export const queueList = z.object({ items: z.array(heldQueue) });
// POST /queues/{domain}/{direction}/release  header Idempotency-Key; body {actor, reason}
export const queueReleaseResult = z.object({ domain: z.string(), direction, released: z.number().int().nonnegative() });

// GET /metrics/spam?from=&to=&domain=a,b|kreis=|verband=&limit=&cursor=   (1-minute buckets,
// range at most 24 h; paginated by domain, at most 1000 domains a page)
export const spamPoint = z.object({
  at: isoDateTime, // bucket start
  received: z.number().int().nonnegative(),
  spam: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  quarantined: z.number().int().nonnegative(),
});
export const spamSeries = z.object({ domain: z.string(), points: z.array(spamPoint) });
export const spamMetrics = z.object({
  from: isoDateTime,
  to: isoDateTime,
  bucketMinutes: z.literal(1),
  series: z.array(spamSeries),
  nextCursor: z.string().nullable(),
});

// GET /audit?since=&limit=&cursor=
export const gatewayAuditEntry = z.object({
  id: z.string(),
  at: isoDateTime,
  actor: z.string(),
  action: z.enum(['domain.change', 'queue.release']),
  domain: z.string(),
  before: z.object({ inbound: flowState, outbound: flowState }).nullable(),
  after: z.object({ inbound: flowState, outbound: flowState }).nullable(),
  reason: z.string(),
  idempotencyKey: z.string().nullable(),
});
export const gatewayAuditPage = z.object({ items: z.array(gatewayAuditEntry), nextCursor: z.string().nullable() });

export type DomainStateWire = z.infer<typeof domainState>;
export type SpamMetricsWire = z.infer<typeof spamMetrics>;
