import { CheckFailed, expect } from './conformance-check.ts';
import type { ConformanceClient } from './conformance-client.ts';

// Follows nextCursor from the first page to the last (nextCursor null), failing on a page that repeats
// a cursor or on more pages than `maxPages` — a server that never ends its paging fails instead of
// hanging the run.

export async function pageToEnd<T>(
  client: ConformanceClient,
  route: string,
  query: Record<string, string>,
  itemsOf: (body: unknown) => T[],
  maxPages = 2000,
): Promise<{ items: T[]; pages: number; lastBody: unknown }> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (let pages = 1; pages <= maxPages; pages++) {
    const answer = await client.call('GET', route, { query: cursor === null ? query : { ...query, cursor } });
    expect(answer.status === 200, `GET ${route} page ${pages}: status ${answer.status}`);
    items.push(...itemsOf(answer.body));
    const next = (answer.body as { nextCursor: string | null }).nextCursor;
    if (next === null) return { items, pages, lastBody: answer.body };
    expect(!seen.has(next), `GET ${route} page ${pages}: nextCursor repeats an earlier one`);
    seen.add(next);
    cursor = next;
  }
  throw new CheckFailed(`GET ${route}: still a nextCursor after ${maxPages} pages`);
}
