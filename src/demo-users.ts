// The demo's five mock users: the Agents Playground config, the demo roles file and `lagebot chat
// --as` all use these, so "who is who" is written once.

export interface DemoUser {
  key: 'viewer' | 'operator' | 'operator2' | 'approver1' | 'approver2';
  name: string;
  aadObjectId: string;
  roles: Array<'viewer' | 'operator' | 'approver'>;
  /** In the roles file's escalation list: gets a request undecided after APPROVAL_ESCALATION 1:1. */
  escalation?: true;
}

export const demoTenantId = '11111111-2222-4333-8444-555555555555';

export const demoUsers: DemoUser[] = [
  { key: 'viewer', name: 'Vera Viewer', aadObjectId: '00000000-0000-4000-a000-000000000001', roles: ['viewer'] },
  {
    key: 'operator',
    name: 'Olaf Operator',
    aadObjectId: '00000000-0000-4000-a000-000000000002',
    roles: ['viewer', 'operator'],
  },
  {
    key: 'operator2',
    name: 'Ole Operator',
    aadObjectId: '00000000-0000-4000-a000-000000000003',
    roles: ['viewer', 'operator'],
  },
  {
    key: 'approver1',
    name: 'Anna Approver',
    aadObjectId: '00000000-0000-4000-a000-000000000004',
    roles: ['viewer', 'approver'],
  },
  {
    key: 'approver2',
    name: 'Bernd Approver',
    aadObjectId: '00000000-0000-4000-a000-000000000005',
    roles: ['viewer', 'approver'],
    escalation: true,
  },
];

export function findDemoUser(keyOrRole: string): DemoUser | undefined {
  const wanted = keyOrRole.toLowerCase();
  return (
    demoUsers.find((u) => u.key === wanted || u.aadObjectId === wanted) ??
    (wanted === 'approver' ? demoUsers.find((u) => u.key === 'approver1') : undefined)
  );
}
