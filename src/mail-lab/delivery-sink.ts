import { appendFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';

// The mail lab's stand-in for the municipalities' internal Exchange (and for the internet, for mail
// leaving the estate): an SMTP server Postfix relays everything to, which records each message, and
// GET /lab/v1/delivered?domain= listing what arrived for a recipient domain. Plain SMTP without
// extensions (no PIPELINING), which Postfix's client speaks fine.

export interface DeliveredMessage {
  recipients: string[];
  sender: string;
  subject: string | null;
  messageId: string | null;
  deliveredAt: string;
}

export interface DeliverySink {
  smtpPort: number;
  httpPort: number;
  delivered(domain?: string): DeliveredMessage[];
  close(): Promise<void>;
}

export async function startDeliverySink(opts: {
  host: string;
  smtpPort: number;
  httpPort: number;
  journal?: string;
}): Promise<DeliverySink> {
  const messages: DeliveredMessage[] = [];
  const sockets = new Set<Socket>();
  const record = (m: DeliveredMessage) => {
    messages.push(m);
    if (opts.journal) appendFileSync(opts.journal, `${JSON.stringify(m)}\n`);
  };
  const smtp = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let sender = '';
    let recipients: string[] = [];
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 lagebot-mail-lab-sink ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const data = buffer.slice(0, end).replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          const headers = data.split(/\r\n\r\n/)[0] ?? '';
          const header = (name: string) =>
            new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im')
              .exec(headers)?.[1]
              ?.replace(/\r\n[ \t]/g, ' ') ?? null;
          record({
            recipients,
            sender,
            subject: header('Subject'),
            messageId: header('Message-ID'),
            deliveredAt: new Date().toISOString(),
          });
          recipients = [];
          sender = '';
          reply('250 2.0.0 delivered');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') reply('250 lagebot-mail-lab-sink');
        else if (verb === 'MAIL') {
          sender = /<([^>]*)>/.exec(line)?.[1] ?? '';
          recipients = [];
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          recipients.push((/<([^>]*)>/.exec(line)?.[1] ?? '').toLowerCase());
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'RSET') {
          sender = '';
          recipients = [];
          reply('250 2.0.0 ok');
        } else if (verb === 'NOOP') reply('250 2.0.0 ok');
        else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
          return;
        } else reply('502 5.5.2 not implemented');
      }
    });
  });
  const delivered = (domain?: string) =>
    domain === undefined
      ? [...messages]
      : messages.filter((m) => m.recipients.some((r) => r.endsWith(`@${domain.toLowerCase()}`)));
  const http = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink');
    if (req.method === 'GET' && url.pathname === '/lab/v1/delivered') {
      const domain = url.searchParams.get('domain') ?? undefined;
      const items = delivered(domain).map((m) => ({
        ...m,
        recipients:
          domain === undefined ? m.recipients : m.recipients.filter((r) => r.endsWith(`@${domain.toLowerCase()}`)),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'GET /lab/v1/delivered?domain=<domain>' } }));
  });
  await Promise.all([
    new Promise<void>((resolve, reject) =>
      smtp.once('error', reject).listen(opts.smtpPort, opts.host, () => resolve()),
    ),
    new Promise<void>((resolve, reject) =>
      http.once('error', reject).listen(opts.httpPort, opts.host, () => resolve()),
    ),
  ]);
  return {
    smtpPort: (smtp.address() as AddressInfo).port,
    httpPort: (http.address() as AddressInfo).port,
    delivered,
    close: async () => {
      for (const s of sockets) s.destroy();
      const closed = Promise.all([new Promise((r) => smtp.close(r)), new Promise((r) => http.close(r))]);
      // Keep-alive HTTP clients would hold close() open otherwise.
      http.closeAllConnections();
      await closed;
    },
  };
}
