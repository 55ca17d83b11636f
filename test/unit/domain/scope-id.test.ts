import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatScopeId,
  isReservedRegionId,
  isWellFormedScopeId,
  parseScopeId,
  sameScopeId,
  scopeIdOf,
  scopeNameOf,
} from '../../../src/domain/scope-id.ts';
import { regionFixture } from '../../fixtures/regions.ts';

describe('scope ids', () => {
  test('parse: all, domains, opaque region ids', () => {
    assert.deepEqual(parseScopeId('all'), { kind: 'all' });
    assert.deepEqual(parseScopeId('domain:attendorn.de'), { kind: 'domain', domain: 'attendorn.de' });
    assert.deepEqual(parseScopeId('kr-olpe'), { kind: 'region', regionId: 'kr-olpe' });
    assert.deepEqual(parseScopeId('ags:05958'), { kind: 'region', regionId: 'ags:05958' });
    assert.deepEqual(parseScopeId('DE.NW.059'), { kind: 'region', regionId: 'DE.NW.059' });
  });

  test('parse refuses what no button sends', () => {
    for (const bad of ['', 'domain:', 'domain:-x.de', 'domain:a b.de', ' kr-olpe', '-x', 'x'.repeat(65), 'a/b', 'ä']) {
      assert.equal(parseScopeId(bad), null, JSON.stringify(bad));
      assert.equal(isWellFormedScopeId(bad), false);
    }
  });

  test('format is the inverse of parse', () => {
    const id = fc.oneof(
      fc.constant('all'),
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/).filter((s) => !isReservedRegionId(s)),
      fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,40}[a-z0-9]$/).map((d) => `domain:${d}`),
    );
    fc.assert(
      fc.property(id, (s) => {
        const parsed = parseScopeId(s);
        assert.ok(parsed, s);
        assert.equal(formatScopeId(parsed), s);
      }),
    );
  });

  test('reserved region ids', () => {
    assert.ok(isReservedRegionId('all'));
    assert.ok(isReservedRegionId('domain:x'));
    assert.ok(!isReservedRegionId('alle'));
  });

  test('same scope: domains ignore case, region ids do not', () => {
    assert.ok(sameScopeId('domain:Attendorn.DE', 'domain:attendorn.de'));
    assert.ok(sameScopeId('kr-olpe', 'kr-olpe'));
    assert.ok(!sameScopeId('KR-OLPE', 'kr-olpe'));
    assert.ok(!sameScopeId('all', 'domain:all'));
  });

  test('id and name of a resolved scope', () => {
    const node = regionFixture.find((n) => n.id === 'ko-attendorn')!;
    assert.equal(scopeIdOf({ kind: 'all' }), 'all');
    assert.equal(scopeIdOf({ kind: 'region', node }), 'ko-attendorn');
    assert.equal(scopeIdOf({ kind: 'domain', node, domain: 'attendorn.de' }), 'domain:attendorn.de');
    assert.equal(scopeNameOf({ kind: 'region', node }), 'Attendorn');
    assert.equal(scopeNameOf({ kind: 'domain', node, domain: 'attendorn.de' }), 'attendorn.de');
  });
});
