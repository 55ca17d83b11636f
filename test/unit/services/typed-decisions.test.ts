import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { silentLogger } from '../../../src/domain/logger.ts';
import { createTypedDecisions, type TypedDecisions } from '../../../src/services/typed-decisions.ts';
import { callers, type ReleaseCore, startReleaseCore } from '../../helpers/release-core.ts';

// Typed decisions at the service tier, over the release core (in-memory SQLite store, in-memory back ends,
// an injected clock): the code's life, and `wiederholen` after a failed domain.

let core: ReleaseCore;
let typed: TypedDecisions;
let codes: string[];
beforeEach(async () => {
  core = await startReleaseCore();
  codes = ['111111', '222222', '333333', '444444'];
  typed = createTypedDecisions({
    release: core.service,
    store: core.store,
    now: core.now,
    newCode: () => codes.shift()!,
    logger: silentLogger,
  });
});
afterEach(() => core.close());

async function requested(): Promise<string> {
  const outcome = await core.service.requestFromWords(
    callers.operator,
    'release',
    'Regierungsbezirk Arnsberg eingehend alles gepatcht'.split(' '),
  );
  assert.equal(outcome.kind, 'created');
  return (outcome as Extract<typeof outcome, { kind: 'created' }>).request.id;
}

describe('typed decisions', () => {
  test('a new code replaces the unused one; five wrong codes void it; a code dies with the request', async () => {
    const id = await requested();
    assert.equal((await typed.issue(callers.approver2, id)).kind, 'code');
    assert.equal((await typed.issue(callers.approver2, id)).kind, 'code');
    const replaced = await typed.confirm(callers.approver2, id, '111111', null);
    assert.deepEqual(replaced, { kind: 'code_refused', reason: 'wrong_code' });
    for (let i = 0; i < 4; i++) await typed.confirm(callers.approver2, id, '999999', null);
    assert.deepEqual(await typed.confirm(callers.approver2, id, '222222', null), {
      kind: 'code_refused',
      reason: 'too_many_tries',
    });
    assert.equal((await core.service.get(id))!.request.state, 'pending');

    assert.equal((await typed.issue(callers.approver1, id)).kind, 'code');
    core.advance(4 * 60 + 1);
    assert.deepEqual(await typed.confirm(callers.approver1, id, '333333', null), {
      kind: 'code_refused',
      reason: 'expired',
    });
  });

  test('bestätigen <Antrag> without a code confirms a block awaiting confirmation, as the card does', async () => {
    const outcome = await core.service.requestFromWords(
      callers.operator,
      'block',
      'Regierungsbezirk Arnsberg beides Spam-Welle'.split(' '),
    );
    assert.equal(outcome.kind, 'created');
    const id = (outcome as Extract<typeof outcome, { kind: 'created' }>).request.id;
    const byViewer = await typed.confirm(callers.viewer, id, null, null);
    assert.equal(byViewer.kind === 'refused' && byViewer.refusal.code, 'not_operator');
    const confirmed = await typed.confirm(callers.operator, id, null, null);
    assert.equal(confirmed.kind, 'ok');
    assert.equal((await core.service.get(id))!.request.state, 'executing');
  });

  test('wiederholen retries the failed domains of a request typed by an operator', async () => {
    const id = await requested();
    assert.equal((await typed.issue(callers.approver2, id)).kind, 'code');
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', count: 1 });
    const confirmed = await typed.confirm(callers.approver2, id, '111111', null);
    assert.equal(confirmed.kind, 'ok');
    await core.executor.run(id);
    assert.ok(await core.executor.idle());
    assert.equal((await core.service.get(id))!.request.state, 'partially_failed');
    const byViewer = await typed.act(callers.viewer, id, 'retry_failed');
    assert.equal(byViewer.kind === 'refused' && byViewer.refusal.code, 'not_operator');
    const retried = await typed.act(callers.operator, id, 'retry_failed');
    assert.equal(retried.kind, 'ok');
    await core.executor.run(id);
    assert.ok(await core.executor.idle());
    assert.equal((await core.service.get(id))!.request.state, 'executed');
  });
});
