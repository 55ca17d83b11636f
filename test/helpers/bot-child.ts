// A bot in its own process, for tests that kill it (SIGKILL) and start it again on the same state.
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startLagebot } from '../../src/start-lagebot.ts';

const config = loadConfig(process.env);
const bot = await startLagebot(config, { logger: createLogger(process.env.CHILD_LOG_LEVEL ?? 'silent') });
process.stdout.write(`READY ${bot.url}\n`);
process.on('SIGTERM', () => {
  bot.close().then(() => process.exit(0));
});
