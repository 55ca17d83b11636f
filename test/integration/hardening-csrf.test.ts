import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { message, users } from '../fakes/activities.ts';
import { writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// Issue 13: any web page open in the user's browser could POST a form to the loopback bot of local
// mode (no preflight for form content types) and so create a release request as the operator. Only JSON
// reaches the bot now, and a request from a browser origin that is not allowed is refused.

/** The activity as the form fields a page would post: nested keys in the bracket syntax body parsers expand. */
function formFields(value: unknown, prefix = '', out = new URLSearchParams()): URLSearchParams {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) formFields(v, prefix ? `${prefix}[${k}]` : k, out);
  } else if (value !== undefined) {
    out.append(prefix, String(value));
  }
  return out;
}

describe('/api/messages takes only JSON, and no browser origin unless allowed', () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot(
      { ROLES_FILE: writeTestRoles(), ALLOWED_ORIGINS: 'https://teams.example' },
      { devices: 300 },
    );
  });
  after(async () => {
    await t?.close();
  });

  const releaseText = 'freigabe Nordverband eingehend Alles gepatcht, siehe Prüfbericht';

  async function nothingHappened(): Promise<void> {
    assert.deepEqual(await t.bot.store.listRequests(), [], 'a request was created');
    assert.equal(t.connector.calls.length, 0, 'something reached the chat');
  }

  test('the form post of the CSRF case: 415 before parsing, nothing stored, nothing posted', async () => {
    const activity = message(releaseText, { serviceUrl: t.connector.url, user: users.operator });
    const form = formFields(activity);
    assert.equal(form.get('from[aadObjectId]'), users.operator.aadObjectId);
    for (const [contentType, body] of [
      ['application/x-www-form-urlencoded', form.toString()],
      ['text/plain;charset=UTF-8', JSON.stringify(activity)],
      [undefined, JSON.stringify(activity)],
    ] as const) {
      const res = await fetch(`${t.botUrl}/api/messages`, {
        method: 'POST',
        headers: {
          ...(contentType ? { 'content-type': contentType } : {}),
          origin: 'https://evil.example',
        },
        body,
      });
      assert.equal(res.status, 415, `${contentType}: ${res.status} ${await res.text()}`);
    }
    const multipart = new FormData();
    for (const [k, v] of form) multipart.append(k, v);
    const res = await fetch(`${t.botUrl}/api/messages`, { method: 'POST', body: multipart });
    assert.equal(res.status, 415);
    await nothingHappened();
  });

  test('JSON with an Origin that is not allowed: 403, nothing stored', async () => {
    const activity = message(releaseText, { serviceUrl: t.connector.url, user: users.operator });
    for (const origin of ['https://evil.example', 'null', 'http://localhost:56150', 'https://teams.example.evil']) {
      const res = await fetch(`${t.botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify(activity),
      });
      assert.equal(res.status, 403, `${origin}: ${res.status}`);
      assert.deepEqual(await res.json(), { error: 'origin_not_allowed' });
    }
    await nothingHappened();
  });

  test('JSON from an allowed origin and JSON without an Origin are served', async () => {
    for (const headers of [{ origin: 'https://teams.example' }, {}] as Record<string, string>[]) {
      t.connector.reset();
      const res = await fetch(`${t.botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: JSON.stringify(message('hilfe', { serviceUrl: t.connector.url })),
      });
      assert.equal(res.status, 200);
      await t.connector.waitFor((calls) => calls.length > 0);
    }
  });
});
