// Plain-text tables for benchmark output: fixed-width columns, numbers right-aligned, no colours
// (the output ends up in CI logs and issue comments).

export type Cell = string | number | null | undefined;

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

export function formatTable(columns: ReadonlyArray<string | Column>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const text = rows.map((row) => cols.map((_, i) => cellText(row[i])));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...text.map((r) => r[i]!.length)));
  // A column is right-aligned when told so, or by default when every non-empty cell is a number.
  const right = cols.map(
    (c, i) =>
      c.align === 'right' ||
      (c.align === undefined &&
        rows.some((r) => typeof r[i] === 'number') &&
        rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    line(cols.map((c) => c.header)),
    line(widths.map((w) => '-'.repeat(w))),
    ...text.map((cells) => line(cells)),
  ].join('\n');
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '—';
  return String(cell);
}

/** Milliseconds with a fixed number of decimals; '—' for a missing value. */
export function formatMs(ms: number | null | undefined, digits = 1): string {
  return ms === null || ms === undefined || Number.isNaN(ms) ? '—' : ms.toFixed(digits);
}

/** Bytes as MB (10^6 bytes, like the targets in the issues are written). */
export function formatMB(bytes: number | null | undefined, digits = 1): string {
  return bytes === null || bytes === undefined ? '—' : (bytes / 1e6).toFixed(digits);
}
