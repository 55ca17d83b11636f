import type { z } from 'zod';
import { health } from '../contracts/common.ts';
import {
  bulkChangeResult,
  type DomainStateWire,
  domainChangeResult,
  domainList,
  domainState,
  gatewayAuditPage,
  queueList,
  queueReleaseResult,
  type spamMetrics,
  spamMetricsPage,
} from '../contracts/gateway.ts';
import { LagebotError } from '../domain/errors.ts';
import type { Direction, DomainState, FlowState, HeldQueue, SpamSeries } from '../domain/model.ts';
import type { DomainChange, DomainChangeResult, DomainSelector, GatewayPort } from '../domain/ports.ts';
import { HttpJsonClient, type HttpJsonClientOptions } from './http-json-client.ts';

export interface GatewayHttpClientOptions extends Omit<HttpJsonClientOptions, 'service'> {
  /** Domains named in one /metrics/spam request; keeps the query string far below common 8 KB URL limits. */
  spamDomainsPerRequest?: number;
}

// Answers the domain model has no type for yet; the wire types are the answer.
export type BulkChangeResult = z.infer<typeof bulkChangeResult>;
export type QueueReleaseResult = z.infer<typeof queueReleaseResult>;
export type GatewayAuditPage = z.infer<typeof gatewayAuditPage>;
export type GatewayAuditEntry = GatewayAuditPage['items'][number];

export interface BulkChange {
  selector: DomainSelector;
  inbound?: FlowState;
  outbound?: FlowState;
  reason: string;
  actor: string;
  /** One key per bulk call; the gateway derives "<key>:<domain>" per domain. */
  idempotencyKey: string;
}

export interface QueueRelease {
  domain: string;
  direction: Direction;
  actor: string;
  reason: string;
  idempotencyKey: string;
}

// The provider pages /metrics/spam by domain, at most 1000 domains a page (api/gateway.openapi.yaml).
const spamPageLimit = 1000;
// A cursor loop in a broken provider must not spin forever: 10,000 pages × 1000 domains is far
// beyond any real estate.
const maxSpamPages = 10_000;

/** GatewayPort over the gateway-control API (api/gateway.openapi.yaml), base URL like http://host:3979/gateway/v1. */
export class GatewayHttpClient implements GatewayPort {
  private readonly http: HttpJsonClient;
  private readonly spamDomainsPerRequest: number;

  constructor(options: GatewayHttpClientOptions) {
    const { spamDomainsPerRequest = 100, ...http } = options;
    if (!(spamDomainsPerRequest >= 1)) throw new RangeError('spamDomainsPerRequest must be at least 1');
    this.http = new HttpJsonClient({ ...http, service: 'gateway' });
    this.spamDomainsPerRequest = spamDomainsPerRequest;
  }

  async listDomains(selector: Omit<DomainSelector, 'domains'> = {}): Promise<DomainState[]> {
    const body = await this.http.request({
      method: 'GET',
      route: '/domains',
      query: { municipality: selector.municipality, kreis: selector.kreis, verband: selector.verband },
      schema: domainList,
    });
    return body.items;
  }

  getDomain(domain: string): Promise<DomainState> {
    return this.http.request({ method: 'GET', route: '/domains/{domain}', params: { domain }, schema: domainState });
  }

  changeDomain(change: DomainChange): Promise<DomainChangeResult> {
    const headers: Record<string, string> = {};
    // If-Match carries the version as an entity tag, hence the quotes (RFC 9110 §13.1.1).
    if (change.ifMatchVersion !== undefined) headers['if-match'] = `"${change.ifMatchVersion}"`;
    return this.http.request({
      method: 'PATCH',
      route: '/domains/{domain}',
      params: { domain: change.domain },
      idempotencyKey: change.idempotencyKey,
      headers,
      body: { inbound: change.inbound, outbound: change.outbound, reason: change.reason, actor: change.actor },
      schema: domainChangeResult,
    });
  }

  bulkChange(change: BulkChange): Promise<BulkChangeResult> {
    return this.http.request({
      method: 'POST',
      route: '/changes',
      idempotencyKey: change.idempotencyKey,
      body: {
        selector: change.selector,
        inbound: change.inbound,
        outbound: change.outbound,
        reason: change.reason,
        actor: change.actor,
      },
      schema: bulkChangeResult,
    });
  }

  async listQueues(selector: Omit<DomainSelector, 'domains'> & { domain?: string } = {}): Promise<HeldQueue[]> {
    const query = { domain: selector.domain, kreis: selector.kreis, verband: selector.verband };
    if (selector.municipality === undefined) {
      return (await this.http.request({ method: 'GET', route: '/queues', query, schema: queueList })).items;
    }
    // /queues filters by domain, kreis and verband only (api/gateway.openapi.yaml); a town's queues
    // are those of its domains, found through /domains?municipality=.
    const owned = await this.listDomains({ municipality: selector.municipality });
    if (owned.length === 0) return [];
    const names = new Set(owned.map((d) => d.domain));
    const kreis = selector.kreis ?? owned[0]!.kreis;
    const body = await this.http.request({
      method: 'GET',
      route: '/queues',
      query: { ...query, kreis },
      schema: queueList,
    });
    return body.items.filter((q) => names.has(q.domain));
  }

  releaseQueue(release: QueueRelease): Promise<QueueReleaseResult> {
    return this.http.request({
      method: 'POST',
      route: '/queues/{domain}/{direction}/release',
      params: { domain: release.domain, direction: release.direction },
      idempotencyKey: release.idempotencyKey,
      body: { actor: release.actor, reason: release.reason },
      schema: queueReleaseResult,
    });
  }

  /** All series for the range: domains in batches, each batch followed through its pages. No domains: every domain. */
  async getSpamMetrics(q: { from: string; to: string; domains?: string[] }): Promise<SpamSeries[]> {
    if (q.domains === undefined) return this.fetchSpamPages(q.from, q.to, undefined);
    const unique = [...new Set(q.domains)];
    const series: SpamSeries[] = [];
    for (let i = 0; i < unique.length; i += this.spamDomainsPerRequest) {
      series.push(...(await this.fetchSpamPages(q.from, q.to, unique.slice(i, i + this.spamDomainsPerRequest))));
    }
    return series;
  }

  listAudit(q: { since?: string; limit?: number; cursor?: string } = {}): Promise<GatewayAuditPage> {
    return this.http.request({
      method: 'GET',
      route: '/audit',
      query: { since: q.since, limit: q.limit, cursor: q.cursor },
      schema: gatewayAuditPage,
    });
  }

  async ping(): Promise<void> {
    await this.http.request({ method: 'GET', route: '/health', schema: health });
  }

  private async fetchSpamPages(from: string, to: string, domains: string[] | undefined): Promise<SpamSeries[]> {
    const series: SpamSeries[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < maxSpamPages; page++) {
      const body = await this.http.request({
        method: 'GET',
        route: '/metrics/spam',
        query: { from, to, domain: domains, limit: spamPageLimit, cursor },
        schema: spamMetricsPage,
      });
      series.push(...body.series);
      if (body.nextCursor === null) return series;
      if (seen.has(body.nextCursor)) break;
      seen.add(body.nextCursor);
      cursor = body.nextCursor;
    }
    throw new LagebotError(
      'UPSTREAM_BAD_RESPONSE',
      'gateway API: the pages of GET /metrics/spam do not end (a cursor repeats): check the gateway API version',
      { service: 'gateway', method: 'GET', path: '/metrics/spam' },
    );
  }
}

// Compile-time proof that the zod-parsed wire values are the domain types, in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type GatewayWireMatchesDomain = [
  Assert<Same<DomainStateWire, DomainState>>,
  Assert<Same<z.infer<typeof domainChangeResult>, DomainChangeResult>>,
  Assert<Same<z.infer<typeof queueList>['items'][number], HeldQueue>>,
  Assert<Same<z.infer<typeof spamMetrics>['series'][number], SpamSeries>>,
];
