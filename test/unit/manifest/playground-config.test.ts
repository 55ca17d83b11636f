import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { demoTenantId, demoUsers } from '../../../src/demo-users.ts';
import { playgroundConfigAs } from '../../../src/run-playground.ts';

// .m365agentsplayground.yml is read by the Microsoft 365 Agents Playground, which refuses to start on
// a config its schema rejects. The schema is not published as a file; the Playground bundle embeds it
// as JSON.parse('…'). We take it from there, so this test follows the installed Playground version.

const addFormats = addFormatsModule.default;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const config = parse(readFileSync(join(root, '.m365agentsplayground.yml'), 'utf8'));

interface PlaygroundUser {
  id: string;
  name: string;
  aadObjectId: string;
}

function playgroundConfigSchema(): object {
  const pkg = createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/package.json');
  const bundle = readFileSync(join(dirname(pkg), 'dist', 'index.js'), 'utf8');
  const marker = `JSON.parse('{"$id":"https://aka.ms/teams-app-test-tool-config/`;
  const at = bundle.indexOf(marker);
  assert.ok(
    at >= 0,
    'the Playground bundle no longer embeds its config schema; start the Playground and check its log',
  );
  const from = at + "JSON.parse('".length;
  let end = from;
  while (bundle[end] !== "'") end += bundle[end] === '\\' ? 2 : 1; // the closing quote of the JS string literal
  const json = bundle
    .slice(from, end)
    .replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])/g, (_, e: string) =>
      e.length > 1 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : ({ n: '\n', r: '\r', t: '\t' }[e] ?? e),
    );
  return JSON.parse(json);
}

describe('.m365agentsplayground.yml', () => {
  test("passes the installed Playground's own config schema", () => {
    const schema = playgroundConfigSchema() as { $id: string };
    assert.match(schema.$id, /teams-app-test-tool-config\/0\.1\.1\//);
    // Same settings as the Playground's ConfigManager.validateJsonSchema.
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    assert.equal(validate(config), true, JSON.stringify(validate.errors, null, 2));
    // And the schema bites: one user more than the five it allows is refused.
    assert.equal(validate({ ...config, users: [...config.users, config.users[0]] }), false);
  });

  test('`npm run playground -- --as <user>`: the generated context passes the schema for every demo user', () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(playgroundConfigSchema());
    for (const user of demoUsers) {
      const derived = playgroundConfigAs(config, user);
      assert.equal(validate(derived), true, `${user.key}: ${JSON.stringify(validate.errors)}`);
      assert.equal(derived.currentUser.aadObjectId, user.aadObjectId);
      const ids = [derived.currentUser.id, ...derived.users.map((u) => u.id)];
      assert.equal(new Set(ids).size, 6, 'the same six people, one of them current');
      assert.notEqual(derived.personalChat.id, config.personalChat.id, 'a 1:1 chat of its own');
      assert.deepEqual(derived.team, config.team, 'the same team and approvers channel');
    }
  });

  test('has unique user ids and unique conversation ids (the Playground checks both on start)', () => {
    const userIds = [config.currentUser.id, ...config.users.map((u: PlaygroundUser) => u.id)];
    assert.equal(new Set(userIds).size, userIds.length);
    const conversations = [
      config.personalChat.id,
      config.groupChat.id,
      config.team.id,
      ...config.team.channels.map((c: { id: string }) => c.id),
    ];
    assert.equal(new Set(conversations).size, conversations.length);
  });

  test('holds the five demo users with their names and aadObjectIds, in the demo tenant', () => {
    const people: PlaygroundUser[] = [config.currentUser, ...config.users];
    assert.equal(config.tenantId, demoTenantId);
    for (const demo of demoUsers) {
      const person = people.find((p) => p.aadObjectId === demo.aadObjectId);
      assert.ok(person, `${demo.name} (${demo.aadObjectId}) is missing`);
      assert.equal(person.name, demo.name);
    }
    // The Playground wants exactly six people; the sixth has no role in the demo roles file.
    const extra = people.filter((p) => !demoUsers.some((d) => d.aadObjectId === p.aadObjectId));
    assert.deepEqual(
      extra.map((p) => p.name),
      ['Gerd Gast'],
    );
  });

  test('starts as the operator, in the team "Lage Südverband" with the approvers\' channel "Freigaben"', () => {
    const operator = demoUsers.find((u) => u.key === 'operator')!;
    assert.equal(config.currentUser.aadObjectId, operator.aadObjectId);
    assert.equal(config.team.name, 'Lage Südverband');
    assert.deepEqual(config.team.channels, [{ id: '19:freigaben@thread.tacv2', name: 'Freigaben' }]);
  });
});
