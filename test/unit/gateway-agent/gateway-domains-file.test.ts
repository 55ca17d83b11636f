import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DomainsFileError,
  loadGatewayDomains,
  parseGatewayDomains,
} from '../../../src/gateway-agent/gateway-domains-file.ts';
import { DEFAULT_DOMAINS_FILE } from '../../../src/gateway-agent/start-gateway-agent.ts';

test('the shipped Südwestfalen file: 64 domains, all held both ways at first, blockMode hold', () => {
  const file = loadGatewayDomains(DEFAULT_DOMAINS_FILE);
  assert.equal(file.domains.length, 64);
  assert.deepEqual(file.initial, { inbound: 'held', outbound: 'held' });
  assert.ok(file.domains.every((d) => d.blockMode === 'hold'));
  assert.equal(file.domains.find((d) => d.domain === 'attendorn.de')?.kreis, 'kr-olpe');
});

test('a wrong value names the file, the line and what is expected', () => {
  const text = [
    'domains:',
    '  - domain: attendorn.de',
    '    municipality: null',
    '    kreis: kr-olpe',
    '    verband: vb-sued',
    '    blockMode: bounce',
  ].join('\n');
  assert.throws(
    () => parseGatewayDomains(text, 'd.yaml'),
    (e: Error) => {
      assert.ok(e instanceof DomainsFileError);
      assert.match(
        e.message,
        /^d\.yaml:6: domains\.0\.blockMode: Invalid enum value\. Expected 'hold' \| 'defer' \| 'reject'/,
      );
      return true;
    },
  );
});

test('a duplicate, an upper-case domain, a missing key and broken YAML are refused with their lines', () => {
  const entry = (d: string) => [`  - domain: ${d}`, '    municipality: null', '    kreis: k', '    verband: v'];
  assert.throws(
    () => parseGatewayDomains(['domains:', ...entry('a.de'), ...entry('a.de')].join('\n'), 'f'),
    /^Error: f:6: domains\.1\.domain: a\.de is listed twice/,
  );
  assert.throws(
    () => parseGatewayDomains(['domains:', ...entry('A.de')].join('\n'), 'f'),
    /f:2: domains\.0\.domain: expected a lower-case mail domain/,
  );
  assert.throws(
    () => parseGatewayDomains(['domains:', '  - domain: a.de', '    kreis: k'].join('\n'), 'f'),
    /f:2: domains\.0\.municipality: Required/,
  );
  assert.throws(() => parseGatewayDomains('domains: [a.de\n', 'f'), /f:\d+: not valid YAML\/JSON/);
});
