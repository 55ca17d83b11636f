// A second process using the same database, for the multi-process tests (spawn-store-child.ts).
//   race <requestId> <expectedVersion> <writers>   after "go" on stdin: <writers> concurrent transitions
//   lease <name> <holder> <ttlMs> <everyMs>        competes for a lease until killed
//   burst <requestId> <count>                      transitions one after another, "ack <version>" after each commit
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CreateStoreOptions, createStore } from '../../../src/adapters/store/create-store.ts';

const options = JSON.parse(process.env.LAGEBOT_TEST_STORE ?? '{}') as CreateStoreOptions;
const [mode, ...args] = process.argv.slice(2);
const store = await createStore(options);
const say = (line: string) => process.stdout.write(`${line}\n`);

if (mode === 'race') {
  const [requestId, version, writers] = [args[0]!, Number(args[1]), Number(args[2])];
  const input = createInterface({ input: process.stdin });
  say('ready');
  for await (const line of input) if (line === 'go') break;
  input.close();
  const results = await Promise.all(
    Array.from({ length: writers }, (_, i) =>
      store.transitionRequest(
        requestId,
        version,
        { state: 'approved', data: { by: `child-${process.pid}-${i}` }, updatedAt: new Date().toISOString() },
        [{ at: new Date().toISOString(), actor: `child-${process.pid}-${i}`, action: 'request.approved' }],
      ),
    ),
  );
  say(
    `result ${JSON.stringify({
      ok: results.filter((r) => r.ok).length,
      conflict: results.filter((r) => !r.ok && r.reason === 'conflict').length,
    })}`,
  );
} else if (mode === 'lease') {
  const [name, holder, ttlMs, everyMs] = [args[0]!, args[1]!, Number(args[2]), Number(args[3])];
  let holding = false;
  for (;;) {
    const now = new Date().toISOString();
    if (holding) {
      holding = await store.renewLease(name, holder, ttlMs, now);
      if (!holding) say(`lost ${holder} ${now}`);
    } else {
      holding = await store.acquireLease(name, holder, ttlMs, now);
      say(holding ? `acquired ${holder} ${now}` : `tried ${holder} ${now}`);
    }
    await sleep(everyMs);
  }
} else if (mode === 'burst') {
  const [requestId, count] = [args[0]!, Number(args[1])];
  let version = (await store.getRequest(requestId))!.version;
  for (let i = 0; i < count; i++) {
    const now = new Date().toISOString();
    const r = await store.transitionRequest(
      requestId,
      version,
      { state: `step-${version + 1}`, data: { step: version + 1 }, updatedAt: now },
      [{ at: now, actor: 'burst', action: 'request.step', details: { version: version + 1 } }],
      [{ key: `${requestId}/${version + 1}`, domain: 'olpe.de', change: { step: version + 1 } }],
    );
    if (!r.ok) throw new Error(`unexpected ${r.reason} at version ${version}`);
    version = r.request.version;
    // Only now is the transition committed: the parent may count on it.
    say(`ack ${version}`);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
await store.close();
