import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findViolations, importsOf } from '../../../scripts/check-layering.ts';

const ids = new Set(['vb-nord', 'kr-olpe', 'ko-olpe']);
const rulesOf = (files: Array<{ path: string; text: string }>) =>
  findViolations(files, ids).map((v) => `${v.path} ${v.rule}`);

test('imports: static, type-only, re-exports and dynamic ones are all seen', () => {
  const text = `import a from './a.ts';\nimport type { B } from '../b.ts';\nexport { c } from 'c';\nconst d = await import('d');`;
  assert.deepEqual(importsOf(text), ['./a.ts', '../b.ts', 'c', 'd']);
});

test('src/domain may import only from src/domain', () => {
  assert.deepEqual(
    rulesOf([
      { path: 'src/domain/x.ts', text: "import { y } from './y.ts';\nimport type { Z } from './sub/z.ts';" },
      { path: 'src/domain/a.ts', text: "import { s } from '../services/s.ts';" },
      { path: 'src/domain/b.ts', text: "import { z } from 'zod';" },
      { path: 'src/domain/c.ts', text: "import { readFileSync } from 'node:fs';" },
      { path: 'src/domain/d.ts', text: "const m = await import('../adapters/m.ts');" },
    ]),
    [
      'src/domain/a.ts domain-imports',
      'src/domain/b.ts domain-imports',
      'src/domain/c.ts domain-imports',
      'src/domain/d.ts domain-imports',
    ],
  );
});

test('teams-ai and botbuilder only in src/teams', () => {
  assert.deepEqual(
    rulesOf([
      { path: 'src/teams/app.ts', text: "import { Application } from '@microsoft/teams-ai/lib/Application.js';" },
      { path: 'src/adapters/n.ts', text: "import type { CloudAdapter } from 'botbuilder';" },
      { path: 'src/start.ts', text: "import type { ConversationReference } from 'botframework-schema';" },
      { path: 'src/services/s.ts', text: "const t = await import('@microsoft/teams-ai');" },
    ]),
    [
      'src/adapters/n.ts teams-sdk-outside-teams',
      'src/start.ts teams-sdk-outside-teams',
      'src/services/s.ts teams-sdk-outside-teams',
    ],
  );
});

test('no simulator id or id pattern in src outside src/sim; tests and benchmarks may name them', () => {
  assert.deepEqual(
    rulesOf([
      { path: 'src/services/r.ts', text: "const ROOTS = ['vb-nord'];" },
      { path: 'src/teams/s.ts', text: 'const re = /^(vb|kr|ko)-[a-z0-9-]+$/;\nconst x = "kr-hsk";' },
      { path: 'src/sim/geography.ts', text: "const id = 'kr-olpe';" },
      { path: 'test/integration/x.test.ts', text: "const id = 'kr-olpe';" },
      { path: 'src/domain/ok.ts', text: "// the simulator's ids look like vb-…, kr-…\nconst backOff = 'work-olpe';" },
    ]),
    ['src/services/r.ts simulator-id', 'src/teams/s.ts simulator-id'],
  );
});
