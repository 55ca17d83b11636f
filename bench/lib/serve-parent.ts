import type { ChildToParent, ParentToChild } from './fork-ts-child.ts';

// The child side of fork-ts-child.ts: announce readiness, answer the parent's requests. A 'stop'
// request runs its handler, answers, then exits the process (a clean exit writes --cpu-prof files).

export type Handler = (payload: unknown) => unknown;

export function serveParent(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('serveParent: not started with an IPC channel (use forkTsChild)');
  process.on('message', (raw: ParentToChild) => {
    if (raw?.kind !== 'request') return;
    void answer(raw);
  });
  // The parent is gone: nobody will ever stop us.
  process.on('disconnect', () => process.exit(1));

  async function answer(req: ParentToChild): Promise<void> {
    const handler = handlers[req.type];
    let reply: ChildToParent;
    try {
      if (!handler) throw new Error(`no handler for ${req.type}`);
      reply = { kind: 'reply', id: req.id, ok: true, result: (await handler(req.payload)) ?? null };
    } catch (error) {
      reply = { kind: 'reply', id: req.id, ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    process.send!(reply, undefined, undefined, () => {
      if (req.type === 'stop') process.exit(0);
    });
  }
}

export function announceReady(payload: unknown): void {
  const message: ChildToParent = { kind: 'ready', payload };
  process.send?.(message);
}
