// What must be zero for spam alerts after a chaos run with replicas (docs/decisions/spam-alerts.md:
// an alert is late, never lost, and a subscribed conversation gets it once). Pure: it compares the
// alert cards the fake Bot Connector received, the deliveries the store recorded and the spam waves
// the run injected.

export interface AlertPost {
  alertId: string;
  conversationId: string;
}

export interface AlertRecord {
  id: string;
  /** The region the alert is told for (StoredAlert.data.group.id). */
  groupId: string;
}

export interface AlertAnomalyInput {
  /** Every alert card POSTed (not updated) into a conversation. */
  posts: readonly AlertPost[];
  /** The deliveries the store recorded, for the conversations the run subscribed. */
  deliveries: readonly AlertPost[];
  alerts: readonly AlertRecord[];
  /** Each injected wave: the region it hit and the conversations subscribed above it. */
  waves: ReadonlyArray<{ regionId: string; conversationIds: readonly string[] }>;
}

export interface AlertAnomalies {
  /** The same alert posted more than once into one conversation. */
  twice: Array<{ alertId: string; conversationId: string; posts: number }>;
  /** A recorded delivery without a card, or a wave whose subscribed conversation got no alert for it. */
  missing: Array<{ alertId: string | null; conversationId: string; regionId?: string }>;
}

export function countAlertAnomalies(input: AlertAnomalyInput): AlertAnomalies {
  const key = (p: AlertPost) => `${p.alertId}\u0000${p.conversationId}`;
  const posted = new Map<string, number>();
  for (const p of input.posts) posted.set(key(p), (posted.get(key(p)) ?? 0) + 1);
  const twice: AlertAnomalies['twice'] = [];
  for (const p of input.posts) {
    const n = posted.get(key(p))!;
    if (n > 1 && !twice.some((t) => t.alertId === p.alertId && t.conversationId === p.conversationId)) {
      twice.push({ alertId: p.alertId, conversationId: p.conversationId, posts: n });
    }
  }
  const missing: AlertAnomalies['missing'] = [];
  for (const d of input.deliveries) {
    if (!posted.has(key(d))) missing.push({ alertId: d.alertId, conversationId: d.conversationId });
  }
  for (const wave of input.waves) {
    const ids = new Set(input.alerts.filter((a) => a.groupId === wave.regionId).map((a) => a.id));
    for (const conversationId of wave.conversationIds) {
      if (!input.posts.some((p) => p.conversationId === conversationId && ids.has(p.alertId))) {
        missing.push({ alertId: null, conversationId, regionId: wave.regionId });
      }
    }
  }
  return { twice, missing };
}
