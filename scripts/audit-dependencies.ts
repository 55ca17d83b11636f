import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// `.ci/run`'s dependency check (issue 13): `npm audit --omit=dev --audit-level=high` over what the bot
// ships. A high or critical advisory fails the run unless audit-allowlist.json lists it with a reason and a
// date it expires on; a fix for a transitive dependency goes into package.json "overrides", not here.
// When the registry's advisory service does not answer (some mirrors refuse its bulk endpoint with 405),
// the check is skipped with a line that says so — a missing answer is not a clean bill.
//
//   npx tsx scripts/audit-dependencies.ts [--allowlist <file>]      exit 0 clean/skipped, 1 findings

const projectRoot = join(fileURLToPath(import.meta.url), '..', '..');

export interface Finding {
  id: string;
  package: string;
  severity: 'high' | 'critical';
  title: string;
  url: string;
}

const allowlistSchema = z
  .object({
    advisories: z.array(
      z
        .object({
          id: z.string().regex(/^GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/),
          package: z.string().min(1),
          reason: z.string().min(20, 'say why the advisory does not apply (at least 20 characters)'),
          added: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
          expires: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
        })
        .strict(),
    ),
  })
  .strict();
export type Allowlist = z.infer<typeof allowlistSchema>;

export function parseAllowlist(text: string): Allowlist {
  return allowlistSchema.parse(JSON.parse(text));
}

const advisory = z.object({
  name: z.string(),
  title: z.string(),
  url: z.string(),
  severity: z.string(),
});
const auditReport = z.object({
  vulnerabilities: z.record(z.object({ via: z.array(z.union([z.string(), advisory.passthrough()])) }).passthrough()),
  metadata: z.object({ vulnerabilities: z.record(z.number()) }).passthrough(),
});

/** The high and critical advisories of `npm audit --json` output, or null when it is no audit report. */
export function findingsOf(auditJson: string): Finding[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(auditJson);
  } catch {
    return null;
  }
  const report = auditReport.safeParse(parsed);
  if (!report.success) return null;
  const byId = new Map<string, Finding>();
  for (const v of Object.values(report.data.vulnerabilities)) {
    for (const via of v.via) {
      // A string names another vulnerable package; its own entry carries the advisory.
      if (typeof via === 'string' || (via.severity !== 'high' && via.severity !== 'critical')) continue;
      const id = /GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}/.exec(via.url)?.[0] ?? via.url;
      byId.set(id, { id, package: via.name, severity: via.severity, title: via.title, url: via.url });
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export interface Verdict {
  failing: Array<Finding & { why: string }>;
  allowed: Finding[];
}

/** Which findings fail the run: not in the allowlist, or allowed only until a date that has passed. */
export function judgeFindings(findings: Finding[], allowlist: Allowlist, today: string): Verdict {
  const failing: Verdict['failing'] = [];
  const allowed: Finding[] = [];
  for (const f of findings) {
    const entry = allowlist.advisories.find((a) => a.id === f.id && a.package === f.package);
    if (!entry) failing.push({ ...f, why: 'not in audit-allowlist.json' });
    else if (entry.expires < today) failing.push({ ...f, why: `allowlisted until ${entry.expires}, which has passed` });
    else allowed.push(f);
  }
  return { failing, allowed };
}

function main(argv: string[]): number {
  const at = argv.indexOf('--allowlist');
  const allowlistPath = at >= 0 ? argv[at + 1]! : join(projectRoot, 'audit-allowlist.json');
  const allowlist = parseAllowlist(readFileSync(allowlistPath, 'utf8'));
  const run = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const findings = findingsOf(run.stdout ?? '');
  if (findings === null) {
    const said = /"message":\s*"([^"]*)"/.exec(run.stdout ?? '')?.[1] ?? run.error?.message ?? `exit ${run.status}`;
    console.log(`npm audit: SKIPPED — the registry's advisory service did not answer (${said})`);
    return 0;
  }
  const { failing, allowed } = judgeFindings(findings, allowlist, new Date().toISOString().slice(0, 10));
  for (const f of allowed)
    console.log(`npm audit: allowed ${f.severity} ${f.id} in ${f.package} (audit-allowlist.json)`);
  for (const f of failing)
    console.log(`npm audit: ${f.severity} ${f.id} in ${f.package}: ${f.title} — ${f.why} (${f.url})`);
  console.log(
    failing.length === 0
      ? `npm audit: no high or critical advisory against the production dependencies${allowed.length ? ' beyond the allowlist' : ''}`
      : `npm audit: ${failing.length} high or critical advisories: fix them (transitive ones through "overrides" in package.json) or allowlist them with a reason and an expiry`,
  );
  return failing.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));
