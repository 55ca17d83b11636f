import { badRequest } from './sim-error.ts';

// Opaque page cursors: base64url JSON carrying the query they belong to, so a cursor used with a
// different query is refused instead of silently paging something else.

export interface CursorData {
  q: string; // canonical query the cursor was issued for
  o: number; // offset of the next item
  m?: number; // snapshot minute (inventory pages stay consistent while the sim clock runs)
}

export function encodeCursor(data: CursorData): string {
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, query: string): CursorData {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid_cursor', 'cursor is not valid');
  }
  const c = data as Partial<CursorData> | null;
  if (
    !c ||
    typeof c !== 'object' ||
    typeof c.q !== 'string' ||
    !Number.isInteger(c.o) ||
    (c.o ?? -1) < 0 ||
    (c.m !== undefined && !Number.isInteger(c.m))
  ) {
    throw badRequest('invalid_cursor', 'cursor is not valid');
  }
  if (c.q !== query)
    throw badRequest('invalid_cursor', 'cursor belongs to a different query; repeat the query without it');
  return c as CursorData;
}
