import { connect } from 'node:net';

// A minimal SMTP client for the lab and its tests: one message, and the server's answer — the reply
// to the first refused command (a 4xx or 5xx for a recipient, for DATA) or the final 250.

export interface SmtpAnswer {
  code: number;
  text: string;
  stage: 'connect' | 'mail' | 'rcpt' | 'data' | 'done';
}

export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export function sendMail(opts: {
  host?: string;
  port: number;
  from: string;
  to: string[];
  subject: string;
  body?: string;
}): Promise<SmtpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(opts.port, opts.host ?? '127.0.0.1');
    socket.setTimeout(30_000, () => socket.destroy(new Error('SMTP timeout')));
    let buffer = '';
    const waiting: ((reply: { code: number; text: string }) => void)[] = [];
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const m = /^(\d{3}) ([^\r\n]*)\r\n/m.exec(buffer);
        if (!m) return;
        // Multi-line replies: only the last line (code followed by a space) completes it.
        buffer = buffer.slice((m.index ?? 0) + m[0].length);
        waiting.shift()?.({ code: Number(m[1]), text: m[2] as string });
      }
    });
    socket.on('error', reject);
    const next = () => new Promise<{ code: number; text: string }>((r) => waiting.push(r));
    const command = (line: string) => {
      const reply = next();
      socket.write(`${line}\r\n`);
      return reply;
    };
    const finish = (answer: SmtpAnswer) => {
      socket.end('QUIT\r\n');
      resolve(answer);
    };
    (async () => {
      const greeting = await next();
      if (greeting.code !== 220) return finish({ ...greeting, stage: 'connect' });
      await command('EHLO lab-client.localhost');
      const mail = await command(`MAIL FROM:<${opts.from}>`);
      if (mail.code >= 400) return finish({ ...mail, stage: 'mail' });
      for (const to of opts.to) {
        const rcpt = await command(`RCPT TO:<${to}>`);
        if (rcpt.code >= 400) return finish({ ...rcpt, stage: 'rcpt' });
      }
      const data = await command('DATA');
      if (data.code !== 354) return finish({ ...data, stage: 'data' });
      const message = [
        `From: <${opts.from}>`,
        `To: ${opts.to.map((t) => `<${t}>`).join(', ')}`,
        `Subject: ${opts.subject}`,
        `Date: ${new Date().toUTCString()}`,
        '',
        ...(opts.body ?? 'Testnachricht aus dem Lagebot-Mail-Lab.')
          .split('\n')
          .map((l) => (l.startsWith('.') ? `.${l}` : l)),
      ].join('\r\n');
      const done = await command(`${message}\r\n.`);
      finish({ ...done, stage: done.code < 400 ? 'done' : 'data' });
    })().catch(reject);
  });
}
