import type { Role } from './release-request.ts';

// Who may do what. Roles come from the roles file keyed by the Teams user's aadObjectId (never from
// card data); "*" grants a role to every user of an allowed tenant.

export interface RolesConfig {
  viewer: readonly string[];
  operator: readonly string[];
  approver: readonly string[];
  /** Who gets an undecided request 1:1 after APPROVAL_ESCALATION (aadObjectIds; no "*"). */
  escalation?: readonly string[];
}

export const roleNames: readonly Role[] = ['viewer', 'operator', 'approver'];

export function rolesFor(config: RolesConfig, aadObjectId: string | null): Role[] {
  const roles: Role[] = [];
  for (const role of roleNames) {
    const members = config[role];
    if (members.includes('*') || (aadObjectId !== null && members.includes(aadObjectId))) roles.push(role);
  }
  return roles;
}

export function hasRole(config: RolesConfig, aadObjectId: string | null, role: Role): boolean {
  return rolesFor(config, aadObjectId).includes(role);
}

/** The approvers a card can name in refresh.userIds; "*" names nobody in particular. */
export function listedMembers(config: RolesConfig, role: Role): string[] {
  return config[role].filter((m) => m !== '*');
}
