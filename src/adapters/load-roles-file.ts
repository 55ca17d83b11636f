import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RolesConfig } from '../domain/roles.ts';

// ROLES_FILE: { "roles": { "viewer": ["*"], "operator": ["<aadObjectId>"], "approver": ["<aadObjectId>"] },
//              "escalation": ["<aadObjectId>"] }   (escalation optional: who gets an undecided request 1:1)
// Validated at start-up: bad JSON or an unknown role name stops the bot with a line saying which.

const member = z.string().min(1).max(200);
const rolesFile = z
  .object({
    roles: z
      .object({
        viewer: z.array(member).default(['*']),
        operator: z.array(member).default([]),
        approver: z.array(member).default([]),
      })
      .strict(),
    escalation: z.array(member.refine((m) => m !== '*', { message: 'escalation names people, not "*"' })).default([]),
  })
  .strict();

export class RolesFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolesFileError';
  }
}

export function parseRolesFile(text: string, path = 'ROLES_FILE'): RolesConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RolesFileError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = rolesFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(top level)';
    const hint =
      issue.code === 'unrecognized_keys'
        ? `unknown ${issue.path.length ? 'role' : 'key'} ${issue.keys.map((k) => `"${k}"`).join(', ')}; expected ${issue.path.length ? 'roles viewer, operator, approver' : 'roles and escalation'}`
        : issue.message;
    throw new RolesFileError(`${path}: ${where}: ${hint}`);
  }
  return { ...parsed.data.roles, escalation: parsed.data.escalation };
}

export function loadRolesFile(path: string): RolesConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RolesFileError(
      `ROLES_FILE ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  return parseRolesFile(text, `ROLES_FILE ${path}`);
}
