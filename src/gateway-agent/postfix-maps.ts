import type { Direction } from './held-mail.ts';

// The access maps the agent owns, rendered from the domains' states. Postfix's main.cf uses them as
//   smtpd_recipient_restrictions = check_recipient_access hash:<maps>/inbound,
//       check_recipient_access hash:<maps>/estate, check_sender_access hash:<maps>/outbound, …
// inbound is looked up by recipient domain, outbound by sender domain; estate answers OK for every
// estate recipient first, so the sender's outbound state only applies to mail leaving the estate.
// HOLD does not end the restriction list (Postfix goes on and accepts the message into the hold queue).

export interface MapDomain {
  domain: string;
  inbound: string;
  outbound: string;
  blockMode: 'hold' | 'defer' | 'reject';
}

export type MapName = 'inbound' | 'outbound' | 'estate';
export const MAP_NAMES: readonly MapName[] = ['estate', 'inbound', 'outbound'];

const HEADER = '# Written by lagebot gateway-agent from its state; edits here are overwritten (docs/gateway-agent.md).';

export function postfixAction(
  state: string,
  blockMode: MapDomain['blockMode'],
  direction: Direction,
  domain: string,
): string | null {
  if (state === 'open') return null;
  const mode = state === 'held' ? 'hold' : blockMode;
  if (mode === 'hold') return `HOLD ${direction} mail of ${domain} held by lagebot`;
  if (mode === 'defer') return `450 4.7.1 ${direction} mail of ${domain} is stopped for now, try again later`;
  return `550 5.7.1 ${direction} mail of ${domain} is blocked`;
}

export function renderMaps(domains: readonly MapDomain[]): Record<MapName, string> {
  const sorted = [...domains].sort((a, b) => (a.domain < b.domain ? -1 : 1));
  const lines = (direction: Direction) =>
    sorted.flatMap((d) => {
      const action = postfixAction(d[direction], d.blockMode, direction, d.domain);
      return action === null ? [] : [`${d.domain} ${action}`];
    });
  const file = (body: string[]) => `${[HEADER, ...body].join('\n')}\n`;
  return {
    estate: file(sorted.map((d) => `${d.domain} OK`)),
    inbound: file(lines('inbound')),
    outbound: file(lines('outbound')),
  };
}
