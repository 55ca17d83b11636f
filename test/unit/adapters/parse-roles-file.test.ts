import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRolesFile, RolesFileError } from '../../../src/adapters/load-roles-file.ts';

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
