import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Caller } from '../../../src/domain/caller.ts';
import { silentLogger } from '../../../src/domain/logger.ts';
import type { OutgoingContent } from '../../../src/domain/mention-message.ts';
import type { RolesConfig } from '../../../src/domain/roles.ts';
import { createRequestNudges, type ReminderView } from '../../../src/services/nudge-requests.ts';
import { callers, type ReleaseCore, roles, startReleaseCore } from '../../helpers/release-core.ts';

// Reminders for a retry waiting for its approval round, at the service tier over the release core
// (in-memory SQLite store and back ends, a clock the test moves): getting a request partially failed and
// below the policy is plain here, and tick() is called after each move of the clock.

const RHEIN_SIEG = 'ags:05382'; // below the policy when a Troisdorf client falls back
const JUSTIFICATION = 'Lagebesprechung: Restrisiko bewusst akzeptiert';
const APPROVERS = '19:freigaben@thread.tacv2';

let core: ReleaseCore;
afterEach(() => core.close());

interface Sent {
  to: string;
  what: 'reminder' | 'escalation' | 'unreachable' | 'note';
  view?: ReminderView;
  since?: string;
  people?: string[];
}

function nudgesOver(core: ReleaseCore, nudgeRoles: RolesConfig) {
  const sent: Sent[] = [];
  let pending: Sent | null = null;
  const content = (s: Sent): OutgoingContent => {
    pending = s;
    return { type: 'lagebot.mention_message', template: s.what, mentions: [] };
  };
  const nudges = createRequestNudges({
    store: core.store,
    sender: {
      async send(to) {
        sent.push({ ...pending!, to });
        return { activityId: `a-${sent.length}` };
      },
      async update() {},
    },
    people: { nameOf: async (id) => ({ id, name: `Name of ${id}` }) },
    render: {
      reminder: (view) => content({ to: '', what: 'reminder', view }),
      escalation: (_request, _version, since) => content({ to: '', what: 'escalation', since }),
      unreachable: (_request, people) => content({ to: '', what: 'unreachable', people: people.map((p) => p.id) }),
      requesterNote: () => content({ to: '', what: 'note' }),
    },
    roles: nudgeRoles,
    approversConversation: APPROVERS,
    reminderMs: 15 * 60_000,
    reminderMax: 3,
    escalationMs: 60 * 60_000,
    holder: 'replica-a',
    now: core.now,
    logger: silentLogger,
  });
  return { nudges, sent };
}

async function versionOf(id: string) {
  return (await core.service.get(id))!.version;
}

const third: Caller = {
  aadObjectId: 'aad-approver-3',
  userId: '29:aad-approver-3',
  name: 'Dora Approver',
  tenantId: 'tenant-1',
};
const threeApprovers: RolesConfig = {
  ...roles,
  approver: [...roles.approver!, third.aadObjectId!],
  escalation: ['aad-escalation'],
};

describe('reminders for a retry waiting for its approval round', () => {
  test('reminders from the round’s start mention who the round waits for; none after the decision', async () => {
    core = await startReleaseCore({ roles: threeApprovers });
    const { nudges, sent } = nudgesOver(core, threeApprovers);
    const created = await core.service.create(callers.operator, {
      kind: 'release',
      scopeId: RHEIN_SIEG,
      direction: 'inbound',
      reason: 'Alle Clients gepatcht, abgestimmt',
      domains: ['troisdorf.nrw.example', 'rhein-sieg.nrw.example'],
    });
    assert.equal(created.kind, 'created');
    const id = (created as Extract<typeof created, { kind: 'created' }>).request.id;
    assert.equal(await nudges.tick(), 0);
    core.advance(15);
    assert.equal(await nudges.tick(), 1, 'the first round’s reminder 1');

    // Bernd approves, one domain fails; the Kreis falls below the policy; Anna asks for the retry.
    core.advance(5);
    core.gateway.fail('changeDomain', { code: 'UPSTREAM_REJECTED', domain: 'troisdorf.nrw.example' });
    assert.equal((await core.service.act(callers.approver2, id, await versionOf(id), 'approve')).kind, 'ok');
    await core.executor.run(id);
    assert.ok(await core.executor.idle());
    core.gateway.clearFaults();
    core.inventory.setState('dev-05382068-c0', 'outlook-2024-02', 'failed');
    assert.equal((await core.service.act(callers.approver1, id, await versionOf(id), 'retry_failed')).kind, 'ok');
    const round = (await core.service.get(id))!.request;
    assert.ok(round.state === 'retry_pending' && round.execution.pendingRetry!.requiredApprovals === 2);
    const since = round.execution.pendingRetry!.at;
    const sentBefore = sent.length;

    core.advance(10);
    assert.equal(await nudges.tick(), 0, 'the first round’s reminder 2 is not sent for the retry round');
    core.advance(4);
    assert.equal(await nudges.tick(), 0, 'nothing before 15 minutes of the round');
    core.advance(1);
    assert.equal(await nudges.tick(), 1, 'the round’s reminder 1, though the first round had one');
    const first = sent.at(-1)!;
    assert.equal(sent.length, sentBefore + 1);
    assert.equal(first.what, 'reminder');
    assert.equal(first.to, APPROVERS);
    assert.equal(first.view!.n, 1);
    assert.equal(first.view!.since, since, 'since the retry round began');
    // Not Olaf (the requester), not Anna (she asked for the retry), not yet approved: Bernd and Dora.
    assert.deepEqual(
      first.view!.approvers.map((p) => p.id),
      [callers.approver2.aadObjectId, third.aadObjectId],
    );

    // Bernd approves the round with a justification: it needs two, so it waits on, for Dora only.
    const one = await core.service.act(callers.approver2, id, await versionOf(id), 'approve', {
      justification: JUSTIFICATION,
    });
    assert.equal(one.kind, 'ok');
    core.advance(15);
    assert.equal(await nudges.tick(), 1);
    assert.equal(sent.at(-1)!.view!.n, 2);
    assert.deepEqual(
      sent.at(-1)!.view!.approvers.map((p) => p.id),
      [third.aadObjectId],
    );
    const rounds = (await core.store.listAudit({ requestId: id, limit: 100 }))
      .filter((e) => e.action === 'release.reminder_sent')
      .map((e) => (e.details as { round?: string }).round ?? 'first');
    assert.deepEqual(rounds.sort(), ['first', `r2@${since}`, `r2@${since}`]);

    // Dora approves: the round is decided, so no third reminder and no escalation follow.
    assert.equal((await core.service.act(third, id, await versionOf(id), 'approve')).kind, 'ok');
    await core.executor.run(id);
    assert.ok(await core.executor.idle());
    assert.equal((await core.service.get(id))!.request.state, 'executed');
    const decided = sent.length;
    core.advance(15);
    await nudges.tick();
    core.advance(60);
    await nudges.tick();
    assert.deepEqual(
      sent.slice(decided).map((s) => s.what),
      [],
    );
  });
});
