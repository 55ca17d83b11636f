import { domainChangeRequest } from '../../src/contracts/gateway.ts';
import { LagebotError } from '../../src/domain/errors.ts';
import type { DomainState, HeldQueue, SpamSeries } from '../../src/domain/model.ts';
import type { DomainChange, DomainChangeResult, DomainSelector, GatewayPort } from '../../src/domain/ports.ts';
import { SimError } from '../../src/sim/sim-error.ts';
import type { Simulator } from '../../src/sim/simulator.ts';

// A GatewayPort over the in-process simulator (no HTTP): real spam traffic, injectable spikes and a
// clock the test advances. Every call is recorded (one entry per page for /metrics/spam, as the HTTP
// client would request it), and the next calls can be made to fail. The simulator's refusals become the
// HTTP client's coded errors (the port contract suite checks both the same way).

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
      throw new LagebotError('UPSTREAM_UNAVAILABLE', `fake gateway: ${call.op} failed`, { service: 'gateway' });
    }
  }

  // The simulator's answer, or its refusal as the HTTP client reports it (http-json-client.ts).
  private answer<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof SimError)) throw error;
      const code =
        error.status === 404
          ? 'NOT_FOUND'
          : error.status === 409
            ? 'UPSTREAM_CONFLICT'
            : error.status === 429 || error.status >= 500
              ? 'UPSTREAM_UNAVAILABLE'
              : 'UPSTREAM_REJECTED';
      throw new LagebotError(code, `fake gateway: ${error.message}`, { service: 'gateway', status: error.status });
    }
  }

  spamRequests(): GatewayCall[] {
    return this.calls.filter((c) => c.op === 'getSpamMetrics');
  }

  async listDomains(
    selector: { municipality?: string; kreis?: string; verband?: string } = {},
  ): Promise<DomainState[]> {
    this.enter({ op: 'listDomains' });
    return this.answer(() => this.sim.domains(selector));
  }

  async getDomain(domain: string): Promise<DomainState> {
    this.enter({ op: 'getDomain' });
    return this.answer(() => this.sim.domain(domain));
  }

  async changeDomain(change: DomainChange): Promise<DomainChangeResult> {
    this.enter({ op: 'changeDomain' });
    // The API checks the body before the simulator sees it (src/sim/server.ts): so does this fake.
    const body = domainChangeRequest.safeParse({
      inbound: change.inbound,
      outbound: change.outbound,
      reason: change.reason,
      actor: change.actor,
    });
    if (!body.success)
      throw new LagebotError('UPSTREAM_REJECTED', 'fake gateway: invalid change', { service: 'gateway' });
    return this.answer(() =>
      this.sim.changeDomain(
        change.domain,
        { inbound: change.inbound, outbound: change.outbound, reason: change.reason, actor: change.actor },
        { idempotencyKey: change.idempotencyKey, ifMatch: change.ifMatchVersion },
      ),
    );
  }

  async listQueues(selector: Omit<DomainSelector, 'domains'> & { domain?: string } = {}): Promise<HeldQueue[]> {
    this.enter({ op: 'listQueues' });
    return this.answer(() => this.sim.queues(selector));
  }

  async getSpamMetrics(q: { from: string; to: string; domains?: string[] }): Promise<SpamSeries[]> {
    const series: SpamSeries[] = [];
    let cursor: string | undefined;
    do {
      this.enter({ op: 'getSpamMetrics', from: q.from, to: q.to, domains: q.domains?.length });
      const page = this.answer(() =>
        this.sim.spamMetrics({ from: q.from, to: q.to, domains: q.domains, limit: PAGE, cursor }),
      );
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
