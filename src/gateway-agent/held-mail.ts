// Which held messages belong to which domain and direction, and which may leave — a pure rule over what
// `postqueue -j` lists and the domains' current states.
//
// A message is held *for* (d, inbound) for every recipient in an estate domain d, and *for*
// (s, outbound) when its sender's domain s is an estate domain and a recipient is outside the estate.
// It may leave only when every one of those directions is open — or explicitly released: a message to
// attendorn.de and olpe.de stays held while either still holds inbound mail (the mixed-recipient rule,
// docs/gateway-agent.md). Postfix holds a whole message, never single recipients, so releasing it early
// would deliver to the domain that is still closed.

export interface QueuedMessage {
  queueId: string;
  queueName: string;
  arrivalTime: number; // seconds since the epoch
  sender: string;
  recipients: string[];
}

export type Direction = 'inbound' | 'outbound';
export interface HeldFor {
  domain: string;
  direction: Direction;
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? '' : address.slice(at + 1)).toLowerCase();
}

export function heldFor(message: QueuedMessage, estate: ReadonlySet<string>): HeldFor[] {
  const out: HeldFor[] = [];
  const seen = new Set<string>();
  let external = false;
  for (const r of message.recipients) {
    const d = domainOf(r);
    if (!estate.has(d)) external = true;
    else if (!seen.has(d)) {
      seen.add(d);
      out.push({ domain: d, direction: 'inbound' });
    }
  }
  const s = domainOf(message.sender);
  if (external && estate.has(s)) out.push({ domain: s, direction: 'outbound' });
  return out;
}

/** Queue ids of held messages that may leave: every direction they are held for is open or released. */
export function releasable(
  messages: readonly QueuedMessage[],
  estate: ReadonlySet<string>,
  isOpen: (domain: string, direction: Direction) => boolean,
  released: readonly HeldFor[] = [],
): string[] {
  const extra = new Set(released.map((r) => `${r.domain}|${r.direction}`));
  return messages
    .filter((m) => m.queueName === 'hold')
    .filter((m) => {
      const reasons = heldFor(m, estate);
      if (released.length > 0 && !reasons.some((r) => extra.has(`${r.domain}|${r.direction}`))) return false;
      return reasons.every((r) => extra.has(`${r.domain}|${r.direction}`) || isOpen(r.domain, r.direction));
    })
    .map((m) => m.queueId);
}

export interface HeldCount {
  domain: string;
  direction: Direction;
  held: number;
  oldestAt: number | null;
}

/** Held messages per domain and direction, from the hold queue. */
export function countHeld(messages: readonly QueuedMessage[], estate: ReadonlySet<string>): Map<string, HeldCount> {
  const counts = new Map<string, HeldCount>();
  for (const m of messages) {
    if (m.queueName !== 'hold') continue;
    for (const r of heldFor(m, estate)) {
      const key = `${r.domain}|${r.direction}`;
      const c = counts.get(key) ?? { ...r, held: 0, oldestAt: null };
      c.held += 1;
      c.oldestAt = c.oldestAt === null ? m.arrivalTime : Math.min(c.oldestAt, m.arrivalTime);
      counts.set(key, c);
    }
  }
  return counts;
}
