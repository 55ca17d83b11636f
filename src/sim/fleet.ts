import { type Geography, KREIS_ADMIN_WEIGHT } from './geography.ts';
import { drawInt, mulberry32 } from './prng.ts';

// The device fleet: static facts per device (where, what, hostname, check-in rhythm), kept in
// typed arrays so 100,000 devices stay a few megabytes. What happens to the devices over time
// (patch schedule) is scenario-dependent and lives in schedule.ts.

export const ROLES = ['workstation', 'laptop', 'exchange', 'file', 'dc', 'sql', 'web', 'app'] as const;
export type Role = (typeof ROLES)[number];
const ROLE_CODES = ['WS', 'NB', 'EX', 'FS', 'DC', 'DB', 'WEB', 'APP'] as const;
export const ROLE_LAPTOP = 1;
export const ROLE_EXCHANGE = 2;
// Relative frequency of server roles besides the one guaranteed Exchange server per Kreis.
const SERVER_ROLES: ReadonlyArray<readonly [number, number]> = [
  [ROLE_EXCHANGE, 0.07],
  [3, 0.2],
  [4, 0.18],
  [5, 0.12],
  [6, 0.13],
  [7, 0.3],
];

export const OS_NAMES = [
  'Windows 10 Enterprise 22H2',
  'Windows 11 Enterprise 23H2',
  'Windows Server 2019 Standard',
  'Windows Server 2022 Standard',
] as const;

export const KIND_CLIENT = 0;
export const KIND_SERVER = 1;

/** Default fleet: 10,000 clients + 400 servers. */
export const DEFAULT_DEVICES = 10_400;
// One server per 26 devices gives the 400 servers of the default fleet.
const DEVICES_PER_SERVER = 26;
// Servers run centrally more than clients do: a Kreis administration hosts more of them.
const KREIS_SERVER_WEIGHT = 0.6;

export interface Fleet {
  size: number;
  clients: number;
  servers: number;
  node: Uint16Array; // owning node: a kommune, or a Kreis for the Kreis administration's devices
  kind: Uint8Array; // KIND_CLIENT | KIND_SERVER
  role: Uint8Array; // index into ROLES
  os: Uint8Array; // index into OS_NAMES
  interval: Uint16Array; // minutes between regular check-ins
  phase: Uint16Array; // check-in offset within the interval
  hostname: string[];
  byHostname: Uint32Array; // device indices in hostname order
  rank: Uint32Array; // device index -> position in hostname order
}

export function splitFleet(devices: number): { clients: number; servers: number } {
  const total = Math.max(0, Math.floor(devices));
  if (total === 0) return { clients: 0, servers: 0 };
  const servers = Math.min(total, Math.max(5, Math.round(total / DEVICES_PER_SERVER)));
  return { clients: total - servers, servers };
}

export function createFleet(geo: Geography, opts: { seed: number; devices: number }): Fleet {
  const { clients, servers } = splitFleet(opts.devices);
  // Devices belong to the Kreis administrations and the towns; the levels above only group.
  const leaves = geo.nodes.map((_, i) => (geo.kreisOf[i]! < 0 ? -1 : i)).filter((i) => i >= 0);
  const isKreis = (i: number) => geo.kreisOf[i] === i;
  const pop = (i: number) => geo.nodes[i]!.population ?? 0;

  const clientCount = apportion(
    leaves.map((i) => (isKreis(i) ? pop(i) * KREIS_ADMIN_WEIGHT : pop(i))),
    clients,
  );
  // The first servers are one Exchange server per Kreis administration (the mail stays central).
  const kreisLeaves = leaves.filter(isKreis);
  const guaranteed = Math.min(servers, kreisLeaves.length);
  const serverCount = apportion(
    leaves.map((i) => (isKreis(i) ? pop(i) * KREIS_SERVER_WEIGHT : pop(i))),
    servers - guaranteed,
  );
  const exchangeFirst = new Set(kreisLeaves.slice(0, guaranteed));
  const perLeaf = leaves.map((leaf, k) => clientCount[k]! + serverCount[k]! + (exchangeFirst.has(leaf) ? 1 : 0));
  const width = Math.max(4, String(Math.max(0, ...perLeaf)).length);

  const size = clients + servers;
  const fleet: Fleet = {
    size,
    clients,
    servers,
    node: new Uint16Array(size),
    kind: new Uint8Array(size),
    role: new Uint8Array(size),
    os: new Uint8Array(size),
    interval: new Uint16Array(size),
    phase: new Uint16Array(size),
    hostname: new Array<string>(size),
    byHostname: new Uint32Array(size),
    rank: new Uint32Array(size),
  };
  const rng = mulberry32(opts.seed ^ 0x0f1ee7);
  let i = 0;
  const push = (leaf: number, kind: number, role: number, os: number, serial: number) => {
    fleet.node[i] = leaf;
    fleet.kind[i] = kind;
    fleet.role[i] = role;
    fleet.os[i] = os;
    const interval = kind === KIND_SERVER ? 15 : drawInt(rng, 60, 240);
    fleet.interval[i] = interval;
    fleet.phase[i] = drawInt(rng, 0, interval - 1);
    fleet.hostname[i] = `${geo.hostPrefix[leaf]}-${ROLE_CODES[role]}${String(serial).padStart(width, '0')}`;
    i++;
  };
  leaves.forEach((leaf, k) => {
    const serial = new Array<number>(ROLES.length).fill(0);
    for (let c = 0; c < clientCount[k]!; c++) {
      const role = rng() < 0.35 ? ROLE_LAPTOP : 0;
      push(leaf, KIND_CLIENT, role, rng() < 0.45 ? 1 : 0, ++serial[role]!);
    }
    const nServers = serverCount[k]! + (exchangeFirst.has(leaf) ? 1 : 0);
    for (let s = 0; s < nServers; s++) {
      const role = s === 0 && exchangeFirst.has(leaf) ? ROLE_EXCHANGE : pickWeighted(rng(), SERVER_ROLES);
      push(leaf, KIND_SERVER, role, rng() < 0.55 ? 2 : 3, ++serial[role]!);
    }
  });

  const order = Array.from({ length: size }, (_, n) => n);
  order.sort((a, b) => (fleet.hostname[a]! < fleet.hostname[b]! ? -1 : 1));
  order.forEach((dev, pos) => {
    fleet.byHostname[pos] = dev;
    fleet.rank[dev] = pos;
  });
  return fleet;
}

/** Largest-remainder apportionment: integer shares of `total` proportional to `weights`, summing to `total`. */
export function apportion(weights: number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0 || total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w / sum) * total);
  const out = exact.map(Math.floor);
  let rest = total - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, i]) => i);
  for (let k = 0; rest > 0; k++, rest--) out[order[k % order.length]!]!++;
  return out;
}

function pickWeighted(u: number, table: ReadonlyArray<readonly [number, number]>): number {
  let acc = 0;
  for (const [value, p] of table) {
    acc += p;
    if (u < acc) return value;
  }
  return table[table.length - 1]![0];
}
