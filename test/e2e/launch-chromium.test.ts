import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, chromiumSkipReason } from './launch-chromium.ts';

// When the browser suite may skip: only on a developer's machine without Chromium, never in CI.

describe('chromiumSkipReason', () => {
  const present = (path: string) => path === CHROMIUM_PATH;
  const absent = () => false;

  test('Chromium installed: the suite runs', () => {
    assert.equal(chromiumSkipReason({}, present), undefined);
    assert.equal(chromiumSkipReason({ CI: 'true' }, present), undefined);
  });

  test('no Chromium outside CI: skipped, and the reason says how to install it', () => {
    for (const env of [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }]) {
      const reason = chromiumSkipReason(env, absent);
      assert.ok(reason, `skipped with CI=${JSON.stringify(env)}`);
      assert.match(reason, /Chromium not found at \/usr\/bin\/chromium/);
      assert.match(reason, /apt-get install -y chromium/);
    }
  });

  test('no Chromium in CI: not skipped, so the run fails instead of passing without a browser', () => {
    assert.equal(chromiumSkipReason({ CI: 'true' }, absent), undefined);
    assert.equal(chromiumSkipReason({ CI: '1' }, absent), undefined);
  });
});
