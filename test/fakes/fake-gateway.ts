import type { DomainState, HeldQueue, SpamSeries } from '../../src/domain/model.ts';
import type { DomainChange, DomainChangeResult, GatewayPort } from '../../src/domain/ports.ts';
import type { Simulator } from '../../src/sim/simulator.ts';

// A GatewayPort over the in-process simulator (no HTTP): real spam traffic, injectable spikes and a
// clock the test advances. Every call is recorded (one entry per page for /metrics/spam, as the HTTP
// client would request it), and the next calls can be made to fail.

export interface GatewayCall {
  op: 'listDomains' | 'getDomain' | 'changeDomain' | 'listQueues' | 'getSpamMetrics' | 'ping';
  from?: string;
  to?: string;
  domains?: number;
}

// Pages of the provider (api/gateway.openapi.yaml: at most 1000 domains a page).
const PAGE = 1000;

export class FakeGateway implements GatewayPort {
  readonly calls: GatewayCall[] = [];
  // Calls of these operations throw until the count is used up.
  failures: Partial<Record<GatewayCall['op'], number>> = {};
  // Rewrites a /metrics/spam answer once (e.g. a page that the gateway cut a minute earlier).
  reshapeSpam: ((series: SpamSeries[]) => SpamSeries[]) | null = null;

  constructor(readonly sim: Simulator) {}

  private enter(call: GatewayCall): void {
    this.calls.push(call);
    const left = this.failures[call.op] ?? 0;
    if (left > 0) {
      this.failures[call.op] = left - 1;
      throw Object.assign(new Error(`fake gateway: ${call.op} failed`), { code: 'UPSTREAM_UNAVAILABLE' });
    }
  }

  spamRequests(): GatewayCall[] {
    return this.calls.filter((c) => c.op === 'getSpamMetrics');
  }

  async listDomains(
    selector: { municipality?: string; kreis?: string; verband?: string } = {},
  ): Promise<DomainState[]> {
    this.enter({ op: 'listDomains' });
    return this.sim.domains(selector);
  }

  async getDomain(domain: string): Promise<DomainState> {
    this.enter({ op: 'getDomain' });
    return this.sim.domain(domain);
  }

  async changeDomain(change: DomainChange): Promise<DomainChangeResult> {
    this.enter({ op: 'changeDomain' });
    return this.sim.changeDomain(
      change.domain,
      { inbound: change.inbound, outbound: change.outbound, reason: change.reason, actor: change.actor },
      { idempotencyKey: change.idempotencyKey, ifMatch: change.ifMatchVersion },
    );
  }

  async listQueues(): Promise<HeldQueue[]> {
    this.enter({ op: 'listQueues' });
    return this.sim.queues();
  }

  async getSpamMetrics(q: { from: string; to: string; domains?: string[] }): Promise<SpamSeries[]> {
    const series: SpamSeries[] = [];
    let cursor: string | undefined;
    do {
      this.enter({ op: 'getSpamMetrics', from: q.from, to: q.to, domains: q.domains?.length });
      const page = this.sim.spamMetrics({ from: q.from, to: q.to, domains: q.domains, limit: PAGE, cursor });
      series.push(...page.series);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const reshape = this.reshapeSpam;
    this.reshapeSpam = null;
    return reshape ? reshape(series) : series;
  }

  async ping(): Promise<void> {
    this.enter({ op: 'ping' });
  }
}
