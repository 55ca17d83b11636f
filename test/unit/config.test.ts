import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  test('an empty environment gives the local defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3978);
    assert.equal(c.simPort, 3979);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.localMode, true);
    assert.equal(c.useEmbeddedSimulator, true);
    assert.equal(c.dataDir, './data');
    assert.equal(c.requestTtlMs, 4 * 3_600_000);
    assert.equal(c.spamWatchIntervalSeconds, 60);
    assert.equal(c.playground.enabled, true);
    assert.equal(c.playground.port, 56150);
    assert.deepEqual(c.allowedTenants, []);
    assert.deepEqual(c.allowedOrigins, []);
    assert.equal(c.gatewayConcurrency, 16);
  });

  test('values are parsed', () => {
    const c = loadConfig({
      PORT: '8080',
      REQUEST_TTL: '90m',
      ALLOWED_TENANTS: ' t1, t2 ,',
      PLAYGROUND: 'off',
      MicrosoftAppId: 'app',
      MicrosoftAppPassword: 'secret',
      INVENTORY_API_URL: 'https://inv.example/inventory/v1',
      GATEWAY_API_URL: 'https://gw.example/gateway/v1',
    });
    assert.equal(c.port, 8080);
    assert.equal(c.requestTtlMs, 90 * 60_000);
    assert.equal(c.requestRetryWindowMs, 90 * 60_000, 'the retry window defaults to the request TTL');
    assert.equal(loadConfig({ REQUEST_RETRY_WINDOW: '1d' }).requestRetryWindowMs, 86_400_000);
    assert.deepEqual(c.allowedTenants, ['t1', 't2']);
    assert.equal(c.playground.enabled, false);
    assert.equal(c.localMode, false);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.useEmbeddedSimulator, false);
  });

  test('reminders, escalation, catch-up: defaults, 0/off disables, a wrong value is one line', () => {
    assert.deepEqual(loadConfig({}).nudges, {
      reminderMs: 15 * 60_000,
      reminderMax: 3,
      escalationMs: 3_600_000,
      catchUpWindowMs: 2 * 3_600_000,
    });
    const c = loadConfig({ APPROVAL_REMINDER: 'off', APPROVAL_ESCALATION: '0', APPROVAL_REMINDER_MAX: '5' });
    assert.equal(c.nudges.reminderMs, null);
    assert.equal(c.nudges.escalationMs, null);
    assert.equal(c.nudges.reminderMax, 5);
    assert.equal(loadConfig({ APPROVAL_REMINDER: '10m' }).nudges.reminderMs, 600_000);
    const problems = problemsOf({ APPROVAL_REMINDER: 'abc' });
    assert.deepEqual(problems, [
      'Invalid configuration: APPROVAL_REMINDER="abc": expected a duration such as 15m, 1h or 900 (seconds), or 0/off',
    ]);
    assert.match(problemsOf({ CATCH_UP_WINDOW: 'later' })[0]!, /CATCH_UP_WINDOW="later": expected a duration/);
    assert.match(problemsOf({ APPROVAL_REMINDER_MAX: '0' })[0]!, /APPROVAL_REMINDER_MAX="0"/);
  });

  test('a wrong value names the variable, the value and what is expected', () => {
    const [line] = problemsOf({ PORT: 'abc' });
    assert.match(line!, /PORT="abc"/);
    assert.match(line!, /port/i);
    assert.match(problemsOf({ REQUEST_TTL: 'soon' })[0]!, /REQUEST_TTL="soon": expected a duration/);
    assert.match(
      problemsOf({ REQUEST_RETRY_WINDOW: 'later' })[0]!,
      /REQUEST_RETRY_WINDOW="later": expected a duration/,
    );
    assert.match(problemsOf({ SIM_SCENARIO: 'mars' })[0]!, /expected feb-2024, all-patched, empty or land/);
    assert.match(problemsOf({ DATABASE_URL: 'mysql://x' })[0]!, /DATABASE_URL=.*PostgreSQL URL/);
    assert.match(problemsOf({ PLAYGROUND: 'maybe' })[0]!, /PLAYGROUND="maybe": expected on or off/);
    assert.match(problemsOf({ GATEWAY_CONCURRENCY: '0' })[0]!, /GATEWAY_CONCURRENCY="0"/);
    assert.equal(loadConfig({ GATEWAY_CONCURRENCY: '4' }).gatewayConcurrency, 4);
  });

  test('secrets are never echoed', () => {
    const problems = problemsOf({ MicrosoftAppId: 'app', INVENTORY_API_TOKEN: 'x' });
    assert.ok(problems.some((p) => p.includes('MicrosoftAppPassword')));
    const tokenProblem = problemsOf({ INVENTORY_API_TOKEN: 'abc', GATEWAY_API_TOKEN: 'def', PORT: '99999' });
    assert.ok(tokenProblem.every((p) => !p.includes('abc') && !p.includes('def')));
  });

  test('ALLOWED_ORIGINS: a list of origins, each without a path', () => {
    assert.deepEqual(loadConfig({ ALLOWED_ORIGINS: 'https://teams.example, http://localhost:8080/' }).allowedOrigins, [
      'https://teams.example',
      'http://localhost:8080',
    ]);
    for (const bad of ['teams.example', 'https://teams.example/app', '*']) {
      assert.match(problemsOf({ ALLOWED_ORIGINS: bad })[0]!, /ALLOWED_ORIGINS=.*expected origins/);
    }
  });

  test('both back-end URLs or neither', () => {
    assert.match(problemsOf({ INVENTORY_API_URL: 'http://x/inventory/v1' })[0]!, /GATEWAY_API_URL/);
  });
});

describe('parseDuration', () => {
  for (const [text, ms] of [
    ['4h', 14_400_000],
    ['90m', 5_400_000],
    ['30s', 30_000],
    ['3600', 3_600_000],
    ['1d', 86_400_000],
  ] as const) {
    test(text, () => assert.equal(parseDuration(text), ms));
  }
  for (const bad of ['', 'h', '-1h', '0', 'four hours']) {
    test(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseDuration(bad), null));
  }
});
