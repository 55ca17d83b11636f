import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runGatewayAgent } from '../../../src/gateway-agent/run-gateway-agent.ts';
import { captureConsole } from '../../conformance/capture-console.ts';

// `lagebot gateway-agent` refuses a wrong variable or domains file with one line and exit 2, before it
// touches Postfix.

test('a wrong port or a wrong domains file: one line naming it, exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
  try {
    const port = await captureConsole(() => runGatewayAgent({ GATEWAY_AGENT_PORT: 'abc', DATA_DIR: dir }));
    assert.equal(port.result, 2);
    assert.equal(port.stderr, 'Invalid configuration: GATEWAY_AGENT_PORT="abc": expected a port number');
    const file = join(dir, 'domains.yaml');
    writeFileSync(
      file,
      'domains:\n  - domain: a.de\n    municipality: null\n    kreis: k\n    verband: v\n    blockMode: bounce\n',
    );
    const domains = await captureConsole(() =>
      runGatewayAgent({
        GATEWAY_DOMAINS_FILE: file,
        GATEWAY_API_TOKEN: 't',
        DATA_DIR: dir,
        POSTFIX_MAP_DIR: join(dir, 'maps'),
      }),
    );
    assert.equal(domains.result, 2);
    assert.match(domains.stderr, /^gateway-agent: .*domains\.yaml:6: domains\.0\.blockMode: Invalid enum value/);
    assert.equal(domains.stderr.split('\n').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
