import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A minimal Bot Connector service (what Teams exposes at activity.serviceUrl). The bot's real
// botbuilder send path POSTs replies and PUTs card updates here. `lagebot chat` uses it to show a
// reply in the terminal; tests and benchmarks use it as their fake connector (test/fakes).

export interface CapturedCall {
  method: 'POST' | 'PUT' | 'DELETE';
  conversationId: string;
  /** The reply-to id (POST) or the updated activity's id (PUT). */
  activityId: string | null;
  /** The id this fake gave the activity (POST) or the one it updated (PUT). */
  id: string;
  activity: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

export type Responder = (
  call: Omit<CapturedCall, 'id' | 'at'>,
) => { status: number; headers?: Record<string, string> } | null;

// restify patches http.ServerResponse for the whole process, after which writeHead() no longer
// returns the response: never chain it here.
export class LocalConnector {
  readonly calls: CapturedCall[] = [];
  private server: Server | null = null;
  private seq = 0;
  private waiters: Array<() => void> = [];
  /** Return a status to refuse a call (e.g. 429); null to accept it. */
  responder: Responder | null = null;
  /**
   * The roster TeamsInfo.getMember reads (GET /v3/conversations/{id}/members/{member}), keyed by the
   * member's Teams id or aadObjectId; whoever is not in it is answered 404, as Teams answers for a stranger.
   */
  readonly members = new Map<string, { id: string; name: string; aadObjectId: string; tenantId: string }>();
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Accepted messages (POSTs) into one conversation, optionally only replies to one activity. */
  messages(conversationId?: string): CapturedCall[] {
    return this.calls.filter((c) => c.method === 'POST' && (!conversationId || c.conversationId === conversationId));
  }

  updates(conversationId?: string): CapturedCall[] {
    return this.calls.filter((c) => c.method === 'PUT' && (!conversationId || c.conversationId === conversationId));
  }

  /** Waits until the predicate holds over the captured calls (polling on every new call). */
  async waitFor(predicate: (calls: CapturedCall[]) => boolean, timeoutMs = 10_000): Promise<CapturedCall[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `LocalConnector: condition not met within ${timeoutMs} ms; captured ${this.calls.length} calls`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.calls;
  }

  reset(): void {
    this.calls.length = 0;
    this.responder = null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    // /v3/conversations/{conversationId}/activities[/{activityId}]
    const m = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?\/?$/.exec(url.pathname);
    const member = /^\/v3\/conversations\/[^/]+\/members\/([^/]+)\/?$/.exec(url.pathname);
    if (req.method === 'GET' && member) {
      const found = this.members.get(decodeURIComponent(member[1]!));
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ?? { error: { code: 'MemberNotFoundInConversation' } }));
      return;
    }
    if (req.method === 'POST' && url.pathname.replace(/\/$/, '') === '/v3/conversations') {
      const id = `conv-${++this.seq}`;
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, activityId: `act-${this.seq}` }));
      return;
    }
    if (!m || !['POST', 'PUT', 'DELETE'].includes(req.method ?? '')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NotFound' } }));
      return;
    }
    let activity: Record<string, unknown> = {};
    try {
      activity = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      res.writeHead(400);
      res.end();
      return;
    }
    const call = {
      method: req.method as CapturedCall['method'],
      conversationId: decodeURIComponent(m[1]!),
      activityId: m[2] ? decodeURIComponent(m[2]) : null,
      activity,
      headers: req.headers,
    };
    const refusal = this.responder?.(call);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'application/json', ...refusal.headers });
      res.end(JSON.stringify({ error: { code: 'Throttled', message: 'refused by test' } }));
      this.notify();
      return;
    }
    const id = call.method === 'PUT' ? (call.activityId ?? `act-${++this.seq}`) : `act-${++this.seq}`;
    this.calls.push({ ...call, id, at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id }));
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Text of everything a reply shows: its text plus every TextBlock/Fact/button title of its cards. */
export function replyText(activity: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof activity.text === 'string') parts.push(activity.text);
  const attachments = (activity.attachments as Array<{ content?: unknown }> | undefined) ?? [];
  for (const a of attachments) collectText(a.content, parts);
  return parts.join('\n');
}

export function collectText(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectText(n, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (typeof o.text === 'string') out.push(o.text);
  if (typeof o.title === 'string') out.push(o.title);
  if (typeof o.value === 'string' && o.type === undefined) out.push(o.value);
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'data' && typeof v === 'object') collectText(v, out);
  }
}

export function cardOf(activity: Record<string, unknown>): Record<string, unknown> | undefined {
  const attachments = (activity.attachments as Array<{ contentType?: string; content?: unknown }> | undefined) ?? [];
  return attachments.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')?.content as
    | Record<string, unknown>
    | undefined;
}
