import { randomUUID } from 'node:crypto';
import { type ConformanceCheck, expect, expectError, SkipCheck } from './conformance-check.ts';
import type { ConformanceClient } from './conformance-client.ts';
import { pageToEnd } from './page-to-end.ts';

// The gateway-control API's behaviours (api/gateway.openapi.yaml) as checks. Read-only ones first; the
// write checks run only with a test domain and put it back as it was (the last check restores it even
// when one before failed).

interface Domain {
  domain: string;
  kreis: string;
  inbound: string;
  outbound: string;
  version: number;
}
interface AuditItem {
  id: string;
  at: string;
  domain: string;
  after: { inbound: string; outbound: string } | null;
  idempotencyKey: string | null;
}

const UNKNOWN_DOMAIN = 'conformance-unknown.invalid';
const UNKNOWN_REGION = 'conformance-unknown-region';

export function gatewayChecks(opts: { token?: string; changeDomain?: string }): ConformanceCheck[] {
  let domains: Domain[] = [];
  let now = new Date();
  const check = (name: string, run: ConformanceCheck['run']): ConformanceCheck => ({ api: 'gateway', name, run });
  const listDomains = async (client: ConformanceClient): Promise<Domain[]> => {
    if (domains.length === 0) {
      const answer = await client.call('GET', '/domains');
      expect(answer.status === 200, `GET /domains: status ${answer.status}`);
      domains = (answer.body as { items: Domain[] }).items;
    }
    return domains;
  };
  const checks: ConformanceCheck[] = [
    check('health', async (client) => {
      const answer = await client.call('GET', '/health');
      expect(answer.status === 200, `GET /health: status ${answer.status}`);
      // The gateway's clock, not ours: a simulator runs in its own time, and metrics ranges follow it.
      now = new Date((answer.body as { time: string }).time);
      return `version ${(answer.body as { version: string }).version}`;
    }),
    check('401 without token', async (client) => {
      if (!opts.token) return new SkipCheck('no --gateway-token given');
      expectError(await client.call('GET', '/domains', { token: null }), 401, 'unauthorized');
      return 'unauthorized';
    }),
    check('domains', async (client) => {
      const items = await listDomains(client);
      expect(items.length > 0, 'GET /domains lists no domain');
      const names = items.map((d) => d.domain);
      expect(new Set(names).size === names.length, 'GET /domains lists a domain twice');
      expect(
        names.every((n, i) => i === 0 || (names[i - 1] as string) < n),
        'GET /domains is not ordered by name',
      );
      return `${items.length} domains`;
    }),
    check('one domain + ETag', async (client) => {
      const [first] = await listDomains(client);
      expect(first, 'no domain to read');
      const answer = await client.call('GET', '/domains/{domain}', { params: { domain: first.domain } });
      expect(answer.status === 200, `GET /domains/${first.domain}: status ${answer.status}`);
      const d = answer.body as Domain;
      expect(d.domain === first.domain && d.version === first.version, 'the domain differs from its list entry');
      expect(
        answer.headers.get('etag') === `"${d.version}"`,
        `ETag ${answer.headers.get('etag')} is not "${d.version}"`,
      );
      return first.domain;
    }),
    check('filter by kreis', async (client) => {
      const all = await listDomains(client);
      const kreis = (all[0] as Domain).kreis;
      const answer = await client.call('GET', '/domains', { query: { kreis } });
      expect(answer.status === 200, `GET /domains?kreis=${kreis}: status ${answer.status}`);
      const items = (answer.body as { items: Domain[] }).items;
      const expected = all.filter((d) => d.kreis === kreis).length;
      expect(
        items.length === expected && items.every((d) => d.kreis === kreis),
        `kreis=${kreis} gave ${items.length} domains, the list has ${expected}`,
      );
      return `${kreis}: ${items.length}`;
    }),
    check('404 unknown domain', async (client) => {
      expectError(
        await client.call('GET', '/domains/{domain}', { params: { domain: UNKNOWN_DOMAIN } }),
        404,
        'domain_not_found',
      );
      return 'domain_not_found';
    }),
    check('404 unknown region', async (client) => {
      expectError(await client.call('GET', '/domains', { query: { kreis: UNKNOWN_REGION } }), 404, 'region_not_found');
      return 'region_not_found';
    }),
    check('queues', async (client) => {
      const known = new Set((await listDomains(client)).map((d) => d.domain));
      const answer = await client.call('GET', '/queues');
      expect(answer.status === 200, `GET /queues: status ${answer.status}`);
      const items = (answer.body as { items: { domain: string; held: number }[] }).items;
      const stray = items.find((q) => !known.has(q.domain));
      expect(!stray, `GET /queues names ${stray?.domain}, which GET /domains does not list`);
      return `${items.reduce((n, q) => n + q.held, 0)} held`;
    }),
    check('metrics paged to the end', async (client) => {
      const all = await listDomains(client);
      const to = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
      const from = new Date(to.getTime() - 10 * 60_000);
      const limit = Math.max(1, Math.ceil(all.length / 5));
      const { items, pages } = await pageToEnd(
        client,
        '/metrics/spam',
        { from: from.toISOString(), to: to.toISOString(), limit: String(limit) },
        (b) => (b as { series: { domain: string }[] }).series.map((s) => s.domain),
      );
      expect(new Set(items).size === items.length, 'a domain appears on two pages');
      const missing = all.find((d) => !items.includes(d.domain));
      expect(!missing, `paging never reached ${missing?.domain}`);
      return `${items.length} series on ${pages} pages`;
    }),
    check('audit paged to the end', async (client) => {
      const { items, pages } = await pageToEnd(
        client,
        '/audit',
        { limit: '50' },
        (b) => (b as { items: AuditItem[] }).items,
      );
      expect(new Set(items.map((i) => i.id)).size === items.length, 'an audit entry appears twice');
      const backwards = items.findIndex(
        (e, i) => i > 0 && Date.parse(e.at) < Date.parse((items[i - 1] as AuditItem).at),
      );
      expect(backwards < 0, `audit is not oldest first at entry ${backwards}`);
      return `${items.length} entries on ${pages} pages`;
    }),
    check('400 bad query', async (client) => {
      expectError(
        await client.call('GET', '/metrics/spam', { query: { to: now.toISOString() } }),
        400,
        'invalid_request',
      );
      expectError(await client.call('GET', '/audit', { query: { limit: '0' } }), 400, 'invalid_request');
      expectError(await client.call('GET', '/audit', { query: { cursor: 'not-a-cursor' } }), 400, 'invalid_cursor');
      return 'invalid_request, invalid_cursor';
    }),
  ];
  if (opts.changeDomain) checks.push(...writeChecks(opts.changeDomain));
  return checks;
}

function writeChecks(name: string): ConformanceCheck[] {
  const check = (checkName: string, run: ConformanceCheck['run']): ConformanceCheck => ({
    api: 'gateway',
    name: checkName,
    run,
  });
  const run = `conformance-${randomUUID()}`;
  const actor = 'lagebot-conformance';
  let original: Domain | null = null;
  let changed: Domain | null = null;
  let changeBody: Record<string, string> = {};
  const key = `${run}:change`;
  const read = async (client: ConformanceClient): Promise<Domain> => {
    const answer = await client.call('GET', '/domains/{domain}', { params: { domain: name } });
    expect(answer.status === 200, `GET /domains/${name}: status ${answer.status}`);
    return answer.body as Domain;
  };
  const unchangedSince = async (client: ConformanceClient, before: Domain, what: string) => {
    const now = await read(client);
    expect(
      now.version === before.version && now.inbound === before.inbound && now.outbound === before.outbound,
      `${what} changed the domain (version ${before.version} → ${now.version})`,
    );
  };
  const patch = (client: ConformanceClient, body: unknown, headers: Record<string, string>) =>
    client.call('PATCH', '/domains/{domain}', { params: { domain: name }, body, headers });
  const needOriginal = (): Domain => {
    if (!original) throw new SkipCheck(`${name} could not be read`);
    return original;
  };
  const needChange = (): Domain => {
    if (!changed) throw new SkipCheck('the change check did not succeed');
    return changed;
  };
  const skipping =
    (f: ConformanceCheck['run']): ConformanceCheck['run'] =>
    async (client) => {
      try {
        return await f(client);
      } catch (error) {
        if (error instanceof SkipCheck) return error;
        throw error;
      }
    };

  return [
    check(
      `read ${name}`,
      skipping(async (client) => {
        original = await read(client);
        return `${original.inbound}/${original.outbound} v${original.version}`;
      }),
    ),
    check(
      '400 without Idempotency-Key',
      skipping(async (client) => {
        const before = needOriginal();
        expectError(
          await patch(client, { inbound: before.inbound, reason: 'conformance check', actor }, {}),
          400,
          'idempotency_key_required',
        );
        await unchangedSince(client, before, 'a change without key');
        return 'idempotency_key_required';
      }),
    ),
    check(
      '400 bad body',
      skipping(async (client) => {
        const before = needOriginal();
        const answer = await patch(
          client,
          { inbound: 'sideways', reason: 'conformance check', actor },
          { 'idempotency-key': `${run}:bad` },
        );
        expectError(answer, 400, 'invalid_request');
        expectError(await patch(client, '{"inbound":', { 'idempotency-key': `${run}:bad-json` }), 400, 'invalid_json');
        await unchangedSince(client, before, 'a bad body');
        return 'invalid_request, invalid_json';
      }),
    ),
    check(
      'change with If-Match',
      skipping(async (client) => {
        const before = needOriginal();
        changeBody = {
          inbound: before.inbound === 'open' ? 'held' : 'open',
          reason: 'conformance check: change',
          actor,
        };
        const answer = await patch(client, changeBody, { 'idempotency-key': key, 'if-match': `"${before.version}"` });
        expect(answer.status === 200, `PATCH: status ${answer.status}`);
        const result = answer.body as { domain: Domain; changed: boolean; replayed: boolean };
        expect(result.changed && !result.replayed, `changed ${result.changed}, replayed ${result.replayed}`);
        expect(
          result.domain.inbound === changeBody.inbound,
          `inbound is ${result.domain.inbound}, not ${changeBody.inbound}`,
        );
        expect(
          result.domain.version === before.version + 1,
          `version ${result.domain.version}, not ${before.version + 1}`,
        );
        expect(answer.headers.get('etag') === `"${result.domain.version}"`, `ETag ${answer.headers.get('etag')}`);
        const now = await read(client);
        expect(
          now.inbound === changeBody.inbound && now.version === result.domain.version,
          'GET does not show the change',
        );
        changed = result.domain;
        return `inbound ${before.inbound} → ${changeBody.inbound}, v${now.version}`;
      }),
    ),
    check(
      'change in history and audit',
      skipping(async (client) => {
        const after = needChange();
        const { items } = await pageToEnd(
          client,
          '/audit',
          { limit: '100' },
          (b) => (b as { items: AuditItem[] }).items,
        );
        const history = items.filter((e) => e.domain === name);
        const entries = history.filter((e) => e.idempotencyKey === key);
        expect(entries.length === 1, `${entries.length} audit entries carry the change's key, not 1`);
        const entry = entries[0] as AuditItem;
        expect(entry.after?.inbound === after.inbound, `the audit entry says inbound ${entry.after?.inbound}`);
        expect(history.at(-1)?.id === entry.id, `the change is not the latest entry of ${name}'s history`);
        return entry.id;
      }),
    ),
    check(
      'replay returns first answer',
      skipping(async (client) => {
        const after = needChange();
        const answer = await patch(client, changeBody, {
          'idempotency-key': key,
          'if-match': `"${after.version - 1}"`,
        });
        expect(answer.status === 200, `replay: status ${answer.status}`);
        const result = answer.body as { domain: Domain; changed: boolean; replayed: boolean };
        expect(result.replayed, 'the replay says replayed: false');
        expect(answer.headers.get('idempotent-replayed') === 'true', 'no Idempotent-Replayed: true header');
        expect(result.domain.version === after.version, `the replay answers version ${result.domain.version}`);
        await unchangedSince(client, after, 'the replay');
        return 'replayed, nothing changed';
      }),
    ),
    check(
      '422 key reused',
      skipping(async (client) => {
        const after = needChange();
        const answer = await patch(
          client,
          { ...changeBody, reason: 'conformance check: other' },
          { 'idempotency-key': key },
        );
        expectError(answer, 422, 'idempotency_key_reused');
        await unchangedSince(client, after, 'a reused key');
        return 'idempotency_key_reused';
      }),
    ),
    check(
      '409 stale If-Match',
      skipping(async (client) => {
        const after = needChange();
        const answer = await patch(
          client,
          { inbound: needOriginal().inbound, reason: 'conformance check: stale', actor },
          { 'idempotency-key': `${run}:stale`, 'if-match': `"${after.version - 1}"` },
        );
        expectError(answer, 409, 'version_conflict');
        await unchangedSince(client, after, 'a stale If-Match');
        return 'version_conflict';
      }),
    ),
    check(
      `restore ${name}`,
      skipping(async (client) => {
        const before = needOriginal();
        const now = await read(client);
        if (now.inbound === before.inbound && now.outbound === before.outbound) return 'nothing to restore';
        const answer = await patch(
          client,
          { inbound: before.inbound, outbound: before.outbound, reason: 'conformance check: restore', actor },
          { 'idempotency-key': `${run}:restore` },
        );
        expect(answer.status === 200, `restore: status ${answer.status}`);
        const restored = await read(client);
        expect(
          restored.inbound === before.inbound && restored.outbound === before.outbound,
          `${name} is ${restored.inbound}/${restored.outbound}, not ${before.inbound}/${before.outbound}`,
        );
        return `${restored.inbound}/${restored.outbound} v${restored.version}`;
      }),
    ),
  ];
}
