import assert from 'node:assert/strict';
import { advanceSimClockTo } from '../helpers/release-helpers.ts';
import { type LaunchedChromium, launchChromium } from './launch-chromium.ts';
import { PlaygroundPage, type PlaygroundUser, readPlaygroundConfig } from './playground-page.ts';
import { type RunningDemo, startDemo } from './start-demo.ts';

// The browser suites' common start: the demo as `npm start` runs it, its simulator clock set to the
// moment the suite is about, and the Playground's chat open in Chromium with the people of its config.

export interface DemoInPlayground {
  demo: RunningDemo;
  browser: LaunchedChromium;
  ui: PlaygroundPage;
  /** Olaf Operator, the Playground's current user, and Bernd Approver, who clicks through its API. */
  people: { current: PlaygroundUser; bernd: PlaygroundUser };
  /** Stops the browser and the demo; safe to call after a failed start. */
  close(): Promise<void>;
}

/** A simulator control call (`/sim/v1/...`): GET without a body, POST with one; anything but 2xx fails. */
export async function simJson<T>(url: string, body?: unknown): Promise<T> {
  const res = await fetch(
    url,
    body === undefined
      ? undefined
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  assert.ok(
    res.ok,
    `${body === undefined ? 'GET' : 'POST'} ${url} answered ${res.status}: ${await res.clone().text()}`,
  );
  return (await res.json()) as T;
}

export async function openDemoInPlayground(opts: {
  dataDir: string;
  /** Where the page's step screenshots go. */
  shotsDir: string;
  /** The simulator's clock is moved forward to this instant (ms since the epoch). */
  at: number;
  env?: Record<string, string>;
  /** A taller window photographs long cards whole; the width, and so the cards' width, stays the default. */
  viewportHeight?: number;
}): Promise<DemoInPlayground> {
  let browser: LaunchedChromium | undefined;
  let demo: RunningDemo | undefined;
  const close = async () => {
    await browser?.close();
    await demo?.stop();
  };
  try {
    // Chromium first: in CI without it this fails at once, before there is a demo to clean up.
    browser = await launchChromium();
    demo = await startDemo({ dataDir: opts.dataDir, ...(opts.env ? { env: opts.env } : {}) });
    const advanced = await advanceSimClockTo(demo.simUrl, opts.at);
    assert.ok(advanced > 0, `the sim clock starts before ${new Date(opts.at).toISOString()}`);
    const config = await readPlaygroundConfig(demo.playgroundUrl);
    const bernd = config.users.find((u) => u.name === 'Bernd Approver');
    assert.ok(bernd, 'Bernd Approver is a user of .m365agentsplayground.yml');
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    if (opts.viewportHeight) {
      await page.setViewportSize({ width: page.viewportSize()?.width ?? 1280, height: opts.viewportHeight });
    }
    const ui = new PlaygroundPage(page, opts.shotsDir);
    await ui.open(demo.chatUrl);
    return { demo, browser, ui, people: { current: config.currentUser, bernd }, close };
  } catch (error) {
    // What the demo printed is the likeliest explanation of a start that failed; it goes with the error.
    if (demo && error instanceof Error) error.message += `\n--- the demo's output ---\n${demo.output()}`;
    await close().catch(() => {});
    throw error;
  }
}
