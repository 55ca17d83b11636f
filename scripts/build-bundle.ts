import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { projectRoot } from '../src/project-root.ts';

// The production build: our TypeScript bundled into dist/ as plain ES modules, npm packages left
// as imports (resolved from node_modules at run time), one chunk per lazily imported command.
// `npm run serve` and the container image run dist/main.mjs with plain `node` and the flags below;
// `npm start`, `npm run chat` and the tests run the sources under tsx.
//
// Why (bench/status, docs/decisions/performance-targets.md): under tsx the bot process also carries tsx's module-loader thread,
// the transformed sources and their source maps: ~60 MB more RSS for the same code.

/**
 * Node/V8 flags of the production bot process (bench/status). The bot's live heap is ~60 MB; without
 * a cap V8 lets ~250 MB of garbage pile up before collecting. The 256 MB cap also makes it grow the
 * old generation in the smallest steps (its growing factor scales with the cap); the 1 MB semi-space
 * (3 MB young generation instead of 48) keeps little garbage between scavenges. With 500 concurrent
 * users (10× bench/status) the heap peaked at 158 MB. Raise the cap for a much larger deployment: the
 * flags are in package.json ("serve") and the Dockerfile (CMD), and a test checks both against this list.
 */
export const PRODUCTION_NODE_FLAGS = ['--max-old-space-size=256', '--max-semi-space-size=1'] as const;

export interface BuildBundleOptions {
  /** TypeScript entry points; each becomes <outdir>/<name>.mjs. */
  entryPoints: string[];
  outdir: string;
}

export async function buildBundle(o: BuildBundleOptions): Promise<void> {
  rmSync(o.outdir, { recursive: true, force: true });
  await build({
    entryPoints: o.entryPoints,
    outdir: o.outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    // Next to the code, not loaded unless Node runs with --enable-source-maps (which costs memory).
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildBundle({ entryPoints: [join(projectRoot, 'src', 'main.ts')], outdir: join(projectRoot, 'dist') });
}
