import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSpamMetricsPage, spamMetrics, spamMetricsPage } from '../../../src/contracts/gateway.ts';

// The HTTP client checks spam pages with plain code (src/contracts/gateway.ts, spamMetricsPage) instead
// of the zod schema; both must give every page the same verdict.

const validPage = () => ({
  from: '2024-02-15T17:00:00.000Z',
  to: '2024-02-15T17:02:00.000Z',
  bucketMinutes: 1,
  nextCursor: null as string | null,
  series: [
    {
      domain: 'olpe.de',
      points: [
        { at: '2024-02-15T17:00:00.000Z', received: 120, spam: 4, rejected: 1, quarantined: 0 },
        { at: '2024-02-15T17:01:00.000Z', received: 118, spam: 6, rejected: 2, quarantined: 1 },
      ],
    },
    {
      domain: 'attendorn.de',
      points: [
        { at: '2024-02-15T17:00:00.000Z', received: 80, spam: 2, rejected: 0, quarantined: 0 },
        { at: '2024-02-15T17:01:00.000Z', received: 75, spam: 3, rejected: 0, quarantined: 0 },
      ],
    },
  ],
});

// Values that are wrong somewhere or other, and some that are right.
const anyValue = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    -1,
    -0,
    0,
    1.5,
    3,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    '',
    '7',
    '2024-02-15T17:00:00Z',
    '2024-02-15T17:00:00+01:00',
    '2024-02-30T17:00:00Z',
    '2024-02-15 17:00:00Z',
    'x',
    true,
    [],
    {},
    [1],
  ),
  fc.integer(),
  fc.string(),
);

type Path = Array<string | number>;
const paths: Path[] = [
  [],
  ['from'],
  ['to'],
  ['bucketMinutes'],
  ['nextCursor'],
  ['series'],
  ['series', 0],
  ['series', 1, 'domain'],
  ['series', 0, 'points'],
  ['series', 1, 'points', 0],
  ...['at', 'received', 'spam', 'rejected', 'quarantined'].flatMap((k): Path[] => [
    ['series', 0, 'points', 0, k],
    ['series', 1, 'points', 1, k],
  ]),
];

function setAt(root: unknown, path: Path, value: unknown, remove: boolean): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (remove) delete node[last];
  else node[last] = value;
  return root;
}

test('the spam page check gives every page the verdict zod gives it', () => {
  assert.equal(isSpamMetricsPage(validPage()), true);
  let refused = 0;
  fc.assert(
    fc.property(
      fc.array(fc.record({ path: fc.constantFrom(...paths), value: anyValue, remove: fc.boolean() }), {
        minLength: 1,
        maxLength: 3,
      }),
      (changes) => {
        let page: unknown = validPage();
        for (const c of changes) {
          // A change below a value an earlier change replaced has nowhere to go: skip it.
          try {
            page = setAt(page, c.path, c.value, c.remove);
          } catch {}
        }
        const expected = spamMetrics.safeParse(page).success;
        if (!expected) refused++;
        assert.equal(isSpamMetricsPage(page), expected, JSON.stringify(page));
        assert.equal(spamMetricsPage.safeParse(page).success, expected);
      },
    ),
    { numRuns: 2000 },
  );
  assert.ok(refused > 500, `both verdicts are covered (${refused} of 2000 refused)`);
});

test('a refused page carries zod’s issues, with their paths', () => {
  const page = validPage();
  page.series[1]!.points[0]!.spam = -3;
  const result = spamMetricsPage.safeParse(page);
  assert.equal(result.success, false);
  assert.deepEqual(
    result.error!.issues.map((i) => i.path.join('.')),
    ['series.1.points.0.spam'],
  );
});
