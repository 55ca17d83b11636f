import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

// Debian's Chromium, driven by playwright-core (docs/decisions/browser-test.md). Not Playwright's own browser download:
// these machines have no network for it, and apt keeps Debian's build patched.

export const CHROMIUM_PATH = '/usr/bin/chromium';

// The flags docs/decisions/browser-test.md names: nothing that phones home, no GPU, no sandbox (CI runs as root, where
// Chromium refuses to start sandboxed). Playwright adds some of them itself; repeating them is harmless.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
] as const;

export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/**
 * Why the browser suite cannot run here, or undefined when it must run. Without Chromium a developer's
 * `npm test` skips it and says why; in CI it runs anyway and fails, because .ci/run installs Chromium
 * first (scripts/install-chromium.sh) and a silently skipped browser suite would look green.
 */
export function chromiumSkipReason(
  env: NodeJS.ProcessEnv,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  if (exists(CHROMIUM_PATH) || isCi(env)) return undefined;
  return `Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or scripts/install-chromium.sh)`;
}

export interface LaunchedChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile; close() also removes the profile. */
export async function launchChromium(): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}, and CI is set, so the browser suite may not be skipped: ` +
        'run scripts/install-chromium.sh (apt-get update && apt-get install -y chromium) first',
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'lagebot-e2e-chromium-'));
  try {
    // Playwright refuses --user-data-dir in args; launchPersistentContext passes it for us.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 900 },
      locale: 'de-DE',
      timeout: 30_000,
    });
    return {
      context,
      async close() {
        await context.close().catch(() => {});
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
