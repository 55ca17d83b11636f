import type { Caller } from '../../services/release-service.ts';
import { formatTime, type Lang, t } from '../i18n.ts';
import type { ReleaseRouteDeps } from '../release-routes.ts';
import { type AdaptiveCardJson, renderCard } from '../render-card.ts';
import { plainText } from './plain-text.ts';

// `protokoll [scope]`: the latest audit entries, newest first, of the caller's tenant.

export async function renderAuditCard(
  deps: Pick<ReleaseRouteDeps, 'store' | 'service'>,
  caller: Caller,
  scopeText: string,
  lang: Lang,
): Promise<AdaptiveCardJson> {
  let scopeId: string | undefined;
  let title = t(lang, 'audit.title');
  if (scopeText.trim()) {
    const { resolveScope } = await import('../../domain/region-index.ts');
    const { regionIndexOf } = deps.service;
    const resolved = resolveScope(await regionIndexOf(), scopeText);
    if (resolved.kind === 'region') {
      scopeId = resolved.node.id;
      title = t(lang, 'audit.title_scope', { scope: plainText(resolved.node.name) });
    } else if (resolved.kind === 'domain') {
      scopeId = `domain:${resolved.domain}`;
      title = t(lang, 'audit.title_scope', { scope: plainText(resolved.domain) });
    } else if (resolved.kind !== 'all') {
      return renderCard('list', {
        title: t(lang, 'scope.unknown', { input: plainText(scopeText.slice(0, 80)) }),
        empty: '',
        lines: [],
        buttons: [],
      });
    }
  }
  const entries = (await deps.store.listAudit({ limit: 50, ...(scopeId ? { scopeId } : {}) }))
    .filter((e) => e.tenantId === null || e.tenantId === caller.tenantId)
    .slice(0, 15);
  const lines = entries.map((e) => {
    const d = (e.details ?? {}) as Record<string, unknown>;
    const who = typeof d.by === 'string' ? d.by : e.actor;
    // Names, scopes and domains come from users and back ends; the action and the state are the bot's own.
    const supplied = [who, e.scopeId, d.domain].filter((x): x is string => typeof x === 'string' && x !== '');
    const state = typeof d.state === 'string' ? [d.state] : [];
    return [formatTime(lang, e.at), e.action, ...supplied.map(plainText), ...state].join(' · ');
  });
  return renderCard('list', { title, empty: t(lang, 'audit.none'), lines, buttons: [] });
}
