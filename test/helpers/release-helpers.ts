import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invoke, message, post, type TestUser, users } from '../fakes/activities.ts';
import { cardOf, replyText } from '../fakes/fake-bot-connector.ts';
import type { TestBot } from './start-test-bot.ts';

// Roles for the integration tests: approver1 is also an operator, so self-approval can be tried.
// Written into one temp folder per test process, removed when the process exits.
let rolesDir: string | null = null;
export function writeTestRoles(): string {
  if (!rolesDir) {
    const dir = mkdtempSync(join(tmpdir(), 'lagebot-roles-'));
    rolesDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const path = join(rolesDir, `roles-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      roles: {
        viewer: ['*'],
        operator: [users.operator.aadObjectId, users.approver1.aadObjectId],
        approver: [users.approver1.aadObjectId, users.approver2.aadObjectId],
      },
    }),
  );
  return path;
}

/** Sends a chat message and returns the bot's replies to it. */
export async function say(t: TestBot, text: string, user: TestUser, locale = 'de-DE') {
  const before = t.connector.calls.length;
  const activity = message(text, { serviceUrl: t.connector.url, user, locale });
  const res = await post(t.botUrl, activity);
  assert.equal(res.status, 200);
  await t.connector.waitFor((calls) => calls.slice(before).some((c) => c.method === 'POST'));
  return t.connector.calls.slice(before).filter((c) => c.method === 'POST');
}

export interface CardRef {
  requestId: string;
  version: number;
}

/** The request id and version the card's buttons carry. */
export function refOf(card: Record<string, unknown> | undefined): CardRef {
  const actions = (card?.actions as Array<{ data?: CardRef }> | undefined) ?? [];
  const data = actions.find((a) => a.data?.requestId)?.data;
  assert.ok(data, `card has no request buttons: ${JSON.stringify(card).slice(0, 400)}`);
  return data;
}

/** Clicks an Action.Execute button as a user; returns the card Teams would show that user. */
export async function click(t: TestBot, verb: string, data: Record<string, unknown>, user: TestUser) {
  const res = await post(t.botUrl, invoke(verb, data, { serviceUrl: t.connector.url, user }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const body = res.body as { statusCode: number; value: Record<string, unknown> };
  assert.equal(body.statusCode, 200);
  return { card: body.value, text: replyText({ attachments: [{ content: body.value }] }) };
}

export async function requestFrom(t: TestBot, text: string, user: TestUser) {
  const replies = await say(t, text, user);
  const card = cardOf(replies.at(-1)!.activity);
  const hasRef = ((card?.actions as Array<{ data?: { requestId?: unknown } }> | undefined) ?? []).some(
    (a) => a.data?.requestId,
  );
  return { card, text: replyText(replies.at(-1)!.activity), ref: hasRef ? refOf(card) : null };
}

export async function gatewayDomains(t: TestBot, verband: string) {
  const res = await fetch(`${t.simUrl}/gateway/v1/domains?verband=${verband}`);
  return (
    (await res.json()) as { items: Array<{ domain: string; inbound: string; outbound: string; version: number }> }
  ).items;
}

export async function gatewayAudit(t: TestBot) {
  const items: Array<{ action: string; domain: string; idempotencyKey: string | null }> = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(
      `${t.simUrl}/gateway/v1/audit?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    const page = (await res.json()) as { items: typeof items; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items.filter((i) => i.action === 'domain.change');
}

/**
 * Moves the simulator's clock forward to `atMs` (it never goes back) and says by how many minutes;
 * a control call the simulator refuses fails the test.
 */
export async function advanceSimClockTo(simUrl: string, atMs: number): Promise<number> {
  const clock = (await (await fetch(`${simUrl}/sim/v1/clock`)).json()) as { now: string };
  const minutes = Math.round((atMs - Date.parse(clock.now)) / 60_000);
  if (minutes > 0) {
    const res = await fetch(`${simUrl}/sim/v1/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMinutes: minutes }),
    });
    if (!res.ok) throw new Error(`POST /sim/v1/clock answered ${res.status}: ${await res.text()}`);
  }
  return minutes;
}

/** Moves the simulator to Monday 2024-02-19 15:00 CET, when the Nordverband is fully patched. */
export async function advanceToMondayAfternoon(t: Pick<TestBot, 'simUrl'>) {
  await advanceSimClockTo(t.simUrl, Date.parse('2024-02-19T14:00:00Z'));
}
