import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { packageOf, summarizeCpuProfile } from './summarize-cpu-profile.ts';

const root = '/repo';
const frame = (functionName: string, url: string, lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
  scriptId: '0',
});

describe('summarizeCpuProfile', () => {
  const profile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('renderCard', 'file:///repo/src/teams/render-card.ts', 9) },
      { id: 4, callFrame: frame('all', '') },
      { id: 5, callFrame: frame('serialize', 'file:///repo/node_modules/@azure/core-client/dist/serializer.js', 78) },
      { id: 6, callFrame: frame('(garbage collector)', '') },
    ],
    // µs spent before each sample, attributed to the frame that sample saw.
    samples: [2, 3, 3, 4, 5, 6, 2],
    timeDeltas: [1000, 2000, 1000, 3000, 1000, 1000, 1000],
  };

  test('self time per function and per package, shares of the busy (non-idle) time', () => {
    const s = summarizeCpuProfile(profile, 10, root);
    assert.equal(s.totalMs, 10);
    assert.equal(s.idleMs, 2);
    assert.equal(s.busyMs, 8);
    assert.deepEqual(
      s.topFunctions.map((f) => [f.name, f.selfMs]),
      [
        ['renderCard src/teams/render-card.ts:10', 3],
        ['all (native):1', 3],
        ['serialize node_modules/@azure/core-client/dist/serializer.js:79', 1],
        ['(garbage collector) (native):1', 1],
      ],
    );
    assert.deepEqual(
      s.byPackage.map((p) => [p.name, p.selfMs, p.share]),
      [
        ['src/teams', 3, 3 / 8],
        ['(native)', 3, 3 / 8],
        ['@azure/core-client', 1, 1 / 8],
        ['(garbage collector)', 1, 1 / 8],
      ],
    );
  });

  test('falls back to hit counts when a profile has no sample list', () => {
    const s = summarizeCpuProfile(
      {
        startTime: 0,
        endTime: 4000,
        nodes: [
          { id: 1, callFrame: frame('a', 'file:///repo/src/x/a.ts'), hitCount: 3 },
          { id: 2, callFrame: frame('(idle)', ''), hitCount: 1 },
        ],
      },
      5,
      root,
    );
    assert.equal(s.busyMs, 3);
    assert.equal(s.byPackage[0]?.name, 'src/x');
  });
});

describe('packageOf', () => {
  test('names node_modules packages (scoped, nested: the innermost), project folders and node internals', () => {
    assert.equal(packageOf('file:///repo/node_modules/restify/lib/server.js', root), 'restify');
    assert.equal(packageOf('file:///repo/node_modules/@azure/core-client/dist/a.js', root), '@azure/core-client');
    assert.equal(packageOf('file:///repo/node_modules/botbuilder/node_modules/uuid/dist/v4.js', root), 'uuid');
    assert.equal(packageOf('file:///repo/src/services/report-status.ts', root), 'src/services');
    assert.equal(packageOf('file:///repo/src/main.ts', root), 'src/main.ts');
    assert.equal(packageOf('node:internal/streams/readable', root), 'node:internal');
    assert.equal(packageOf('', root), '(native)');
  });
});
