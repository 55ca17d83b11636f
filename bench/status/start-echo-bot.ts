import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Application } from '@microsoft/teams-ai/lib/Application.js';
import type { TurnState } from '@microsoft/teams-ai/lib/TurnState.js';
import { ActivityTypes } from 'botbuilder';
import { loadConfig } from '../../src/config.ts';
import type { Logger } from '../../src/domain/logger.ts';
import { createBotAdapter } from '../../src/teams/create-bot-adapter.ts';
import { createHttpServer } from '../../src/teams/create-http-server.ts';

// The baseline of docs/decisions/performance-targets.md: "a bare echo route on the same stack". Same restify server
// (createHttpServer), same adapter (createBotAdapter) in local mode and same Application options as
// src/start-lagebot.ts; the one route answers with the text it got. No store, no services.

export interface EchoBot {
  url: string;
  close(): Promise<void>;
}

export async function startEchoBot(o: { logger: Logger; port?: number; host?: string }): Promise<EchoBot> {
  const adapter = createBotAdapter(loadConfig({}));
  const app = new Application<TurnState>({ adapter, removeRecipientMention: true, startTypingTimer: false });
  app.activity(ActivityTypes.Message, async (context) => {
    await context.sendActivity(String(context.activity.text ?? ''));
  });
  const server = createHttpServer({
    processActivity: (req, res) =>
      adapter.handleRequest(req, res, async (context) => {
        await app.run(context);
      }),
    readiness: [],
    metricsText: async () => ({ contentType: 'text/plain', body: '' }),
    logger: o.logger,
  });
  const host = o.host ?? '127.0.0.1';
  server.listen(o.port ?? 0, host);
  await once(server.server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    async close() {
      server.server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
