import { z } from 'zod';
import type { MentionedPerson } from '../domain/store-port.ts';

// What an alert row stores (StoredAlert.data) and every card of the alert is rendered from: the
// language-free view of a spike. Written by the delivery, read back on every send and update, so it is
// parsed, not trusted. Version 1 (until December 2026) named the group "kreis" and its parent
// "verband"; it is read as version 2 so alerts open across an upgrade keep their cards.

const flowState = z.enum(['open', 'blocked', 'held']);
const named = z.object({ id: z.string(), name: z.string() });

const common = {
  kind: z.enum(['spike', 'test']),
  lang: z.enum(['de', 'en']),
  domains: z.array(z.string()),
  inbound: z.record(flowState),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  currentRate: z.number(),
  baselineRate: z.number(),
  factor: z.number(),
  peakFactor: z.number(),
  foldedInto: named.nullable(),
  series: z.array(z.object({ at: z.string(), value: z.number(), baseline: z.number() })),
  // Subscription scope ids that receive this alert, and the scope ids whose mute silences it.
  audience: z.array(z.string()),
  muteScopes: z.array(z.string()),
  updatedAt: z.string(),
};

const alertDataV2 = z.object({
  v: z.literal(2),
  ...common,
  scope: z.object({ id: z.string(), kind: z.enum(['domain', 'group']), name: z.string() }),
  // The region whose domains the wave is told for, and the region above it (null at the top).
  group: named,
  within: named.nullable(),
});

const alertDataV1 = z
  .object({
    v: z.literal(1),
    ...common,
    scope: z.object({ id: z.string(), kind: z.enum(['domain', 'kreis']), name: z.string() }),
    kreis: named,
    verband: named,
  })
  .transform(
    ({ v: _v, kreis, verband, scope, ...rest }): AlertData => ({
      v: 2,
      ...rest,
      scope: { ...scope, kind: scope.kind === 'kreis' ? 'group' : 'domain' },
      group: kreis,
      within: verband,
    }),
  );

export type AlertData = z.infer<typeof alertDataV2>;
export type AlertLang = AlertData['lang'];

const alertData = z.union([alertDataV2, alertDataV1]);

export interface AlertAckView {
  actor: string;
  name: string;
  at: string;
}

// Everything a card shows, for one conversation (the mute is per conversation).
export interface AlertView extends AlertData {
  alertId: string;
  status: 'open' | 'closed';
  acks: AlertAckView[];
  mutedUntil: string | null;
  /** The people this conversation's subscriptions mention (`alarme an <scope> @…`); none for a shared view. */
  mentions?: MentionedPerson[];
}

export function parseAlertData(data: unknown): AlertData | null {
  const parsed = alertData.safeParse(data);
  return parsed.success ? parsed.data : null;
}
