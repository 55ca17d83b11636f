import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseRolesFile, RolesFileError } from '../../../src/adapters/load-roles-file.ts';
import { demoUsers } from '../../../src/demo-users.ts';

describe('roles file: the escalation list', () => {
  test('optional; read as given', () => {
    assert.deepEqual(parseRolesFile('{"roles":{"approver":["a"]}}').escalation, []);
    const roles = parseRolesFile('{"roles":{"approver":["a"]},"escalation":["lead-1","lead-2"]}');
    assert.deepEqual(roles.escalation, ['lead-1', 'lead-2']);
    assert.deepEqual(roles.approver, ['a']);
  });

  test('"*", a non-list or an unknown key stop start-up with one line', () => {
    assert.throws(
      () => parseRolesFile('{"roles":{},"escalation":["*"]}'),
      (e: unknown) => {
        assert.ok(e instanceof RolesFileError);
        assert.match(e.message, /escalation\.0: escalation names people, not "\*"/);
        return true;
      },
    );
    assert.throws(() => parseRolesFile('{"roles":{},"escalation":"lead"}'), RolesFileError);
    assert.throws(
      () => parseRolesFile('{"roles":{},"escalate":["x"]}'),
      /unknown key "escalate"; expected roles and escalation/,
    );
  });
});

describe('the demo roles file', () => {
  test('says what src/demo-users.ts says, escalation included, so `npm start` escalates', () => {
    const path = new URL('../../../config/roles.demo.json', import.meta.url);
    const roles = parseRolesFile(readFileSync(path, 'utf8'), 'config/roles.demo.json');
    const ids = (keep: (u: (typeof demoUsers)[number]) => boolean) => demoUsers.filter(keep).map((u) => u.aadObjectId);
    assert.deepEqual(
      roles.operator,
      ids((u) => u.roles.includes('operator')),
    );
    assert.deepEqual(
      roles.approver,
      ids((u) => u.roles.includes('approver')),
    );
    assert.deepEqual(
      roles.escalation,
      ids((u) => u.escalation === true),
    );
    assert.equal(roles.escalation?.length, 1);
  });
});
