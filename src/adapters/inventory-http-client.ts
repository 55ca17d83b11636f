import { health } from '../contracts/common.ts';
import {
  type ComplianceHistoryWire,
  type ComplianceReportWire,
  complianceHistory,
  complianceReport,
  type DeviceWire,
  devicePage,
  type PatchStateRowWire,
  type PatchWire,
  patchList,
  patchStatePage,
  type RegionListWire,
  type RegionNodeWire,
  regionList,
} from '../contracts/inventory.ts';
import type {
  ComplianceHistory,
  ComplianceReport,
  DeviceKind,
  Patch,
  PatchStateRow,
  RegionList,
  RegionNode,
} from '../domain/model.ts';
import type { InventoryPort, Page, PatchStateQuery } from '../domain/ports.ts';
import { HttpJsonClient, type HttpJsonClientOptions } from './http-json-client.ts';

export type InventoryHttpClientOptions = Omit<HttpJsonClientOptions, 'service'>;

// The domain has no Device type (no service needs one yet); the wire type is the answer.
export type Device = DeviceWire;

export interface DeviceQuery {
  regionId?: string;
  kind?: DeviceKind;
  limit?: number;
  cursor?: string;
}

/** InventoryPort over the inventory API (api/inventory.openapi.yaml), base URL like http://host:3979/inventory/v1. */
export class InventoryHttpClient implements InventoryPort {
  private readonly http: HttpJsonClient;

  constructor(options: InventoryHttpClientOptions) {
    this.http = new HttpJsonClient({ ...options, service: 'inventory' });
  }

  listRegions(): Promise<RegionList> {
    return this.http.request({ method: 'GET', route: '/regions', schema: regionList });
  }

  async listPatches(): Promise<Patch[]> {
    const body = await this.http.request({ method: 'GET', route: '/patches', schema: patchList });
    return body.items;
  }

  getCompliance(regionId: string, patchId?: string): Promise<ComplianceReport> {
    return this.http.request({
      method: 'GET',
      route: '/compliance',
      query: { region: regionId, patch: patchId },
      schema: complianceReport,
    });
  }

  getComplianceHistory(q: {
    regionId: string;
    patchId: string;
    from: string;
    to: string;
    stepMinutes: number;
  }): Promise<ComplianceHistory> {
    return this.http.request({
      method: 'GET',
      route: '/compliance/history',
      query: { region: q.regionId, patch: q.patchId, from: q.from, to: q.to, stepMinutes: q.stepMinutes },
      schema: complianceHistory,
    });
  }

  listPatchStates(q: PatchStateQuery): Promise<Page<PatchStateRow>> {
    return this.http.request({
      method: 'GET',
      route: '/patch-states',
      query: {
        patch: q.patchId,
        region: q.regionId,
        state: q.states,
        kind: q.kind,
        sort: q.sort,
        limit: q.limit,
        cursor: q.cursor,
      },
      schema: patchStatePage,
    });
  }

  listDevices(q: DeviceQuery = {}): Promise<Page<Device>> {
    return this.http.request({
      method: 'GET',
      route: '/devices',
      query: { region: q.regionId, kind: q.kind, limit: q.limit, cursor: q.cursor },
      schema: devicePage,
    });
  }

  async ping(): Promise<void> {
    await this.http.request({ method: 'GET', route: '/health', schema: health });
  }
}

// Compile-time proof that the zod-parsed wire values are the domain types, in both directions, so a
// field added on one side only breaks the build rather than a chat reply.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type InventoryWireMatchesDomain = [
  Assert<Same<RegionNodeWire, RegionNode>>,
  Assert<Same<RegionListWire, RegionList>>,
  Assert<Same<PatchWire, Patch>>,
  Assert<Same<PatchStateRowWire, PatchStateRow>>,
  Assert<Same<ComplianceReportWire, ComplianceReport>>,
  Assert<Same<ComplianceHistoryWire, ComplianceHistory>>,
];
