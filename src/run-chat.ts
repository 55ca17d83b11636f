import { randomUUID } from 'node:crypto';
import { createLogger } from './adapters/create-logger.ts';
import type { Config } from './config.ts';
import { demoTenantId, findDemoUser } from './demo-users.ts';
import { cardToText } from './teams/card-to-text.ts';
import { cardOf, LocalConnector } from './teams/local-connector.ts';

// `lagebot chat "status Kreis Olpe"`: one message to a running bot (or one started in-process),
// the reply printed readably. How an operator without Teams, and a developer, try the bot.

interface ChatArgs {
  text: string;
  /** Click a card button instead of sending text: the verb and data the button shows. */
  invoke: { verb: string; data: Record<string, unknown> } | null;
  lang: 'de' | 'en';
  as: string;
  url: string | null;
  timeoutMs: number;
}

export function parseChatArgs(argv: string[]): ChatArgs | string {
  const words: string[] = [];
  const out: ChatArgs = { text: '', invoke: null, lang: 'de', as: 'operator', url: null, timeoutMs: 30_000 };
  let invokeVerb: string | null = null;
  let invokeData = '{}';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--lang') {
        const v = next();
        if (v !== 'de' && v !== 'en') return '--lang takes de or en';
        out.lang = v;
      } else if (a === '--as') out.as = next();
      else if (a === '--url') out.url = next().replace(/\/$/, '');
      else if (a === '--timeout') out.timeoutMs = Number(next()) * 1000;
      else if (a === '--invoke') invokeVerb = next();
      else if (a === '--data') invokeData = next();
      else words.push(a);
    } catch (error) {
      return (error as Error).message;
    }
  }
  out.text = words.join(' ').trim();
  if (invokeVerb) {
    try {
      const data = JSON.parse(invokeData) as unknown;
      if (!data || typeof data !== 'object' || Array.isArray(data)) return '--data takes a JSON object';
      out.invoke = { verb: invokeVerb, data: data as Record<string, unknown> };
    } catch {
      return `--data is not valid JSON: ${invokeData}`;
    }
  } else if (!out.text) {
    return 'Usage: lagebot chat "<text>" [--lang en] [--as operator|approver1|approver2|viewer] [--url http://127.0.0.1:3978]\n       lagebot chat --invoke <verb> --data \'<json>\' --as approver2   (click a card button)';
  }
  if (!findDemoUser(out.as))
    return `--as: unknown user "${out.as}" (viewer, operator, operator2, approver1, approver2)`;
  return out;
}

async function isUp(url: string): Promise<boolean> {
  try {
    // Generous: a bot busy with a status burst, or a loaded CI machine, answers /healthz in seconds, and
    // a false "no bot" would start a second one (or, with --url, fail the command).
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function runChat(config: Config, argv: string[]): Promise<number> {
  const args = parseChatArgs(argv);
  if (typeof args === 'string') {
    console.error(args);
    return 1;
  }
  const user = findDemoUser(args.as)!;
  const connector = await new LocalConnector().start();
  let botUrl = args.url ?? `http://127.0.0.1:${config.port}`;
  let stopBot: (() => Promise<void>) | null = null;
  try {
    if (!(await isUp(botUrl))) {
      if (args.url) {
        console.error(`No bot answers at ${args.url}/healthz. Start one with \`npm start\` or leave out --url.`);
        return 1;
      }
      const { startLagebot } = await import('./start-lagebot.ts');
      const bot = await startLagebot(
        { ...config, port: 0, simPort: 0, host: '127.0.0.1' },
        { logger: createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr as never) },
      );
      stopBot = () => bot.close();
      botUrl = bot.url;
      console.error(`(no bot on port ${config.port}: started one in-process)`);
    }
    const conversationId = `a:chat-${user.aadObjectId}`;
    const locale = args.lang === 'en' ? 'en-US' : 'de-DE';
    const activity = {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.url,
      from: { id: `29:${user.aadObjectId}`, name: user.name, aadObjectId: user.aadObjectId },
      recipient: { id: '28:lagebot', name: 'Lagebot' },
      conversation: { id: conversationId, conversationType: 'personal', tenantId: demoTenantId },
      channelData: { tenant: { id: demoTenantId } },
      locale,
      ...(args.invoke
        ? {
            type: 'invoke',
            name: 'adaptiveCard/action',
            value: {
              action: { type: 'Action.Execute', verb: args.invoke.verb, data: args.invoke.data },
              trigger: 'manual',
            },
          }
        : { type: 'message', text: args.text }),
    };
    const res = await fetch(`${botUrl}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(activity),
      signal: AbortSignal.timeout(args.timeoutMs),
    });
    if (!res.ok) {
      console.error(`The bot answered HTTP ${res.status}: ${await res.text()}`);
      return 1;
    }
    if (args.invoke) {
      // The card that replaces the clicked one comes back in the invoke response.
      const body = (await res.json()) as { value?: unknown };
      console.log(body.value ? cardToText(body.value, { showActions: true }) : JSON.stringify(body));
      return 0;
    }
    // Replies are sent while the turn runs; a short quiet period after the last one ends the wait.
    await connector.waitFor((calls) => calls.length > 0, args.timeoutMs);
    let seen = -1;
    while (seen !== connector.calls.length) {
      seen = connector.calls.length;
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const call of connector.calls) {
      const card = cardOf(call.activity);
      const text = typeof call.activity.text === 'string' ? call.activity.text : '';
      console.log(card ? cardToText(card, { showActions: true }) : text);
      console.log('');
    }
    return 0;
  } finally {
    await connector.close();
    await stopBot?.();
  }
}
