import type { DomainState, PatchStateRow, RegionNode, SpamSeries } from '../../../src/domain/model.ts';

// Small valid wire values (Südwestfalen data) for the scripted fake server.

export const kreisOlpe: RegionNode = {
  id: 'kr-olpe',
  kind: 'kreis',
  name: 'Kreis Olpe',
  shortName: 'OE',
  aliases: ['Olpe (Kreis)'],
  parentId: 'vb-sued',
  ags: '05966',
  population: 133_000,
  domains: ['kreis-olpe.de'],
};

export const attendorn: DomainState = {
  domain: 'attendorn.de',
  municipality: 'ko-attendorn',
  kreis: 'kr-olpe',
  verband: 'vb-sued',
  inbound: 'blocked',
  outbound: 'blocked',
  blockMode: 'reject',
  reason: 'Exchange-Schwachstelle: externe Mail gestoppt',
  changedBy: 'it-lage@sit.example',
  changedAt: '2024-02-12T07:30:00Z',
  version: 3,
};

export function domainStateOf(domain: string, overrides: Partial<DomainState> = {}): DomainState {
  return { ...attendorn, domain, ...overrides };
}

export const patchRow: PatchStateRow = {
  deviceId: 'dev-000123',
  hostname: 'ATT-EX01',
  kind: 'server',
  role: 'exchange',
  municipality: 'ko-attendorn',
  kreis: 'kr-olpe',
  build: '15.2.1544.4',
  lastSeenAt: '2024-02-14T09:12:00Z',
  patchId: 'exchange-2024-02',
  state: 'pending',
  observedAt: '2024-02-14T10:00:00Z',
};

export function spamSeriesOf(domain: string): SpamSeries {
  return { domain, points: [{ at: '2024-02-14T10:00:00Z', received: 120, spam: 40, rejected: 35, quarantined: 5 }] };
}

export const healthBody = { status: 'ok', time: '2024-02-14T10:00:00Z', version: '1.0.0' };
