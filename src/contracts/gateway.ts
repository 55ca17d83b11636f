import { z } from 'zod';
import { ISO_DATE_TIME, isoDateTime } from './common.ts';
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

// The spam page as the HTTP client checks it: one pass of plain checks that accept exactly what
// `spamMetrics` accepts, and the zod schema only for a page that fails them, for its list of issues.
// zod's object parsing was ~30 ms of CPU per poll at 10,000 domains, more than half of a poll's budget
// (docs/decisions/spam-alerts.md); test/unit/contracts/spam-metrics-page.test.ts holds the two
// to the same verdict. Unlike zod it does not strip keys the contract does not name.
export const spamMetricsPage = z.custom<SpamMetricsWire>().superRefine((value, ctx) => {
  if (isSpamMetricsPage(value)) return;
  const checked = spamMetrics.safeParse(value);
  if (checked.success) return;
  for (const issue of checked.error.issues) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: issue.path, message: issue.message });
  }
});

export function isSpamMetricsPage(value: unknown): value is SpamMetricsWire {
  if (!isPlainObject(value)) return false;
  const { from, to, bucketMinutes, series, nextCursor } = value;
  if (!isIsoDateTime(from) || !isIsoDateTime(to) || bucketMinutes !== 1) return false;
  if (nextCursor !== null && typeof nextCursor !== 'string') return false;
  if (!Array.isArray(series)) return false;
  // Every domain of a page carries the same minutes: each distinct time string is matched once.
  let checkedAt: string | undefined;
  for (const s of series) {
    if (!isPlainObject(s) || typeof s.domain !== 'string' || !Array.isArray(s.points)) return false;
    for (const p of s.points) {
      if (!isPlainObject(p)) return false;
      if (!isCount(p.received) || !isCount(p.spam) || !isCount(p.rejected) || !isCount(p.quarantined)) return false;
      if (checkedAt === undefined || p.at !== checkedAt) {
        if (!isIsoDateTime(p.at)) return false;
        checkedAt = p.at;
      }
    }
  }
  return true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isIsoDateTime(v: unknown): v is string {
  return typeof v === 'string' && ISO_DATE_TIME.test(v);
}

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
