import type { DomainGroup } from '../../domain/group-domains.ts';
import { type ReleaseEffect, targetFlow } from '../../domain/release-effect.ts';
import type { Approval, Execution, Refusal, ReleaseRequest } from '../../domain/release-request.ts';
import { JUSTIFICATION_MIN, retryDeadline } from '../../domain/release-request.ts';
import { listedMembers, type RolesConfig } from '../../domain/roles.ts';
import { ALL_SCOPE_ID } from '../../domain/scope-id.ts';
import type { ConfirmFacts, PolicySummary } from '../../services/release-service.ts';
import { catalogues, formatNumber, formatTime, type Lang, type MessageKey, t } from '../i18n.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// The release/block request as a card, for everybody (updated in place on every transition) and,
// through refresh.userIds, per user. Buttons carry only the request id and the card's version.

export interface RequestCardOptions {
  /** A message shown on top (a refusal, "someone else acted first", "Antrag gestellt"). */
  message?: string;
  /** Its colour by meaning: red only for a refusal or what needs action (the default), green for done. */
  messageColor?: 'Default' | 'Good' | 'Warning' | 'Attention';
  /** Domains whose gateway call waits for a retry. */
  retrying?: ReadonlySet<string>;
  /** Actions this view offers; undefined = the state's default buttons for everyone. */
  actions?: ReadonlyArray<'approve' | 'reject' | 'cancel' | 'confirm_block' | 'retry_failed'>;
  /** Users whose Teams client asks for their own view (requester, listed approvers). Max 60 (Teams). */
  refreshUserIds?: string[];
}

/** Who gets a user-specific view of a request card (refresh.userIds): the requester and the named deciders. */
export function refreshUsersFor(request: ReleaseRequest, roles: RolesConfig): string[] {
  return [...new Set([request.requester.id, ...listedMembers(roles, 'approver'), ...listedMembers(roles, 'operator')])];
}

export function directionText(lang: Lang, direction: ReleaseRequest['direction']): string {
  return t(lang, `direction.${direction}` as MessageKey);
}

export function scopeName(lang: Lang, request: ReleaseRequest): string {
  return request.scope.id === ALL_SCOPE_ID ? t(lang, 'all.name') : plainText(request.scope.name);
}

export function stateText(lang: Lang, request: ReleaseRequest): string {
  const round = request.state === 'retry_pending' ? request.execution.pendingRetry : null;
  return t(lang, `request.state.${request.state}` as MessageKey, {
    have: round ? round.approvals.length : request.approvals.length,
    need: round ? round.requiredApprovals : request.requiredApprovals,
  });
}

/** "44 Domänen, davon 12 bereits offen — 32 werden geändert" (confirm) from the gateway's live state. */
export function effectText(lang: Lang, kind: ReleaseRequest['kind'], effect: ReleaseEffect): string {
  const flow = t(lang, `flow.${targetFlow(kind)}` as MessageKey);
  if (effect.toChange.length === 0) return t(lang, 'confirm.nothing_to_do', { total: effect.total, flow });
  return t(lang, 'confirm.effect', {
    total: effect.total,
    already: effect.already.length,
    flow,
    change: effect.toChange.length,
  });
}

function approvalText(lang: Lang, a: Approval): string {
  const override = a.override ? ` (${t(lang, 'request.override')})` : '';
  // Every approver's own justification is on the card, not only the first one.
  const why = a.justification ? ` – „${plainText(a.justification)}“` : '';
  return `${plainText(a.by.name)} · ${formatTime(lang, a.at)}${override}${why}`;
}

// The line under the state that says what the request's fate means (superseded, nothing to do, ...).
function noteFor(lang: Lang, request: ReleaseRequest, execution: Execution | null): string {
  const flow = t(lang, `flow.${targetFlow(request.kind)}` as MessageKey);
  if (request.state === 'superseded') {
    return t(lang, 'request.superseded_note', {
      name: plainText(request.supersession.by.name),
      time: formatTime(lang, request.supersession.at),
      id: request.supersession.requestId,
    });
  }
  if (request.state === 'expired') {
    return t(lang, execution ? 'request.expired_retry_note' : 'request.expired_note');
  }
  if (!execution) return '';
  const domains = Object.values(execution.domains);
  const skipped = Object.entries(execution.domains).filter(([, d]) => d.status === 'skipped');
  const notes: string[] = [];
  if (request.state === 'executed' && domains.length > 0 && domains.every((d) => d.unchanged)) {
    notes.push(t(lang, 'request.nothing_to_do', { count: domains.length, flow }));
  } else if (request.state === 'executed' || request.state === 'partially_failed') {
    const already = domains.filter((d) => d.unchanged).length;
    const changed = domains.filter((d) => d.status === 'succeeded' && !d.unchanged).length;
    notes.push(t(lang, 'request.effect_done', { total: domains.length, already, flow, changed }));
  }
  if (skipped.length > 0) {
    notes.push(t(lang, 'request.skipped_note', { domains: plainText(skipped.map(([d]) => d).join(', ')) }));
  }
  const lastRetry = request.history.at(-1);
  if (request.state === 'partially_failed' && lastRetry?.what === 'retry_rejected') {
    notes.push(t(lang, 'request.retry_rejected_note'));
  }
  return notes.join(' ');
}

function defaultActions(request: ReleaseRequest): NonNullable<RequestCardOptions['actions']> {
  switch (request.state) {
    case 'pending':
      return ['approve', 'reject', 'cancel'];
    case 'awaiting_confirmation':
      return ['confirm_block', 'cancel'];
    case 'partially_failed':
      return ['retry_failed'];
    case 'retry_pending':
      return ['approve', 'reject'];
    default:
      return [];
  }
}

const buttonSpec = {
  approve: { key: 'btn.approve', verb: 'request.approve', style: 'positive' },
  reject: { key: 'btn.reject', verb: 'request.reject', style: 'destructive' },
  cancel: { key: 'btn.cancel', verb: 'request.cancel', style: 'default' },
  confirm_block: { key: 'btn.confirm_block', verb: 'request.confirm_block', style: 'destructive' },
  retry_failed: { key: 'btn.retry', verb: 'request.retry', style: 'default' },
} as const;

export function buildRequestCard(
  request: ReleaseRequest,
  version: number,
  lang: Lang,
  options: RequestCardOptions = {},
): AdaptiveCardJson {
  const data = { requestId: request.id, version };
  const actions = options.actions ?? defaultActions(request);
  const facts: Array<{ title: string; value: string }> = [
    {
      title: t(lang, 'request.requester'),
      value: `${plainText(request.requester.name)} · ${formatTime(lang, request.createdAt)}`,
    },
    { title: t(lang, 'request.reason'), value: plainText(request.reason) },
  ];
  if (request.justification) {
    facts.push({ title: t(lang, 'request.justification'), value: plainText(request.justification) });
  }
  for (const a of request.approvals) {
    facts.push({ title: t(lang, 'request.approvals'), value: approvalText(lang, a) });
  }
  const execution = 'execution' in request ? request.execution : null;
  for (const round of [execution?.retry, execution?.pendingRetry]) {
    if (!round) continue;
    facts.push({
      title: t(lang, 'request.retry_by'),
      value: `${plainText(round.by.name)} · ${formatTime(lang, round.at)} – ${t(lang, `request.retry_why.${round.why}`)}`,
    });
    for (const a of round.approvals) {
      facts.push({ title: t(lang, 'request.retry_approvals'), value: approvalText(lang, a) });
    }
  }
  if (request.confirmation) {
    facts.push({
      title: t(lang, 'request.confirmed_by'),
      value: `${plainText(request.confirmation.by.name)} · ${formatTime(lang, request.confirmation.at)}`,
    });
  }
  if (request.state === 'rejected') {
    facts.push({
      title: t(lang, 'request.rejected_by'),
      value: `${plainText(request.rejection.by.name)} · ${formatTime(lang, request.rejection.at)}${request.rejection.reason ? ` – ${plainText(request.rejection.reason)}` : ''}`,
    });
  }
  if (request.state === 'cancelled') {
    facts.push({
      title: t(lang, 'request.cancelled_by'),
      value: `${plainText(request.cancellation.by.name)} · ${formatTime(lang, request.cancellation.at)}`,
    });
  }
  if (request.state === 'pending' || request.state === 'awaiting_confirmation') {
    facts.push({ title: t(lang, 'request.expires'), value: formatTime(lang, request.expiresAt) });
  }
  const retryUntil = retryDeadline(request);
  if (retryUntil) facts.push({ title: t(lang, 'request.retry_until'), value: formatTime(lang, retryUntil) });
  facts.push({ title: t(lang, 'request.id'), value: request.id });
  const typed = typedCommandFor(request);
  if (typed) facts.push({ title: t(lang, 'typed.from_phone'), value: `\`${t(lang, typed)} ${request.id}\`` });

  const policy = request.policyAtRequest?.summary as PolicySummary | undefined;
  const policyText = policy
    ? policy.evaluation.meets
      ? t(lang, 'request.policy_ok', { time: formatTime(lang, policy.observedAt) })
      : t(lang, 'request.policy_fail', {
          clients: formatNumber(lang, policy.unpatchedClients),
          servers: formatNumber(lang, policy.unpatchedServers),
          time: formatTime(lang, policy.observedAt),
        })
    : '';
  const rows = execution
    ? Object.entries(execution.domains).map(([domain, d]) => {
        const status =
          d.status === 'pending' && options.retrying?.has(domain)
            ? 'retrying'
            : d.status === 'succeeded' && d.unchanged
              ? 'unchanged'
              : d.status;
        const icon = { pending: '⏳', retrying: '↻', succeeded: '✔', unchanged: '＝', failed: '✖', skipped: '↷' }[
          status
        ];
        return {
          status,
          title: plainText(domain),
          value: `${icon} ${t(lang, `request.domain.${status}` as MessageKey)}${d.status === 'failed' && d.error ? ` – ${gatewayErrorText(lang, d.error)}` : ''}`,
        };
      })
    : [];
  // A Verband has 40+ domains: then one line of counts, and by name only those not done.
  const executionRows =
    rows.length <= 12
      ? rows.map(({ title, value }) => ({ title, value }))
      : [
          {
            title: t(lang, 'request.domains'),
            value: (['succeeded', 'unchanged', 'pending', 'retrying', 'failed', 'skipped'] as const)
              .map((st) => [st, rows.filter((r) => r.status === st).length] as const)
              .filter(([, n]) => n > 0)
              .map(([st, n]) => `${n} ${t(lang, `request.domain.${st}` as MessageKey)}`)
              .join(' · '),
          },
          ...rows
            .filter((r) => r.status !== 'succeeded' && r.status !== 'unchanged')
            .slice(0, 12)
            .map(({ title, value }) => ({ title, value })),
        ];
  const terminalColor = { executed: 'Good', partially_failed: 'Attention', rejected: 'Attention' } as Record<
    string,
    string
  >;
  // Every domain the decision is about, by Kreis; by town behind *Alle Domänen*.
  const groups: DomainGroup[] = request.scope.groups ?? [
    { name: '', towns: [{ name: '', domains: request.scope.domains }] },
  ];
  const card = renderCard('request', {
    domainsTitle: t(lang, 'request.domains_count', { count: request.scope.domains.length }),
    domainGroups: groups.map((g) => {
      const list = plainText(g.towns.flatMap((town) => town.domains).join(', '));
      const n = g.towns.reduce((sum, town) => sum + town.domains.length, 0);
      return { text: g.name ? `**${plainText(g.name)} (${n}):** ${list}` : list };
    }),
    allDomainsTitle: t(lang, 'request.all_domains'),
    allDomains: groups.map((g) => ({
      name: g.name ? plainText(g.name) : t(lang, 'request.domains'),
      facts: g.towns.map((town) => ({
        title: town.name ? plainText(town.name) : '–',
        value: plainText(town.domains.join(', ')),
      })),
    })),
    message: options.message ?? '',
    messageColor: options.messageColor ?? 'Attention',
    headerStyle: request.kind === 'block' ? 'attention' : 'emphasis',
    title: t(lang, 'request.title', {
      what: t(lang, request.kind === 'block' ? 'what.block' : 'what.release'),
      direction: directionText(lang, request.direction),
      scope: scopeName(lang, request),
    }),
    stateText: stateText(lang, request),
    stateColor: terminalColor[request.state] ?? 'Default',
    facts,
    policyText,
    policyColor: policy?.evaluation.meets ? 'Good' : 'Attention',
    devicesTitle: t(lang, 'request.unpatched_title', { n: policy?.devices.length ?? 0 }),
    devices: (policy?.devices ?? []).map((d) => ({
      hostname: `${plainText(d.hostname)} (${t(lang, d.kind === 'server' ? 'device.server' : 'device.client')})`,
      town: plainText(d.town),
      state: t(lang, `state.${d.state}` as MessageKey),
    })),
    executionTitle: t(lang, 'request.execution'),
    execution: executionRows,
    note: noteFor(lang, request, execution),
    buttons: actions.map((a) => ({
      title: t(lang, buttonSpec[a].key),
      verb: buttonSpec[a].verb,
      style: buttonSpec[a].style,
      data,
    })),
  });
  if (options.refreshUserIds && options.refreshUserIds.length > 0 && actions.length > 0) {
    // Teams asks for a user-specific view for these users (at most 60). It is a convenience, not
    // access control: every action is checked on the server.
    card.refresh = {
      action: { type: 'Action.Execute', title: t(lang, 'status.refresh'), verb: 'request.view', data },
      userIds: options.refreshUserIds.slice(0, 60),
    };
  }
  return card;
}

/** The typed command that does on a phone what the card's main button does (Action.Execute does not work there). */
export function typedCommandFor(request: ReleaseRequest): MessageKey | null {
  if ((request.state === 'pending' || request.state === 'retry_pending') && request.kind === 'release')
    return 'typed.verb.approve';
  if (request.state === 'awaiting_confirmation') return 'typed.verb.confirm';
  if (request.state === 'partially_failed') return 'typed.verb.retry';
  return null;
}

/** Confirming this is below the policy: a justification belongs to it (the card's form field, the typed tail). */
export function belowPolicy(facts: ConfirmFacts): boolean {
  const { request, fresh, worse } = facts;
  const round = request.state === 'retry_pending' ? (request.execution.pendingRetry ?? null) : null;
  return !fresh.evaluation.meets || (round ? round.requiredApprovals : request.requiredApprovals) === 2 || worse;
}

/** The justification already on record for what is being approved (the request's, or the retry round's). */
export function justificationOnRecord(facts: ConfirmFacts): string | null {
  const { request } = facts;
  return request.state === 'retry_pending'
    ? (request.execution.pendingRetry?.justification ?? null)
    : request.justification;
}

export function buildConfirmCard(
  facts: ConfirmFacts,
  lang: Lang,
  options: { message?: string } = {},
): AdaptiveCardJson {
  const { request, version, fresh, worse, effect } = facts;
  const data = { requestId: request.id, version };
  const round = request.state === 'retry_pending' ? request.execution.pendingRetry : null;
  const below = belowPolicy(facts);
  const onRecord = justificationOnRecord(facts);
  // Below the policy every approver may add a justification; it is required while none is on record.
  const askJustification = below;
  const justificationRequired = below && !onRecord;
  const buttons = worse
    ? [{ title: t(lang, 'btn.override'), verb: 'request.confirm_override', style: 'destructive', data }]
    : [{ title: t(lang, 'btn.confirm'), verb: 'request.confirm', style: 'positive', data }];
  buttons.push({ title: t(lang, 'btn.abort'), verb: 'request.view', style: 'default', data });
  return renderCard('confirm', {
    title: options.message ?? t(lang, 'confirm.title'),
    text: t(lang, round ? 'confirm.retry' : 'confirm.release', {
      direction: directionText(lang, request.direction),
      count: effect.total,
      clients: formatNumber(lang, fresh.unpatchedClients),
      servers: formatNumber(lang, fresh.unpatchedServers),
    }),
    effect: effectText(lang, request.kind, effect),
    warning: worse ? t(lang, 'confirm.worse') : '',
    justificationWhy: below ? t(lang, 'confirm.justification_why') : '',
    onRecord: below && onRecord ? t(lang, 'confirm.justification_on_record', { text: plainText(onRecord) }) : '',
    askJustification,
    justificationRequired,
    justificationLabel: t(
      lang,
      justificationRequired ? 'confirm.justification_label' : 'confirm.justification_optional',
      {
        min: JUSTIFICATION_MIN,
      },
    ),
    buttons,
  });
}

export function buildReasonForm(
  lang: Lang,
  input: {
    requestKind: 'release' | 'block';
    scopeId: string;
    scopeName: string;
    direction: ReleaseRequest['direction'];
  },
): AdaptiveCardJson {
  const what = t(lang, input.requestKind === 'block' ? 'what.block' : 'what.release');
  return renderCard('reason-form', {
    title: t(lang, 'release.reason_title'),
    text: t(lang, 'release.reason_prompt', {
      what,
      scope: input.scopeId === ALL_SCOPE_ID ? t(lang, 'all.name') : plainText(input.scopeName),
      direction: directionText(lang, input.direction),
    }),
    label: t(lang, 'request.reason'),
    placeholder: t(lang, 'release.reason_placeholder'),
    submit: t(lang, input.requestKind === 'block' ? 'block.reason_submit' : 'release.reason_submit'),
    data: { kind: input.requestKind, scopeId: input.scopeId, direction: input.direction },
  });
}

/** A failed domain's reason in plain words; the request stores the error code (execute-release.ts). */
export function gatewayErrorText(lang: Lang, code: string): string {
  const key = `gateway_error.${code}`;
  return key in catalogues[lang] ? t(lang, key as MessageKey) : t(lang, 'gateway_error.other');
}

export function refusalText(lang: Lang, refusal: Refusal): string {
  switch (refusal.code) {
    case 'already_decided':
      return t(lang, 'refusal.already_decided', {
        state: t(lang, `request.state.${refusal.state}` as MessageKey, { have: '', need: '' }),
      });
    case 'retry_window_over':
      return t(lang, 'refusal.retry_window_over', { time: formatTime(lang, refusal.until) });
    case 'justification_required':
    case 'reason_required':
      return t(lang, `refusal.${refusal.code}`, { min: refusal.min });
    case 'too_long':
      return t(lang, 'refusal.too_long', { max: refusal.max });
    case 'self_approval':
    case 'not_approver':
    case 'not_operator':
    case 'not_requester':
    case 'already_approved_by_you':
    case 'wrong_kind':
    case 'wrong_tenant':
    case 'expired':
    case 'policy_worsened':
    case 'nothing_to_retry':
    case 'no_domains':
    case 'policy_required':
      return t(lang, `refusal.${refusal.code}`);
    default:
      return t(lang, 'refusal.not_possible');
  }
}
