import { loadGatewayAgentConfig } from '../../src/config.ts';
import { startGatewayAgent } from '../../src/gateway-agent/start-gateway-agent.ts';

// A gateway agent that SIGKILLs itself at one step of its first change (CRASH_AT = maps-written |
// reloaded): what a power cut or an OOM kill does to a real agent at the worst moment.
const crashAt = process.env.CRASH_AT;
const agent = await startGatewayAgent(loadGatewayAgentConfig(process.env), {
  log: () => {},
  onPhase: (phase) => {
    if (phase === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
console.log(`ready ${agent.url}`);
