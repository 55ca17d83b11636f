// A bot in its own process, for tests that kill it (SIGKILL) and start it again on the same state.
// BOT_CHILD_CLOCK_URL (the simulator's /sim/v1/clock): the bot's clock follows the simulator's, as the
// embedded simulator's does in the demo, so a test can stop a bot at 07:59 and start the next at 08:05.
import { createLogger } from '../../src/adapters/create-logger.ts';
import { loadConfig } from '../../src/config.ts';
import { startLagebot } from '../../src/start-lagebot.ts';

const clockUrl = process.env.BOT_CHILD_CLOCK_URL;
let simNow = Date.now();
if (clockUrl) {
  const read = async () => {
    simNow = Date.parse(((await (await fetch(clockUrl)).json()) as { now: string }).now);
  };
  await read();
  // The simulator's clock is frozen in these tests and moves only when the test moves it, before it starts
  // the child; the refresh is for a test that moves it while the child runs.
  setInterval(() => void read().catch(() => {}), 100).unref();
}

const config = loadConfig(process.env);
const bot = await startLagebot(config, {
  logger: createLogger(process.env.CHILD_LOG_LEVEL ?? 'silent'),
  ...(clockUrl ? { now: () => new Date(simNow) } : {}),
});
process.stdout.write(`READY ${bot.url}\n`);
process.on('SIGTERM', () => {
  bot.close().then(() => process.exit(0));
});
