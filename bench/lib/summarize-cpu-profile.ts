import { readFileSync } from 'node:fs';

// Reads a V8 .cpuprofile (node --cpu-prof) and answers "where did the CPU go": self time per
// function and per package (node_modules/<pkg>, a project folder, or node internals). Enough to
// name a bottleneck in a report without opening DevTools.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface CpuShare {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

export interface CpuProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  topFunctions: CpuShare[];
  byPackage: CpuShare[];
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

export function summarizeCpuProfile(profile: CpuProfile | string, top = 15, root = process.cwd()): CpuProfileSummary {
  const p: CpuProfile =
    typeof profile === 'string' ? (JSON.parse(readFileSync(profile, 'utf8')) as CpuProfile) : profile;
  const selfUs = new Map<number, number>();
  if (p.samples && p.timeDeltas && p.samples.length === p.timeDeltas.length) {
    // timeDeltas[i] is the time before sample i; it is spent in the frame that sample i saw.
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, p.timeDeltas[i]!));
    }
  } else {
    const hits = p.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
    for (const node of p.nodes) selfUs.set(node.id, ((node.hitCount ?? 0) / hits) * (p.endTime - p.startTime));
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const node of p.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    const f = node.callFrame;
    // '(garbage collector)' is CPU work but not attributable to a caller: count it as its own package.
    if (f.functionName === '(idle)' || f.functionName === '(program)') {
      idleUs += us;
      continue;
    }
    const fn = `${f.functionName || '(anonymous)'} ${shortUrl(f.url, root)}:${f.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = IDLE.has(f.functionName) ? f.functionName : packageOf(f.url, root);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (m: Map<string, number>, n: number): CpuShare[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    topFunctions: rank(byFunction, top),
    byPackage: rank(byPackage, top),
  };
}

function shortUrl(url: string, root: string): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

/** node_modules/<pkg> (with @scope), the first two folders of a project file, or node internals. */
export function packageOf(url: string, root = process.cwd()): string {
  if (!url) return '(native)';
  const path = shortUrl(url, root);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path);
  if (nm) return nm[1]!;
  if (path.startsWith('node:')) return 'node:internal';
  const parts = path.split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : path;
}
