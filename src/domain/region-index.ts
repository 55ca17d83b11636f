import type { RegionKind, RegionLevel, RegionNode } from './model.ts';
import { compactName, normalizeName } from './normalize-name.ts';
import { isReservedRegionId, parseScopeId, type Scope } from './scope-id.ts';

// Turns what a person types ("Kreis Olpe", "süd", "attendorn.de", "Atendorn") into one region node,
// a question ("Olpe: the Kreis or the town?") or a suggestion. The inventory API sends the tree as a
// flat list; the index is built once per list and every lookup is a scan over its keys (O(nodes)).
//
// Nothing here knows an estate: the levels (their names, plurals and the qualifier words that pick
// one, "Kreis Olpe" vs "Stadt Olpe") come with the region list, and when the inventory does not name
// them they are derived from the kinds in the tree (docs/decisions/regions-from-data.md).

export type ScopeResolution =
  | Scope
  | { kind: 'ambiguous'; candidates: RegionNode[] }
  | { kind: 'unknown'; input: string; suggestions: RegionNode[] };

/** A node as a question offers it: "Olpe (Kreis)" / "Olpe (district)". */
export interface RegionChoice {
  id: string;
  name: string;
  level: RegionLevel['name'];
}

interface NameKey {
  key: string; // compactName of the name
  node: RegionNode;
  // Ids match only exactly: nobody types them, but card buttons may send them.
  exactOnly: boolean;
}

export interface RegionIndex {
  readonly nodes: readonly RegionNode[];
  readonly byId: ReadonlyMap<string, RegionNode>;
  readonly children: ReadonlyMap<string, readonly RegionNode[]>;
  /** Nodes without a (known) parent, sorted: what "all" is made of. */
  readonly roots: readonly RegionNode[];
  /** Every level of the tree, top first: the inventory's own, then any kind it did not name. */
  readonly levels: readonly RegionLevel[];
  readonly keys: readonly NameKey[];
  readonly exact: ReadonlyMap<string, readonly RegionNode[]>;
  readonly domains: ReadonlyMap<string, { node: RegionNode; domain: string }>;
  // Level kind → position in `levels` (0 = top); qualifier word → the level it picks.
  readonly rank: ReadonlyMap<RegionKind, number>;
  readonly qualifiers: ReadonlyMap<string, RegionKind>;
}

const ALL_WORDS = new Set(['alle', 'all', 'alles', 'gesamt', 'everything']);
// "Nord" → Nordverband, "Wickede" → "Wickede (Ruhr)". Shorter prefixes ("Att", "Ne") are too
// likely to be a slip to release mail for; they get suggestions instead.
const MIN_PREFIX = 4;
// "Bad" is too short to pick a town, long enough to offer Bad Berleburg, Bad Laasphe, Bad Sassendorf.
const MIN_PREFIX_SUGGESTION = 3;
// Region names are short; anything longer is a sentence, not a place, and is not worth comparing.
const MAX_FUZZY_INPUT = 64;
const MAX_SUGGESTIONS = 3;
// A bare "Kreis" asks "which one?" with every Kreis; a bare "Stadt" would list 59 towns, which is no
// question a person can answer — that gets "unknown" instead.
const MAX_BARE_QUALIFIER_CANDIDATES = 10;

export function buildRegionIndex(nodes: readonly RegionNode[], namedLevels: readonly RegionLevel[] = []): RegionIndex {
  const byId = new Map<string, RegionNode>();
  for (const n of nodes) if (!byId.has(n.id) && !isReservedRegionId(n.id)) byId.set(n.id, n);
  const unique = [...byId.values()];

  const levels = levelsOf(unique, byId, namedLevels);
  const rank = new Map(levels.map((l, i) => [l.kind, i]));
  const qualifiers = new Map<string, RegionKind>();
  for (const l of levels) {
    for (const q of l.qualifiers) {
      const word = normalizeName(q);
      if (word !== '' && !word.includes(' ') && !qualifiers.has(word)) qualifiers.set(word, l.kind);
    }
  }
  const compare = (a: RegionNode, b: RegionNode) => compareNodes(rank, a, b);

  const children = new Map<string, RegionNode[]>();
  const roots: RegionNode[] = [];
  for (const n of unique) {
    if (n.parentId === null || !byId.has(n.parentId)) {
      roots.push(n);
      continue;
    }
    const list = children.get(n.parentId) ?? [];
    list.push(n);
    children.set(n.parentId, list);
  }
  for (const list of children.values()) list.sort(compare);
  roots.sort(compare);

  const keys: NameKey[] = [];
  const exact = new Map<string, RegionNode[]>();
  const addKey = (text: string, node: RegionNode, exactOnly = false) => {
    const key = compactName(text);
    if (key === '') return;
    if (keys.some((k) => k.node === node && k.key === key)) return;
    keys.push({ key, node, exactOnly });
    const list = exact.get(key) ?? [];
    list.push(node);
    exact.set(key, list);
  };
  for (const n of unique) {
    addKey(n.name, n);
    if (n.shortName) addKey(n.shortName, n);
    for (const a of n.aliases) addKey(a, n);
    // "Kreis Olpe" is also just "Olpe" — which is why "Olpe" alone is ambiguous. Any level whose names
    // start with its own qualifier word ("Regierungsbezirk Arnsberg") works the same way.
    const words = normalizeName(n.name).split(' ');
    if (words.length > 1 && qualifiers.get(words[0]!) === n.kind) addKey(words.slice(1).join(' '), n);
    addKey(n.id, n, true);
  }

  const domains = new Map<string, { node: RegionNode; domain: string }>();
  for (const n of unique) {
    for (const d of n.domains) {
      const key = domainKey(d);
      if (key !== '' && !domains.has(key)) domains.set(key, { node: n, domain: d });
    }
  }

  return { nodes: unique, byId, children, roots, levels, keys, exact, domains, rank, qualifiers };
}

// The inventory's levels in its order, then every kind of the tree it did not name, by the depth at
// which the kind first appears (a kind is one level: its shallowest node says where).
function levelsOf(
  nodes: readonly RegionNode[],
  byId: ReadonlyMap<string, RegionNode>,
  named: readonly RegionLevel[],
): RegionLevel[] {
  const levels: RegionLevel[] = [];
  const seen = new Set<RegionKind>();
  for (const l of named) {
    if (seen.has(l.kind)) continue;
    seen.add(l.kind);
    levels.push(l);
  }
  const depthOfKind = new Map<RegionKind, number>();
  for (const n of nodes) {
    if (seen.has(n.kind)) continue;
    const depth = depthOf(byId, n);
    if (depth < (depthOfKind.get(n.kind) ?? Number.POSITIVE_INFINITY)) depthOfKind.set(n.kind, depth);
  }
  const derived = [...depthOfKind.entries()].sort(([ka, da], [kb, db]) => da - db || ka.localeCompare(kb));
  for (const [kind] of derived) levels.push(derivedLevel(kind));
  return levels;
}

function depthOf(byId: ReadonlyMap<string, RegionNode>, node: RegionNode): number {
  let depth = 0;
  const seen = new Set<string>([node.id]);
  let parentId = node.parentId;
  while (parentId !== null && !seen.has(parentId)) {
    const parent = byId.get(parentId);
    if (!parent) break;
    seen.add(parentId);
    depth++;
    parentId = parent.parentId;
  }
  return depth;
}

// Without names from the inventory a level is called after its kind ("gemeinde" → "Gemeinde") in both
// languages, and the kind itself is the word that picks it ("Gemeinde Wenden").
function derivedLevel(kind: RegionKind): RegionLevel {
  const word = kind.charAt(0).toUpperCase() + kind.slice(1);
  return { kind, name: { de: word, en: word }, plural: { de: word, en: word }, qualifiers: [kind] };
}

/** The level of a kind; one derived from the kind when the tree has no node of it. */
export function levelOf(index: RegionIndex, kind: RegionKind): RegionLevel {
  const i = index.rank.get(kind);
  return i === undefined ? derivedLevel(kind) : index.levels[i]!;
}

/** Nodes as a question offers them, with their level's name. */
export function choicesOf(index: RegionIndex, nodes: readonly RegionNode[]): RegionChoice[] {
  return nodes.map((n) => ({ id: n.id, name: n.name, level: levelOf(index, n.kind).name }));
}

/** The scope a scope id names, or null when the id is malformed or names nothing in the tree. */
export function resolveScopeId(index: RegionIndex, scopeId: string): Scope | null {
  const parsed = parseScopeId(scopeId);
  switch (parsed?.kind) {
    case 'all':
      return { kind: 'all' };
    case 'domain': {
      const owner = ownerOfDomain(index, parsed.domain);
      return owner ? { kind: 'domain', node: owner.node, domain: owner.domain } : null;
    }
    case 'region': {
      const node = index.byId.get(parsed.regionId);
      return node ? { kind: 'region', node } : null;
    }
    default:
      return null;
  }
}

export function resolveScope(index: RegionIndex, text: string): ScopeResolution {
  return resolveDetailed(index, text).resolution;
}

// Picks the longest leading run of words that names a scope, for commands where free text follows:
// "freigabe Kreis Olpe eingehend Alle Clients gepatcht" → scope "Kreis Olpe", rest [eingehend, …].
// If no run resolves, the run closest to a known name is taken ("Kreis Olep"), so the service can
// answer with a suggestion instead of misreading the reason as the scope.
export function splitScopeAndRest(index: RegionIndex, words: readonly string[]): { scopeText: string; rest: string[] } {
  const clean = words.filter((w) => w.trim() !== '');
  const limit = Math.min(clean.length, 8);
  let best: { n: number; distance: number } | null = null;
  for (let n = limit; n >= 1; n--) {
    const head = clean.slice(0, n);
    // A bare "Kreis" would resolve (to every Kreis) and swallow the typo that follows it.
    if (n === 1 && clean.length > 1 && index.qualifiers.has(normalizeName(head[0]!))) continue;
    const { resolution, distance } = resolveDetailed(index, head.join(' '));
    if (resolution.kind !== 'unknown') return { scopeText: head.join(' '), rest: clean.slice(n) };
    if (distance !== null && (best === null || distance < best.distance)) best = { n, distance };
  }
  const n = best?.n ?? (clean.length > 1 && index.qualifiers.has(normalizeName(clean[0]!)) ? 2 : 1);
  const take = Math.min(n, clean.length);
  return { scopeText: clean.slice(0, take).join(' '), rest: clean.slice(take) };
}

// The node that owns a mail domain, as typed or as the gateway spells it ("Attendorn.DE" finds
// attendorn.de); domain is the spelling from the region list.
export function ownerOfDomain(index: RegionIndex, domain: string): { node: RegionNode; domain: string } | undefined {
  return index.domains.get(domainKey(domain));
}

export function getNode(index: RegionIndex, id: string): RegionNode | undefined {
  return index.byId.get(id);
}

export function childrenOf(index: RegionIndex, id: string): RegionNode[] {
  return [...(index.children.get(id) ?? [])];
}

// Everything below id (not id itself), parents before their children.
export function descendants(index: RegionIndex, id: string): RegionNode[] {
  const out: RegionNode[] = [];
  const seen = new Set<string>([id]);
  const walk = (parent: string) => {
    for (const c of index.children.get(parent) ?? []) {
      if (seen.has(c.id)) continue; // a cycle in bad data must not loop forever
      seen.add(c.id);
      out.push(c);
      walk(c.id);
    }
  };
  if (index.byId.has(id)) walk(id);
  return out;
}

// Parent first, root last.
export function ancestors(index: RegionIndex, id: string): RegionNode[] {
  const out: RegionNode[] = [];
  const seen = new Set<string>([id]);
  let parentId = index.byId.get(id)?.parentId ?? null;
  while (parentId !== null && !seen.has(parentId)) {
    const parent = index.byId.get(parentId);
    if (!parent) break;
    seen.add(parentId);
    out.push(parent);
    parentId = parent.parentId;
  }
  return out;
}

// All mail domains at or below id — what a release or block of that node touches.
export function domainsOf(index: RegionIndex, id: string): string[] {
  const node = index.byId.get(id);
  if (!node) return [];
  const out = new Set<string>(node.domains);
  for (const d of descendants(index, id)) for (const dom of d.domains) out.add(dom);
  return [...out];
}

/**
 * Whether a mail domain, as the gateway spells it, lies in a scope: for a region its own domains and
 * all below it, as the region list assigns them (never the gateway's own idea of a domain's region).
 */
export function domainMatcher(index: RegionIndex, scope: Scope): (domain: string) => boolean {
  if (scope.kind === 'all') return () => true;
  const wanted =
    scope.kind === 'domain'
      ? new Set([domainKey(scope.domain)])
      : new Set(domainsOf(index, scope.node.id).map(domainKey));
  return (domain) => wanted.has(domainKey(domain));
}

// Optimal-string-alignment Damerau–Levenshtein (adjacent transpositions count one edit: "Olep" → "Olpe").
// Gives up early and returns max + 1 once the distance must exceed max.
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

// How many edits still count as "meant this": one per three letters, at least one.
function allowedEdits(length: number): number {
  return Math.max(1, Math.floor(length / 3));
}

// Higher levels first (their rank is their depth in the tree), then by name.
function compareNodes(rank: ReadonlyMap<RegionKind, number>, a: RegionNode, b: RegionNode): number {
  const ra = rank.get(a.kind) ?? Number.MAX_SAFE_INTEGER;
  const rb = rank.get(b.kind) ?? Number.MAX_SAFE_INTEGER;
  return ra - rb || a.name.localeCompare(b.name, 'de') || a.id.localeCompare(b.id);
}

// "Siegen-Wittgenstein.DE" and "lüdenscheid.de" (as typed) find siegen-wittgenstein.de and luedenscheid.de.
export function domainKey(d: string): string {
  return normalizeName(d).replace(/ /g, '-');
}

// "attendorn.de", "it@attendorn.de", "mailto:it@attendorn.de", "Attendorn.DE." — one word with a dot.
function domainCandidate(text: string): string | null {
  let t = text.trim();
  if (t === '' || /\s/.test(t)) return null;
  const at = t.lastIndexOf('@');
  if (at >= 0) t = t.slice(at + 1);
  t = t.replace(/\.+$/, '');
  if (!/^[^.]+(\.[^.]+)+$/.test(t)) return null;
  return t;
}

function uniqueSorted(index: RegionIndex, nodes: Iterable<RegionNode>): RegionNode[] {
  return [...new Set(nodes)].sort((a, b) => compareNodes(index.rank, a, b));
}

function decide(index: RegionIndex, nodes: readonly RegionNode[]): ScopeResolution | null {
  const list = uniqueSorted(index, nodes);
  if (list.length === 0) return null;
  if (list.length === 1) return { kind: 'region', node: list[0]! };
  return { kind: 'ambiguous', candidates: list };
}

interface Detailed {
  resolution: ScopeResolution;
  // For unknown input: edit distance of the best suggestion, null without any.
  distance: number | null;
}

function resolveDetailed(index: RegionIndex, text: string): Detailed {
  const input = text.trim();
  // Only a truly empty scope means "everything" (the service decides what that allows); text that
  // folds to nothing ("???", "<>") is not a scope, least of all the widest one.
  if (input === '') return { resolution: { kind: 'all' }, distance: null };
  const norm = normalizeName(input);
  const compact = norm.replace(/ /g, '');
  if (compact === '') return { resolution: { kind: 'unknown', input, suggestions: [] }, distance: null };
  if (ALL_WORDS.has(compact)) return { resolution: { kind: 'all' }, distance: null };

  const domain = domainCandidate(input);
  if (domain !== null) {
    const key = domainKey(domain);
    const hit = index.domains.get(key);
    if (hit) return { resolution: { kind: 'domain', node: hit.node, domain: hit.domain }, distance: null };
    return unknownDomain(index, input, key);
  }

  // "Kreis Olpe" → the Kreis named Olpe; "Stadt Olpe" → the town.
  const words = norm.split(' ');
  const qualifiedKind = words.length > 1 ? index.qualifiers.get(words[0]!) : undefined;
  const qualified = qualifiedKind !== undefined ? { kind: qualifiedKind, key: words.slice(1).join('') } : null;

  const exactHits = [...(index.exact.get(compact) ?? [])];
  if (qualified) exactHits.push(...(index.exact.get(qualified.key) ?? []).filter((n) => n.kind === qualified.kind));
  const exact = decide(index, exactHits);
  if (exact) return { resolution: exact, distance: null };

  const bareKind = words.length === 1 ? index.qualifiers.get(compact) : undefined;
  if (bareKind !== undefined) {
    const ofKind = index.nodes.filter((n) => n.kind === bareKind);
    const asked = ofKind.length <= MAX_BARE_QUALIFIER_CANDIDATES ? decide(index, ofKind) : null;
    return { resolution: asked ?? { kind: 'unknown', input, suggestions: [] }, distance: null };
  }

  const prefixHits: RegionNode[] = [];
  for (const k of index.keys) {
    if (k.exactOnly) continue;
    if (compact.length >= MIN_PREFIX && k.key.startsWith(compact)) prefixHits.push(k.node);
    if (qualified && k.node.kind === qualified.kind && qualified.key.length >= MIN_PREFIX) {
      if (k.key.startsWith(qualified.key)) prefixHits.push(k.node);
    }
  }
  const prefix = decide(index, prefixHits);
  if (prefix) return { resolution: prefix, distance: null };

  return unknownName(index, input, compact, qualified);
}

function unknownName(
  index: RegionIndex,
  input: string,
  compact: string,
  qualified: { kind: RegionKind; key: string } | null,
): Detailed {
  const rank = (typed: string, ofKind: RegionKind | null) => {
    const best = new Map<RegionNode, number>();
    if (typed === '' || typed.length > MAX_FUZZY_INPUT) return best;
    for (const k of index.keys) {
      if (k.exactOnly || (ofKind !== null && k.node.kind !== ofKind)) continue;
      const d = closeness(typed, k.key);
      if (d < (best.get(k.node) ?? Number.POSITIVE_INFINITY)) best.set(k.node, d);
    }
    return best;
  };
  // "Kreis Olep": compare "olep" with the Kreise only — the shared "kreis" would otherwise make every
  // Kreis look close. A qualifier of the wrong level ("Kreis Atendorn") still finds the town.
  if (qualified) {
    const ofKind = rank(qualified.key, qualified.kind);
    if (hasFinite(ofKind)) return suggest(index, input, ofKind);
    const anyKind = rank(qualified.key, null);
    if (hasFinite(anyKind)) return suggest(index, input, anyKind);
  }
  return suggest(index, input, rank(compact, null));
}

function hasFinite(m: Map<RegionNode, number>): boolean {
  for (const d of m.values()) if (Number.isFinite(d)) return true;
  return false;
}

function unknownDomain(index: RegionIndex, input: string, key: string): Detailed {
  const best = new Map<RegionNode, number>();
  if (key.length <= MAX_FUZZY_INPUT) {
    for (const [known, { node }] of index.domains) {
      const d = editDistance(key, known, allowedEdits(known.length));
      if (d <= allowedEdits(known.length) && (best.get(node) ?? Number.POSITIVE_INFINITY) > d) best.set(node, d);
    }
  }
  return suggest(index, input, best);
}

// Edit distance if within the allowance, else Infinity. A typed beginning with a slip in it
// ("Kreis Siegn") is compared with the key's beginning, one edit dearer than a full match.
function closeness(input: string, key: string): number {
  const allowed = allowedEdits(Math.max(input.length, key.length));
  const full = editDistance(input, key, allowed);
  if (full <= allowed) return full;
  if (input.length >= MIN_PREFIX_SUGGESTION && input.length < key.length) {
    const head = key.slice(0, input.length);
    const allowedHead = allowedEdits(input.length);
    const d = editDistance(input, head, allowedHead);
    if (d <= allowedHead) return d + 1;
  }
  return Number.POSITIVE_INFINITY;
}

function suggest(index: RegionIndex, input: string, best: Map<RegionNode, number>): Detailed {
  const ranked = [...best.entries()]
    .filter(([, d]) => Number.isFinite(d))
    .sort(([a, da], [b, db]) => da - db || compareNodes(index.rank, a, b));
  return {
    resolution: { kind: 'unknown', input, suggestions: ranked.slice(0, MAX_SUGGESTIONS).map(([n]) => n) },
    distance: ranked.length > 0 ? ranked[0]![1] : null,
  };
}
