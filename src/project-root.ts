import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The project's root: where package.json, cards/, config/ and manifest/ are. Found by walking up from
// this module, so it is the same whether the code runs from src/ under tsx or bundled into dist/
// (`npm run build`), where every module shares the bundle's location.

export function findProjectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (isLagebotRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`lagebot: no project root (package.json "lagebot" with cards/) above ${from}`);
    dir = parent;
  }
}

function isLagebotRoot(dir: string): boolean {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg) || !existsSync(join(dir, 'cards'))) return false;
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'lagebot';
  } catch {
    return false;
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
