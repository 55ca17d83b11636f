// What must never reach a chat reply or an HTTP answer of the bot: stack frames, source paths,
// error class names and driver codes. A person gets a plain sentence; the details go to the log.

const patterns: Array<[string, RegExp]> = [
  ['stack frame', /\bat (?:async )?[\w$.<>[\] ]*\(?(?:file:\/\/|\/|node:|[A-Za-z]:\\)[^)\s]*:\d+(?::\d+)?\)?/],
  ['source path', /(?:\/work\/|\/src\/|\/home\/|\/tmp\/|node_modules|[\w-]+\.(?:ts|mjs|cjs|js):\d+)/],
  ['error class', /\b(?:TypeError|ReferenceError|SyntaxError|RangeError|ZodError|LagebotError|DatabaseError)\b/],
  ['error code', /\b(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|SQLITE_[A-Z]+|UPSTREAM_[A-Z_]+|STORE_UNAVAILABLE)\b/],
  ['raw object', /\[object Object\]|\bundefined\b/],
];

/** The kinds of internals found in a text (empty when it is clean). */
export function findInternals(text: string): string[] {
  return patterns.filter(([, re]) => re.test(text)).map(([name, re]) => `${name}: ${re.exec(text)![0]}`);
}
