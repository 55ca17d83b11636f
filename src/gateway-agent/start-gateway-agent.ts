import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayAgentConfig } from '../config.ts';
import { projectRoot } from '../project-root.ts';
import { openAgentState } from './agent-state.ts';
import { createGatewayAgent, type GatewayAgent, type Phase } from './gateway-agent.ts';
import { startGatewayAgentServer } from './gateway-agent-server.ts';
import { loadGatewayDomains } from './gateway-domains-file.ts';
import { createPostfixControl } from './postfix-control.ts';

// Composition of `lagebot gateway-agent`: the domains file, the state, Postfix and rspamd, reconcile,
// then the HTTP server and the sweep that releases what may flow and reads rspamd's verdicts.

export const DEFAULT_DOMAINS_FILE = join(projectRoot, 'config', 'gateway-domains.suedwestfalen.yaml');
const SWEEP_INTERVAL_MS = 2000;

export interface RunningGatewayAgent {
  url: string;
  port: number;
  agent: GatewayAgent;
  close(): Promise<void>;
}

export async function startGatewayAgent(
  config: GatewayAgentConfig,
  hooks: {
    onPhase?: (phase: Phase) => void | Promise<void>;
    log?: (line: string) => void;
    /** The agent's clock (change times, which minutes are complete); a test moves it instead of waiting. */
    now?: () => Date;
  } = {},
): Promise<RunningGatewayAgent> {
  const log = hooks.log ?? ((line: string) => console.log(`gateway-agent: ${line}`));
  const domains = loadGatewayDomains(config.domainsFile ?? DEFAULT_DOMAINS_FILE);
  mkdirSync(config.mapDir, { recursive: true });
  const state = openAgentState(config.statePath);
  const agent = createGatewayAgent({
    domains,
    state,
    postfix: createPostfixControl({ configDir: config.postfixConfigDir, mapDir: config.mapDir }),
    mapDir: config.mapDir,
    rspamd: config.rspamd,
    onPhase: hooks.onPhase,
    log,
    now: hooks.now,
  });
  const reconciled = await agent.reconcile();
  log(
    `${domains.domains.length} domains; reconciled maps in ${config.mapDir}` +
      (reconciled.mapsRewritten.length ? ` (rewrote ${reconciled.mapsRewritten.join(', ')})` : ' (unchanged)') +
      (reconciled.released ? `, released ${reconciled.released} held messages` : ''),
  );
  const server = await startGatewayAgentServer(agent, {
    port: config.port,
    host: config.host,
    token: config.token,
    now: hooks.now,
  });
  agent.startSweeping(SWEEP_INTERVAL_MS);
  return {
    url: server.url,
    port: server.port,
    agent,
    async close() {
      await server.close();
      await agent.close();
      state.close();
    },
  };
}
