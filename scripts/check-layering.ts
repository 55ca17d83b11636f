import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

// The layering of docs/architecture.md, checked (part of `npm run lint`):
//   1. src/domain/ imports nothing outside src/domain/ (no package, no node: module either);
//   2. @microsoft/teams-ai, botbuilder and botframework-* are imported only in src/teams/;
//   3. no simulator region id (nor the simulator's id pattern vb-/kr-/ko-) appears in src/ outside
//      src/sim/: the bot must work on any estate (docs/decisions/regions-from-data.md).
// Tests and benchmarks drive the simulator and may name its ids; they are not checked for rule 3.

export interface SourceFile {
  /** Relative to the project root, with forward slashes: "src/domain/ports.ts". */
  path: string;
  text: string;
}

export interface Violation {
  path: string;
  rule: 'domain-imports' | 'teams-sdk-outside-teams' | 'simulator-id';
  detail: string;
}

const TEAMS_SDK = /^(@microsoft\/teams-ai|botbuilder|botframework-)/;
const SIM_ID_PATTERN = /(?<![A-Za-z0-9_.-])(?:vb|kr|ko)-[a-z0-9]/;

export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

export function findViolations(files: readonly SourceFile[], simulatorIds: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  const idPatterns = [...simulatorIds].map(
    (id) => [id, new RegExp(`(?<![A-Za-z0-9_.:-])${escapeRegExp(id)}(?![A-Za-z0-9_.:-])`)] as const,
  );
  for (const file of files) {
    if (!file.path.startsWith('src/')) continue;
    const inDomain = file.path.startsWith('src/domain/');
    const inTeams = file.path.startsWith('src/teams/');
    const inSim = file.path.startsWith('src/sim/');
    for (const spec of importsOf(file.text)) {
      if (inDomain) {
        const target = spec.startsWith('.') ? join(dirname(file.path), spec).split(sep).join('/') : null;
        if (target === null || !target.startsWith('src/domain/')) {
          out.push({ path: file.path, rule: 'domain-imports', detail: `imports ${spec}` });
        }
      }
      if (!inTeams && TEAMS_SDK.test(spec)) {
        out.push({ path: file.path, rule: 'teams-sdk-outside-teams', detail: `imports ${spec}` });
      }
    }
    if (inSim) continue;
    const lines = file.text.split('\n');
    lines.forEach((line, i) => {
      const where = `line ${i + 1}`;
      const named = idPatterns.find(([, re]) => re.test(line));
      if (named) out.push({ path: file.path, rule: 'simulator-id', detail: `${where}: ${named[0]}` });
      else if (SIM_ID_PATTERN.test(line)) {
        out.push({ path: file.path, rule: 'simulator-id', detail: `${where}: ${line.trim().slice(0, 80)}` });
      }
    });
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sourcesUnder(root: string, dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourcesUnder(root, path));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) out.push({ path, text: readFileSync(join(root, path), 'utf8') });
  }
  return out;
}

/** Every region id any simulator scenario serves. */
async function simulatorRegionIds(): Promise<Set<string>> {
  const { scenarioName } = await import('../src/contracts/sim.ts');
  const { createSimulator } = await import('../src/sim/simulator.ts');
  const ids = new Set<string>();
  for (const scenario of scenarioName.options) {
    for (const node of createSimulator({ scenario, devices: 100, speed: 0 }).regions()) ids.add(node.id);
  }
  return ids;
}

async function main(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const violations = findViolations(sourcesUnder(root, 'src'), await simulatorRegionIds());
  for (const v of violations) console.error(`${v.path}: ${v.rule}: ${v.detail}`);
  if (violations.length > 0) {
    console.error(
      `check-layering: ${violations.length} violation(s) of the layering in docs/architecture.md (relative to ${relative(process.cwd(), root) || '.'})`,
    );
    process.exit(1);
  }
  console.log('check-layering: src/domain imports only itself, Teams SDKs stay in src/teams, no simulator ids in src/');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
