import Database from 'better-sqlite3';

// Times every better-sqlite3 call in this process (prepare, run, all, get, exec), grouped by the
// statement's SQL. better-sqlite3 is synchronous: the time measured here is time the event loop
// stood still, which under concurrent load every other request waits for. For benchmarks only:
// it patches the library's prototypes for the whole process.

export interface SqlCallStats {
  calls: number;
  totalMs: number;
  maxMs: number;
}

export interface SqliteInstrumentation {
  /** Per `<method> <sql, whitespace folded, first 80 chars>`. */
  stats(): Record<string, SqlCallStats>;
  reset(): void;
}

let installed: SqliteInstrumentation | null = null;

export function instrumentSqlite(): SqliteInstrumentation {
  if (installed) return installed;
  let table = new Map<string, SqlCallStats>();
  const record = (key: string, ms: number) => {
    const s = table.get(key) ?? { calls: 0, totalMs: 0, maxMs: 0 };
    s.calls++;
    s.totalMs += ms;
    if (ms > s.maxMs) s.maxMs = ms;
    table.set(key, s);
  };
  // Folding the SQL on every call cost more than some of the calls measured: remember each text's label.
  const labels = new Map<string, string>();
  const label = (sql: string) => {
    let l = labels.get(sql);
    if (l === undefined) {
      l = sql.replace(/\s+/g, ' ').trim().slice(0, 80);
      if (labels.size < 10_000) labels.set(sql, l);
    }
    return l;
  };
  const timed = <A extends unknown[], R>(key: (self: unknown, args: A) => string, fn: (...args: A) => R) =>
    function (this: unknown, ...args: A): R {
      const started = performance.now();
      try {
        return fn.apply(this, args);
      } finally {
        record(key(this, args), performance.now() - started);
      }
    };

  const db = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>;
  db.close();
  for (const method of ['run', 'all', 'get'] as const) {
    const original = statementProto[method] as (...args: unknown[]) => unknown;
    statementProto[method] = timed(
      (self) => `${method} ${label(String((self as { source?: unknown }).source ?? '?'))}`,
      original,
    );
  }
  const dbProto = Database.prototype as unknown as Record<string, unknown>;
  for (const method of ['prepare', 'exec'] as const) {
    const original = dbProto[method] as (...args: unknown[]) => unknown;
    dbProto[method] = timed((_self, args: unknown[]) => `${method} ${label(String(args[0]))}`, original);
  }

  installed = {
    stats: () => Object.fromEntries(table),
    reset() {
      table = new Map();
    },
  };
  return installed;
}
