import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

// Every metric is named lagebot_… (docs/decisions/hardening.md). One registry per bot instance so tests that start
// several bots in one process do not share counters.
export function createMetrics() {
  const registry = new Registry();
  // Node's own metrics keep their names behind the prefix: lagebot_process_resident_memory_bytes,
  // lagebot_nodejs_heap_size_used_bytes, … (a prefix 'lagebot_process_' doubled the first into process_process_).
  collectDefaultMetrics({ register: registry, prefix: 'lagebot_' });
  return {
    registry,
    commands: new Counter({
      name: 'lagebot_commands_total',
      help: 'Chat commands by type and outcome',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
    }),
    replyLatency: new Histogram({
      name: 'lagebot_reply_latency_seconds',
      help: 'Time from receiving an activity to finishing its turn',
      labelNames: ['kind'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rateLimitDropped: new Counter({
      name: 'lagebot_rate_limit_dropped_total',
      help: 'Activities over the per-user limit dropped without an answer (one notice per user and minute is sent)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    cardActions: new Counter({
      name: 'lagebot_card_actions_total',
      help: 'Adaptive Card actions by verb and outcome',
      labelNames: ['verb', 'outcome'] as const,
      registers: [registry],
    }),
    upstreamCalls: new Counter({
      name: 'lagebot_upstream_calls_total',
      help: 'Calls to the back-end APIs by service and outcome',
      labelNames: ['service', 'outcome'] as const,
      registers: [registry],
    }),
    requestsByState: new Gauge({
      name: 'lagebot_requests',
      help: 'Release/block requests by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'lagebot_alerts_total',
      help: 'Spam alerts opened, delivered, failed',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    sendQueueDepth: new Gauge({
      name: 'lagebot_send_queue_depth',
      help: 'Proactive messages waiting to be sent',
      registers: [registry],
    }),
    leaseHolder: new Gauge({
      name: 'lagebot_lease_holder',
      help: '1 when this replica holds the named lease',
      labelNames: ['lease'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
