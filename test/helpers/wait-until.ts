import { setTimeout as pause } from 'node:timers/promises';

// Waits for a condition that something outside the test's process or control makes true — a child
// process, the simulator behind HTTP, an HTTP timeout running out — by checking it again after each
// short pause; fails naming `what` after timeoutMs. Not for what an injected clock or a hook decides
// (executor.idle(), cards.flush(), a clock the test advances): use those.
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await pause(everyMs);
  }
}
