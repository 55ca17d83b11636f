import { announceReady, serveParent } from './serve-parent.ts';

// A child for fork-ts-child.test.ts: echoes, fails on request, stops when asked.
serveParent({
  echo: (payload) => ({ got: payload, pid: process.pid }),
  fail: () => {
    throw new Error('as asked');
  },
  stop: () => undefined,
});
announceReady({ argv: process.argv.slice(2), env: process.env.FIXTURE_VALUE ?? null });
