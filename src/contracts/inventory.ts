import { z } from 'zod';
import { isoDateTime, page } from './common.ts';

// Inventory API, base path /inventory/v1. See api/inventory.openapi.yaml.

// The level of a node, named by the provider (verband/kreis/kommune; land/regierungsbezirk/kreis/gemeinde).
export const regionKind = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);
// Opaque: compared, never parsed (the Südwestfalen simulator happens to use vb-…, kr-…, ko-…).
export const regionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/);
const localized = z.object({ de: z.string().min(1), en: z.string().min(1) });
export const regionLevel = z.object({
  kind: regionKind,
  name: localized, // "Kreis" / "district"
  plural: localized, // "Kreise" / "districts"
  qualifiers: z.array(z.string().min(1)), // lower-case words before a name that pick this level: "kreis", "stadt"
});

export const regionNode = z.object({
  id: regionId,
  kind: regionKind,
  name: z.string(), // official name: "Kreis Olpe", "Olpe", "Südverband"
  shortName: z.string().nullable(), // "HSK", "MK"; null where none
  aliases: z.array(z.string()), // other names people type: "Hochsauerlandkreis", "Nord"
  parentId: regionId.nullable(),
  ags: z.string().nullable(), // Amtlicher Gemeindeschlüssel (8 digits) or Kreisschlüssel (5 digits)
  population: z.number().int().nonnegative().nullable(),
  domains: z.array(z.string()), // mail domains owned directly by this node (a Kreis: its administration's)
});
// `levels` is optional: without it a client names a level after its kind.
export const regionList = z.object({ items: z.array(regionNode), levels: z.array(regionLevel).optional() });

export const deviceKind = z.enum(['client', 'server']);
export const patchState = z.enum(['installed', 'pending', 'pending_reboot', 'failed', 'not_applicable', 'unknown']);

export const device = z.object({
  id: z.string(),
  hostname: z.string(),
  kind: deviceKind,
  role: z.string(), // workstation, laptop, exchange, file, dc, sql, web, print, app
  municipality: regionId, // kommune id, or kreis id for the Kreis administration's own devices
  kreis: regionId,
  os: z.string(),
  build: z.string(),
  lastSeenAt: isoDateTime,
});
export const devicePage = page(device);

export const patch = z.object({
  id: z.string(), // e.g. "exchange-2024-02", "outlook-2024-02"
  title: z.string(),
  product: z.string(),
  kb: z.array(z.string()),
  cves: z.array(z.string()),
  appliesTo: z.object({ kind: deviceKind, roles: z.array(z.string()).nullable() }),
  minBuild: z.string().nullable(),
  releasedAt: isoDateTime,
});
export const patchList = z.object({ items: z.array(patch) });

export const patchStateRow = z.object({
  deviceId: z.string(),
  hostname: z.string(),
  kind: deviceKind,
  role: z.string(),
  municipality: regionId,
  kreis: regionId,
  build: z.string(),
  lastSeenAt: isoDateTime,
  patchId: z.string(),
  state: patchState,
  observedAt: isoDateTime,
});
// GET /patch-states?patch=&region=&state=a,b&kind=&sort=priority|hostname|lastSeenAt&limit=&cursor=
// sort=priority: servers first, then failed, then oldest lastSeenAt.
export const patchStatePage = page(patchStateRow);

export const stateCounts = z.object({
  total: z.number().int().nonnegative(), // applicable devices (not_applicable excluded)
  installed: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  pending_reboot: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  notApplicable: z.number().int().nonnegative(),
  stale: z.number().int().nonnegative(), // applicable and not seen for > staleAfterHours (overlaps the states)
});

export const patchCompliance = z.object({
  patchId: z.string(),
  clients: stateCounts,
  servers: stateCounts,
  exchangeServers: stateCounts,
});

export const regionCompliance = z.object({
  regionId,
  name: z.string(),
  kind: regionKind,
  patches: z.array(patchCompliance),
});

// GET /compliance?region=<id>&patch=<id?>  — the region itself and its direct children.
export const complianceReport = z.object({
  observedAt: isoDateTime,
  staleAfterHours: z.number(),
  region: regionCompliance,
  children: z.array(regionCompliance),
});

// GET /compliance/history?region=&patch=&from=&to=&stepMinutes=
export const historyPoint = z.object({
  at: isoDateTime,
  clients: z.object({ total: z.number().int(), installed: z.number().int() }),
  servers: z.object({ total: z.number().int(), installed: z.number().int() }),
});
export const complianceHistory = z.object({
  regionId,
  patchId: z.string(),
  stepMinutes: z.number().int().positive(),
  points: z.array(historyPoint),
});

export type RegionNodeWire = z.infer<typeof regionNode>;
export type RegionLevelWire = z.infer<typeof regionLevel>;
export type RegionListWire = z.infer<typeof regionList>;
export type DeviceWire = z.infer<typeof device>;
export type PatchWire = z.infer<typeof patch>;
export type PatchStateRowWire = z.infer<typeof patchStateRow>;
export type ComplianceReportWire = z.infer<typeof complianceReport>;
export type ComplianceHistoryWire = z.infer<typeof complianceHistory>;
