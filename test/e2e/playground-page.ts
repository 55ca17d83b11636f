import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';

// The Agents Playground's chat UI (@microsoft/m365agentsplayground 0.2.28) as a person uses it:
// pick a conversation on the left, type into the compose box, read the cards. Plus what the UI cannot
// do: act as another user, through the Playground's own invoke API.

export type ConversationName = 'Personal Chat' | 'Lage Südverband - General' | 'Lage Südverband - Freigaben';

type Card = Record<string, unknown> & { actions?: CardAction[] };
export interface CardAction {
  type: string;
  title?: string;
  verb?: string;
  data?: Record<string, unknown>;
}

/** A bot message as the Playground server streams it to the UI. */
export interface StreamedMessage {
  action: 'createMessage' | 'updateMessage';
  /** The conversation the UI shows it in (a channel post: the channel). */
  conversationId: string;
  /** A channel post: the post's own conversation ("<channel>;messageid=<id>"), where replies and invokes go. */
  postConversationId: string | undefined;
  messageId: string;
  card: Card | undefined;
}

export class PlaygroundPage {
  readonly streamed: StreamedMessage[] = [];
  #shot = 0;

  constructor(
    readonly page: Page,
    private readonly shotsDir: string,
  ) {
    mkdirSync(shotsDir, { recursive: true });
    // The UI renders what the server pushes on this socket; listening to it gives us the ids the
    // DOM does not show (the card's activity id, the channel post's conversation id).
    page.on('websocket', (ws) => {
      if (!ws.url().includes('/_ws_conversation/')) return;
      ws.on('framereceived', (frame) => {
        const streamed = parseFrame(String(frame.payload));
        if (streamed) this.streamed.push(streamed);
      });
    });
  }

  get composeBox(): Locator {
    // Lexical editors. A chat has one; a channel has its "Start a new post" box first, then a reply
    // box under every post.
    return this.page.locator('[role="textbox"][data-lexical-editor="true"]').first();
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.composeBox.waitFor({ timeout: 30_000 });
    // "Connected." in the log panel: the Playground reached the bot and installed the app.
    await this.page.getByText('Connected.', { exact: true }).waitFor({ timeout: 30_000 });
  }

  async openConversation(name: ConversationName): Promise<void> {
    await this.page.getByRole('treeitem', { name, exact: true }).click();
    await this.composeBox.waitFor();
  }

  /** Types a message into the open chat and sends it with Enter, as a person would. */
  async send(text: string): Promise<void> {
    await this.composeBox.click();
    await this.page.keyboard.type(text);
    await this.page.keyboard.press('Enter');
  }

  /** A new post in the open channel, starting with an @-mention picked from the mention list. */
  async postWithMention(botName: string, text: string): Promise<void> {
    await this.composeBox.click();
    await this.page.keyboard.type(`@${botName.slice(0, 4)}`);
    // The suggestion is a menu item; the bot's name also stands on its own posts (e.g. its greeting).
    await this.page.getByRole('menuitem', { name: botName }).first().click();
    await this.page.keyboard.type(` ${text}`);
    await this.page.getByRole('button', { name: 'Post', exact: true }).click();
  }

  /** The rendered Adaptive Cards of the open conversation whose text contains `text`. */
  cards(text: string | RegExp): Locator {
    return this.page.locator('.ac-adaptiveCard').filter({ hasText: text });
  }

  /**
   * Saves test-results/e2e/NN-name.png and returns its path. `top`: scrolled to the top of the chat,
   * with a little of the conversation above it, so the shot starts at a card's heading.
   */
  async screenshot(name: string, top?: Locator): Promise<string> {
    if (top) {
      await top.evaluate((el) => {
        el.scrollIntoView({ block: 'start' });
        for (let p = el.parentElement; p; p = p.parentElement) {
          if (p.scrollHeight > p.clientHeight && getComputedStyle(p).overflowY !== 'visible') {
            p.scrollTop -= 100;
            break;
          }
        }
      });
    }
    this.#shot += 1;
    const path = join(this.shotsDir, `${String(this.#shot).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  async waitForStreamed(
    predicate: (m: StreamedMessage) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<StreamedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.streamed.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = this.streamed.map((m) => `${m.action} ${m.postConversationId ?? m.conversationId}`).join('; ');
        throw new Error(`the Playground streamed no ${what} within ${timeoutMs} ms (seen: ${seen || 'nothing'})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function parseFrame(payload: string): StreamedMessage | null {
  let frame: {
    action?: unknown;
    actionConversationId?: unknown;
    message?: { messageId?: unknown; postConversationId?: unknown; attachments?: Array<{ content?: unknown }> };
  };
  try {
    frame = JSON.parse(payload);
  } catch {
    return null;
  }
  if (frame.action !== 'createMessage' && frame.action !== 'updateMessage') return null;
  if (typeof frame.actionConversationId !== 'string' || typeof frame.message?.messageId !== 'string') return null;
  const content = frame.message.attachments?.[0]?.content;
  return {
    action: frame.action,
    conversationId: frame.actionConversationId,
    postConversationId:
      typeof frame.message.postConversationId === 'string' ? frame.message.postConversationId : undefined,
    messageId: frame.message.messageId,
    card: content && typeof content === 'object' ? (content as Card) : undefined,
  };
}

/** The text a person sees in the element (rendered: hidden parts left out, blocks on their own lines). */
export function visibleText(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator, and what is rendered is the point.
  return locator.innerText();
}

export function actionOf(card: Card | undefined, verb: string): CardAction | undefined {
  return card?.actions?.find((a) => a.verb === verb);
}

export interface PlaygroundUser {
  id: string;
  name: string;
  aadObjectId: string;
}

/** The config the Playground loaded (.m365agentsplayground.yml), from its internal API. */
export async function readPlaygroundConfig(
  playgroundUrl: string,
): Promise<{ currentUser: PlaygroundUser; users: PlaygroundUser[] }> {
  const res = await fetch(`${playgroundUrl}/_internal/v1/testConfig`);
  if (!res.ok) throw new Error(`GET /_internal/v1/testConfig answered ${res.status}`);
  return ((await res.json()) as { config: { currentUser: PlaygroundUser; users: PlaygroundUser[] } }).config;
}

/**
 * Clicks an Action.Execute button as another user of the Playground config. The UI has one current
 * user and no switch; this is the Playground's own endpoint behind its card buttons, and the activity
 * reaches the bot as that user (name and aadObjectId filled in by the Playground). Returns the card
 * the bot answered with: the view the clicking user would see.
 */
export async function invokeCardAction(
  playgroundUrl: string,
  click: { fromId: string; conversationId: string; replyToId: string; action: CardAction },
): Promise<Card> {
  const res = await fetch(`${playgroundUrl}/_conversation/v1/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: click.action.verb, data: click.action.data } },
      from: { id: click.fromId },
      conversation: { id: click.conversationId },
      replyToId: click.replyToId,
    }),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`the Playground's invoke answered ${res.status}: ${body.slice(0, 500)}`);
  const parsed = JSON.parse(body) as { type?: string; value?: Card };
  if (parsed.type !== 'application/vnd.microsoft.card.adaptive' || !parsed.value) {
    throw new Error(`the bot answered the ${click.action.verb} click without a card: ${body.slice(0, 500)}`);
  }
  return parsed.value;
}

/** All text of a card (TextBlocks, facts, button titles), for assertions on the bot's answer. */
export function cardText(card: unknown): string {
  const parts: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
    } else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (typeof value === 'string' && (key === 'text' || key === 'title' || key === 'value')) parts.push(value);
        else walk(value);
      }
    }
  };
  walk(card);
  return parts.join('\n');
}
