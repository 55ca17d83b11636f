import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentState, AuditRow, DomainRow, StoredAnswer } from './agent-state.ts';
import type { ConfiguredDomain, GatewayDomains } from './gateway-domains-file.ts';
import { countHeld, type Direction, type HeldFor, releasable } from './held-mail.ts';
import type { PostfixControl } from './postfix-control.ts';
import { MAP_NAMES, renderMaps } from './postfix-maps.ts';
import { parseVerdict, readNewLines, type Verdict } from './rspamd-verdicts.ts';

// The gateway agent's core: domain changes over Postfix access maps, held-mail release, queue sizes and
// spam metrics — everything the HTTP layer (gateway-agent-server.ts) answers, and nothing about HTTP.
//
// Changes are serialized and group-committed: whatever changes wait while one batch is applied form the
// next batch, which is checked against the state in order (If-Match, no-ops), written to the maps once
// (write, postmap, rename), enforced with one `postfix reload`, and only then committed to SQLite and
// answered. A crash before the commit leaves the maps ahead of the state; reconcile() on start rewrites
// them from the state, so Postfix never enforces a change the state does not record for longer than a
// restart, and a change is never reported done before Postfix enforces it.

export type FlowState = 'open' | 'held' | 'blocked';
export type Phase = 'maps-written' | 'reloaded';

export interface DomainChange {
  domain: string;
  inbound?: FlowState;
  outbound?: FlowState;
  reason: string;
  actor: string;
  key: string;
  fingerprint: string;
  ifMatch?: number;
}

export type ChangeOutcome =
  | { kind: 'done'; status: 200; body: { domain: WireDomain; changed: boolean; replayed: boolean } }
  | { kind: 'conflict'; currentVersion: number }
  | { kind: 'key_reused' };

export interface WireDomain {
  domain: string;
  municipality: string | null;
  kreis: string;
  verband: string;
  inbound: FlowState;
  outbound: FlowState;
  blockMode: ConfiguredDomain['blockMode'];
  reason: string | null;
  changedBy: string | null;
  changedAt: string | null;
  version: number;
}

export class Unavailable extends Error {}

export interface GatewayAgentOptions {
  domains: GatewayDomains;
  state: AgentState;
  postfix: PostfixControl;
  mapDir: string;
  rspamd: { controllerUrl: string; logFile: string };
  now?: () => Date;
  /** Test hook: called between the steps of a change (a test SIGKILLs the agent here). */
  onPhase?: (phase: Phase) => void | Promise<void>;
  log?: (line: string) => void;
}

export interface GatewayAgent {
  domain(name: string): WireDomain | null;
  domains(filter: { municipality?: string; kreis?: string; verband?: string }): WireDomain[] | 'region_not_found';
  configured(name: string): boolean;
  /** Postfix and rspamd both up, or the reason why not. */
  health(): Promise<string | null>;
  change(changes: readonly DomainChange[]): Promise<ChangeOutcome[]>;
  storedAnswer(key: string): StoredAnswer | null;
  release(q: {
    domain: string;
    direction: Direction;
    actor: string;
    reason: string;
    key: string;
    fingerprint: string;
  }): Promise<{ released: number }>;
  queues(
    domains: readonly string[],
  ): Promise<{ domain: string; direction: Direction; held: number; oldestAt: string | null }[]>;
  spam(domains: readonly string[], fromMinute: number, toMinute: number): Promise<ReturnType<AgentState['metrics']>>;
  audit: AgentState['audit'];
  reconcile(): Promise<{ mapsRewritten: string[]; released: number }>;
  /** Releases what may flow and reads new rspamd verdicts; the periodic sweep calls it. */
  sweep(): Promise<void>;
  startSweeping(intervalMs: number): void;
  close(): Promise<void>;
}

export function createGatewayAgent(opts: GatewayAgentOptions): GatewayAgent {
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => {});
  const config = new Map(opts.domains.domains.map((d) => [d.domain, d]));
  const estate = new Set(config.keys());
  let rows = new Map(opts.state.domains().map((r) => [r.domain, r]));
  let serial: Promise<unknown> = Promise.resolve();
  // One at a time: map edits, reloads and releases never interleave.
  const exclusive = <T>(f: () => Promise<T>): Promise<T> => {
    const next = serial.then(f, f);
    serial = next.catch(() => {});
    return next;
  };

  const wire = (row: DomainRow): WireDomain => {
    const c = config.get(row.domain) as ConfiguredDomain;
    return {
      domain: row.domain,
      municipality: c.municipality,
      kreis: c.kreis,
      verband: c.verband,
      inbound: row.inbound as FlowState,
      outbound: row.outbound as FlowState,
      blockMode: c.blockMode,
      reason: row.reason,
      changedBy: row.changedBy,
      changedAt: row.changedAt,
      version: row.version,
    };
  };
  const mapInput = (state: Map<string, DomainRow>) =>
    [...state.values()]
      .filter((r) => config.has(r.domain))
      .map((r) => ({
        domain: r.domain,
        inbound: r.inbound,
        outbound: r.outbound,
        blockMode: (config.get(r.domain) as ConfiguredDomain).blockMode,
      }));

  const installMaps = async (state: Map<string, DomainRow>, onlyChanged: boolean): Promise<string[]> => {
    const rendered = renderMaps(mapInput(state));
    const written: string[] = [];
    for (const name of MAP_NAMES) {
      if (onlyChanged) {
        const current = await readFile(join(opts.mapDir, name), 'utf8').catch(() => null);
        const db = await readFile(join(opts.mapDir, `${name}.db`)).catch(() => null);
        if (current === rendered[name] && db !== null) continue;
      }
      await opts.postfix.installMap(name, rendered[name]);
      written.push(name);
    }
    return written;
  };

  const isOpen = (domain: string, direction: Direction) => rows.get(domain)?.[direction] === 'open';
  const releaseOpen = async (): Promise<number> => {
    const ids = releasable(await opts.postfix.queue(), estate, isOpen);
    return ids.length === 0 ? 0 : opts.postfix.release(ids);
  };

  const rspamdUp = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${opts.rspamd.controllerUrl.replace(/\/+$/, '')}/ping`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.ok && (await res.text()).trim() === 'pong';
    } catch {
      return false;
    }
  };

  const ingestVerdicts = async () => {
    const { lines, position } = await readNewLines(opts.rspamd.logFile, opts.state.logPosition());
    const verdicts = lines.map(parseVerdict).filter((v): v is Verdict => v !== null);
    opts.state.addVerdicts(verdicts, estate, position);
  };
  let ingesting: Promise<void> | null = null;
  const ingest = () => {
    ingesting ??= ingestVerdicts().finally(() => {
      ingesting = null;
    });
    return ingesting;
  };

  const applyBatch = async (changes: readonly DomainChange[]): Promise<ChangeOutcome[]> => {
    if (!(await opts.postfix.running())) throw new Unavailable('Postfix is not running; the change was not applied');
    const at = now().toISOString();
    const working = new Map(rows);
    const outcomes: ChangeOutcome[] = [];
    const audit: Omit<AuditRow, 'seq'>[] = [];
    const answers: { key: string; answer: StoredAnswer }[] = [];
    const answered = new Map<string, StoredAnswer>();
    let opened = false;
    for (const c of changes) {
      const earlier = answered.get(c.key) ?? opts.state.answer(c.key);
      if (earlier) {
        if (earlier.fingerprint !== c.fingerprint) outcomes.push({ kind: 'key_reused' });
        else
          outcomes.push({
            kind: 'done',
            status: 200,
            body: { ...(earlier.body as { domain: WireDomain; changed: boolean }), replayed: true },
          });
        continue;
      }
      const row = working.get(c.domain) as DomainRow;
      if (c.ifMatch !== undefined && c.ifMatch !== row.version) {
        outcomes.push({ kind: 'conflict', currentVersion: row.version });
        continue;
      }
      const inbound = c.inbound ?? row.inbound;
      const outbound = c.outbound ?? row.outbound;
      let next = row;
      const changed = inbound !== row.inbound || outbound !== row.outbound;
      if (changed) {
        next = {
          ...row,
          inbound,
          outbound,
          reason: c.reason,
          changedBy: c.actor,
          changedAt: at,
          version: row.version + 1,
        };
        working.set(c.domain, next);
        if ((inbound === 'open' && row.inbound !== 'open') || (outbound === 'open' && row.outbound !== 'open'))
          opened = true;
        audit.push({
          at,
          actor: c.actor,
          action: 'domain.change',
          domain: c.domain,
          before: { inbound: row.inbound, outbound: row.outbound },
          after: { inbound, outbound },
          reason: c.reason,
          idempotencyKey: c.key,
        });
      }
      const body = { domain: wire(next), changed, replayed: false };
      const answer = { fingerprint: c.fingerprint, status: 200, body };
      answered.set(c.key, answer);
      answers.push({ key: c.key, answer });
      outcomes.push({ kind: 'done', status: 200, body });
    }
    if (audit.length > 0) {
      try {
        await installMaps(working, true);
        await opts.onPhase?.('maps-written');
        await opts.postfix.reload();
        await opts.onPhase?.('reloaded');
      } catch (error) {
        // Put the maps back to what the state records, so Postfix does not enforce a change we refuse.
        await installMaps(rows, true).catch(() => {});
        throw new Unavailable(`Postfix did not take the change (${(error as Error).message}); it was not applied`);
      }
    }
    opts.state.commit({ rows: [...working.values()].filter((r) => r !== rows.get(r.domain)), audit, answers });
    rows = working;
    // The change is done when Postfix enforces it; the held mail it lets out follows as the next
    // serialized step (the sweep retries it if Postfix refuses), so callers do not wait for the queue.
    if (opened) {
      void exclusive(releaseOpen).catch((e: Error) =>
        log(`release after change failed, the sweep retries: ${e.message}`),
      );
    }
    return outcomes;
  };

  // Group commit: changes arriving while a batch is applied wait together for the next one.
  let pending: {
    changes: readonly DomainChange[];
    resolve: (o: ChangeOutcome[]) => void;
    reject: (e: unknown) => void;
  }[] = [];
  let draining = false;
  const drain = async () => {
    if (draining) return;
    draining = true;
    try {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        const all = batch.flatMap((b) => b.changes);
        try {
          const outcomes = await exclusive(() => applyBatch(all));
          let i = 0;
          for (const b of batch) {
            b.resolve(outcomes.slice(i, i + b.changes.length));
            i += b.changes.length;
          }
        } catch (error) {
          for (const b of batch) b.reject(error);
        }
      }
    } finally {
      draining = false;
    }
  };

  let sweepTimer: NodeJS.Timeout | null = null;

  const agent: GatewayAgent = {
    domain: (name) => {
      const row = rows.get(name);
      return row && config.has(name) ? wire(row) : null;
    },
    domains(filter) {
      const all = [...config.values()];
      for (const [key, value] of Object.entries(filter)) {
        if (value !== undefined && !all.some((d) => d[key as 'kreis'] === value)) return 'region_not_found';
      }
      return all
        .filter(
          (d) =>
            (filter.municipality === undefined || d.municipality === filter.municipality) &&
            (filter.kreis === undefined || d.kreis === filter.kreis) &&
            (filter.verband === undefined || d.verband === filter.verband),
        )
        .map((d) => wire(rows.get(d.domain) as DomainRow))
        .sort((a, b) => (a.domain < b.domain ? -1 : 1));
    },
    configured: (name) => config.has(name),
    async health() {
      const [postfix, rspamd] = await Promise.all([opts.postfix.running(), rspamdUp()]);
      if (!postfix) return 'Postfix is not running';
      if (!rspamd) return `rspamd does not answer at ${opts.rspamd.controllerUrl}`;
      return null;
    },
    change(changes) {
      return new Promise((resolve, reject) => {
        pending.push({ changes, resolve, reject });
        void drain();
      });
    },
    storedAnswer: (key) => opts.state.answer(key),
    release(q) {
      return exclusive(async () => {
        const earlier = opts.state.answer(q.key);
        if (earlier) return earlier.body as { released: number };
        if (!(await opts.postfix.running())) throw new Unavailable('Postfix is not running; nothing was released');
        const target: HeldFor = { domain: q.domain, direction: q.direction };
        const ids = releasable(await opts.postfix.queue(), estate, isOpen, [target]);
        const released = await opts.postfix.release(ids);
        const body = { domain: q.domain, direction: q.direction, released };
        opts.state.commit({
          rows: [],
          audit: [
            {
              at: now().toISOString(),
              actor: q.actor,
              action: 'queue.release',
              domain: q.domain,
              before: null,
              after: null,
              reason: q.reason,
              idempotencyKey: q.key,
            },
          ],
          answers: [{ key: q.key, answer: { fingerprint: q.fingerprint, status: 200, body } }],
        });
        return body;
      });
    },
    async queues(domains) {
      const counts = countHeld(await opts.postfix.queue(), estate);
      return domains.flatMap((domain) =>
        (['inbound', 'outbound'] as const).map((direction) => {
          const c = counts.get(`${domain}|${direction}`);
          return {
            domain,
            direction,
            held: c?.held ?? 0,
            oldestAt: c?.oldestAt == null ? null : new Date(c.oldestAt * 1000).toISOString(),
          };
        }),
      );
    },
    async spam(domains, fromMinute, toMinute) {
      await ingest();
      return opts.state.metrics(domains, fromMinute, toMinute);
    },
    audit: (q) => opts.state.audit(q),
    reconcile() {
      return exclusive(async () => {
        const seeded = opts.state.seed([...config.keys()], opts.domains.initial, now().toISOString());
        if (seeded > 0) log(`${seeded} domains new in the domains file, set to the initial state`);
        rows = new Map(opts.state.domains().map((r) => [r.domain, r]));
        // Leftovers of a change that crashed before its rename: never read by Postfix, safe to drop.
        for (const f of await readdir(opts.mapDir).catch(() => [] as string[])) {
          if (f.endsWith('.tmp') || f.endsWith('.tmp.db')) await rm(join(opts.mapDir, f), { force: true });
        }
        const mapsRewritten = await installMaps(rows, true);
        let released = 0;
        if (await opts.postfix.running()) {
          if (mapsRewritten.length > 0) await opts.postfix.reload();
          released = await releaseOpen();
        }
        return { mapsRewritten, released };
      });
    },
    async sweep() {
      await ingest().catch((e: Error) => log(`reading rspamd's log failed: ${e.message}`));
      await exclusive(async () => {
        if (await opts.postfix.running()) await releaseOpen();
      }).catch((e: Error) => log(`release sweep failed: ${e.message}`));
    },
    startSweeping(intervalMs) {
      sweepTimer = setInterval(() => void agent.sweep(), intervalMs);
      sweepTimer.unref();
    },
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      await serial.catch(() => {});
    },
  };
  return agent;
}
