import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real node:http server on 127.0.0.1:0 that answers from a queue of scripted replies and records
// every request, so the clients are tested over real sockets with real fetch.

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Reply =
  | { status: number; json?: unknown; raw?: string; headers?: Record<string, string> }
  | { hang: true }
  /** Send the status line, headers and the start of a body, then stall. */
  | { stallAfter: string }
  | ((req: RecordedRequest) => Reply);

export interface FakeHttpServer {
  url: string;
  requests: RecordedRequest[];
  /** Queue replies for the next requests, in order. A request with nothing queued gets a 599. */
  reply(...replies: Reply[]): void;
  /** Forget queued replies and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeHttpServer(): Promise<FakeHttpServer> {
  const queue: Reply[] = [];
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      let reply: Reply = queue.shift() ?? {
        status: 599,
        json: { error: { code: 'no_reply', message: 'nothing queued' } },
      };
      while (typeof reply === 'function') reply = reply(recorded);
      if ('hang' in reply) return; // never answer; closeAllConnections ends it
      if ('stallAfter' in reply) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(reply.stallAfter);
        return;
      }
      const body = reply.raw ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply: (...replies) => queue.push(...replies),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function errorReply(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return { status, json: { error: { code, message } }, ...(headers ? { headers } : {}) };
}
