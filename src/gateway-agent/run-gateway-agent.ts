import { ConfigError, loadGatewayAgentConfig } from '../config.ts';
import { waitForSignal } from '../wait-for-signal.ts';
import { DomainsFileError } from './gateway-domains-file.ts';
import { startGatewayAgent } from './start-gateway-agent.ts';

// `lagebot gateway-agent`: one line for a wrong configuration or domains file (exit 2), else runs until
// SIGINT/SIGTERM.

export async function runGatewayAgent(env: Record<string, string | undefined>): Promise<number> {
  try {
    const config = loadGatewayAgentConfig(env);
    if (!config.token) console.warn('gateway-agent: GATEWAY_API_TOKEN is not set: the API accepts every caller');
    const agent = await startGatewayAgent(config);
    console.log(`gateway-agent: serving ${agent.url}`);
    return waitForSignal(() => agent.close());
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(line);
      return 2;
    }
    if (error instanceof DomainsFileError) {
      console.error(`gateway-agent: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
