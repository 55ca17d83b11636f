import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';

// Benchmark results as JSON under bench/results/ (gitignored). Every file says where and on what it
// was measured, because a latency without its machine is not comparable to anything.

export interface BenchEnvironment {
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string | null;
  totalMemoryBytes: number;
  gitCommit: string | null;
  /** True when tracked files differed from the commit while measuring. */
  gitDirty: boolean | null;
}

export function describeEnvironment(cwd = process.cwd()): BenchEnvironment {
  const list = cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: list.length,
    cpuModel: list[0]?.model ?? null,
    totalMemoryBytes: totalmem(),
    gitCommit: git(['rev-parse', 'HEAD'], cwd),
    gitDirty: ((s) => (s === null ? null : s.length > 0))(git(['status', '--porcelain', '--untracked-files=no'], cwd)),
  };
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Writes `{ benchmark, finishedAt, environment, ...result }` pretty-printed; returns the absolute path. */
export async function writeJsonResult(
  file: string,
  benchmark: string,
  result: Record<string, unknown>,
  environment: BenchEnvironment = describeEnvironment(),
): Promise<string> {
  const path = resolve(file);
  await mkdir(dirname(path), { recursive: true });
  const payload = { benchmark, finishedAt: new Date().toISOString(), environment, ...result };
  await writeFile(path, `${JSON.stringify(payload, null, 2)}\n`);
  return path;
}
