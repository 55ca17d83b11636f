import { createRequire } from 'node:module';

// Every card the bot sends must parse with the official Adaptive Cards object model without events,
// apart from Teams' chart elements (the status card's charts). Unknown-element events for Chart.* are
// accepted only where the element has a fallback or is droppable.

const require = createRequire(import.meta.url);
// The package's ESM build does not load in Node; its UMD bundle does (docs/decisions/stack.md).
const AC = require('adaptivecards/dist/adaptivecards.js') as {
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { event: number; message: string } };
  AdaptiveCard: new () => { parse(json: unknown, ctx: unknown): void };
};

const UNKNOWN_ELEMENT_TYPE = 11; // ValidationEvent.UnknownElementType in adaptivecards 3.x

export function cardProblems(card: unknown): string[] {
  const ctx = new AC.SerializationContext();
  new AC.AdaptiveCard().parse(card, ctx);
  const problems: string[] = [];
  for (let i = 0; i < ctx.eventCount; i++) {
    const e = ctx.getEventAt(i);
    if (e.event === UNKNOWN_ELEMENT_TYPE && /"Chart\.[A-Za-z.]+"/.test(e.message)) continue;
    problems.push(e.message);
  }
  const text = JSON.stringify(card);
  if (text.includes('${')) problems.push('unexpanded ${…} binding left in the card');
  for (const m of text.matchAll(/"type":"(Chart\.[A-Za-z.]+)"/g)) {
    // Each chart must say what a client without charts shows.
    const at = text.indexOf(m[0]);
    const rest = text.slice(at, at + 4000);
    if (!/"fallback":/.test(rest)) problems.push(`${m[1]} without a fallback`);
  }
  return problems;
}

export function assertValidCard(card: unknown): void {
  const problems = cardProblems(card);
  if (problems.length > 0) throw new Error(`invalid Adaptive Card:\n- ${problems.join('\n- ')}`);
}
