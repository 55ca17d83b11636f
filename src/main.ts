import { type Config, ConfigError, loadConfig } from './config.ts';
import { waitForSignal } from './wait-for-signal.ts';

// CLI and entry point: `lagebot demo | serve | sim | chat | playground | package | audit verify`.

const usage = `Usage: lagebot <command> [options]

  demo [--no-playground] [--mail-lab]
                           simulator + bot (+ Agents Playground): what \`npm start\` runs; --mail-lab points the
                           bot's gateway at the mail lab (started if needed; inventory from the simulator)
  serve                    the bot alone (embedded simulator unless INVENTORY_API_URL/GATEWAY_API_URL are set)
  sim                      the simulator of both back-end APIs alone, on SIM_PORT
  chat "<text>" [--lang en] [--as operator|approver|viewer] [--url http://127.0.0.1:3978]
                           send one message to a running bot (or an in-process one) and print the reply
  playground --as <user>   a second Agents Playground on the running demo, as that demo user
  package                  build build/lagebot.zip (Teams app package)
  audit verify             check the audit log's hash chain
  mail-lab up|down|status|send
                           Postfix + rspamd + delivery sink + gateway agent on loopback (needs root)
  gateway-agent            the gateway-control API over Postfix and rspamd, on the gateway host (GATEWAY_AGENT_PORT)
  conformance --gateway <url> [--inventory <url>] [--allow-changes --domain <d>]
                           check a back end against api/*.openapi.yaml (table; exit 1 on a failure)

Configuration comes from environment variables; see README.md.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return command ? 0 : 1;
  }
  if (command === 'package') {
    // Packaging needs the app id and nothing else: not the secret, not the rest of the bot's
    // configuration, so it runs on a machine that will never run the bot.
    const { runPackage } = await import('./run-package.ts');
    return runPackage(process.env.MicrosoftAppId);
  }
  if (command === 'conformance') {
    // Checks someone else's back end: needs none of the bot's configuration.
    const { runConformance } = await import('./conformance/run-conformance.ts');
    return runConformance(rest);
  }
  if (command === 'mail-lab') {
    const { runMailLab } = await import('./mail-lab/run-mail-lab.ts');
    return runMailLab(rest, process.env);
  }
  if (command === 'gateway-agent') {
    const { runGatewayAgent } = await import('./gateway-agent/run-gateway-agent.ts');
    return runGatewayAgent(process.env);
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(line);
      return 2;
    }
    throw error;
  }
  switch (command) {
    case 'demo': {
      const { runDemo } = await import('./run-demo.ts');
      const playground = config.playground.enabled && !rest.includes('--no-playground');
      if (rest.includes('--mail-lab')) {
        const { mailLabGateway } = await import('./mail-lab/mail-lab-gateway.ts');
        return runDemo({ ...config, gateway: await mailLabGateway(process.env) }, { playground });
      }
      return runDemo(config, { playground });
    }
    case 'serve': {
      const { startLagebot } = await import('./start-lagebot.ts');
      const bot = await startLagebot(config);
      return waitForSignal(() => bot.close());
    }
    case 'sim': {
      const { startSimServer } = await import('./sim/server.ts');
      const sim = await startSimServer({
        port: config.simPort,
        host: process.env.SIM_HOST ?? '127.0.0.1',
        seed: config.sim.seed,
        scenario: config.sim.scenario,
        devices: config.sim.devices,
        speed: config.sim.speed ?? 1,
        tokens: { inventory: config.inventory.token, gateway: config.gateway.token },
      });
      console.log(
        `Simulator: inventory API ${sim.url}/inventory/v1, gateway API ${sim.url}/gateway/v1, controls ${sim.url}/sim/v1`,
      );
      return waitForSignal(() => sim.close());
    }
    case 'playground': {
      const { runPlayground } = await import('./run-playground.ts');
      return runPlayground(config, rest);
    }
    case 'chat': {
      const { runChat } = await import('./run-chat.ts');
      return runChat(config, rest);
    }
    case 'audit': {
      if (rest[0] !== 'verify') {
        console.error('Usage: lagebot audit verify');
        return 1;
      }
      const { runAuditVerify } = await import('./run-audit-verify.ts');
      return runAuditVerify(config, rest.includes('--lang=en') || rest.includes('en') ? 'en' : 'de');
    }
    default:
      console.error(`Unknown command "${command}".\n\n${usage}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? `lagebot: ${error.message}` : error);
    process.exit(1);
  },
);
