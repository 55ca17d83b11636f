import type { RegionLevelWire, RegionNodeWire } from '../contracts/inventory.ts';

// The real geography of the five Kreise of Südwestfalen-IT's two Zweckverbände. Populations are
// rounded figures of IT.NRW's 2022/23 statistics (approximate, the simulator only needs their
// proportions). AGS = Amtlicher Gemeindeschlüssel: in NRW the municipality part counts up in
// steps of 4 in alphabetical order (Gemeindeverzeichnis-Informationssystem GV-ISys, Destatis).
// Mail domains are the towns' plausible own domains (ASCII); the sim never sends mail.

interface TownSeed {
  name: string;
  code: string; // 3 letters, hostname part
  population: number;
  domain: string;
}
interface KreisSeed {
  id: string;
  name: string;
  shortName: string | null;
  aliases: string[];
  ags: string;
  code: string; // licence-plate code, hostname prefix
  domain: string;
  verband: 'vb-nord' | 'vb-sued';
  towns: TownSeed[];
}

const t = (name: string, code: string, population: number, domain: string): TownSeed => ({
  name,
  code,
  population,
  domain,
});

const VERBAENDE = [
  { id: 'vb-nord', name: 'Nordverband', aliases: ['Nord'] },
  { id: 'vb-sued', name: 'Südverband', aliases: ['Süd'] },
] as const;

const KREISE: KreisSeed[] = [
  {
    id: 'kr-soest',
    name: 'Kreis Soest',
    shortName: null,
    aliases: [],
    ags: '05974',
    code: 'SO',
    domain: 'kreis-soest.de',
    verband: 'vb-nord',
    towns: [
      t('Anröchte', 'ANR', 10_300, 'anroechte.de'),
      t('Bad Sassendorf', 'BSA', 12_100, 'bad-sassendorf.de'),
      t('Ense', 'ENS', 12_200, 'ense.de'),
      t('Erwitte', 'ERW', 16_100, 'erwitte.de'),
      t('Geseke', 'GES', 21_400, 'geseke.de'),
      t('Lippetal', 'LPT', 12_000, 'lippetal.de'),
      t('Lippstadt', 'LIP', 68_500, 'lippstadt.de'),
      t('Möhnesee', 'MOE', 11_800, 'moehnesee.de'),
      t('Rüthen', 'RUE', 10_700, 'ruethen.de'),
      t('Soest', 'SOE', 48_500, 'soest.de'),
      t('Warstein', 'WAR', 24_900, 'warstein.de'),
      t('Welver', 'WEL', 12_600, 'welver.de'),
      t('Werl', 'WER', 31_700, 'werl.de'),
      t('Wickede (Ruhr)', 'WIC', 12_300, 'wickede.de'),
    ],
  },
  {
    id: 'kr-hsk',
    name: 'Hochsauerlandkreis',
    shortName: 'HSK',
    aliases: ['Hochsauerland'],
    ags: '05958',
    code: 'HSK',
    domain: 'hochsauerlandkreis.de',
    verband: 'vb-nord',
    towns: [
      t('Arnsberg', 'ARN', 73_600, 'arnsberg.de'),
      t('Bestwig', 'BES', 10_600, 'bestwig.de'),
      t('Brilon', 'BRI', 25_600, 'brilon.de'),
      t('Eslohe (Sauerland)', 'ESL', 8_800, 'eslohe.de'),
      t('Hallenberg', 'HAL', 4_400, 'hallenberg.de'),
      t('Marsberg', 'MAR', 19_500, 'marsberg.de'),
      t('Medebach', 'MED', 7_900, 'medebach.de'),
      t('Meschede', 'MES', 29_800, 'meschede.de'),
      t('Olsberg', 'OLS', 14_500, 'olsberg.de'),
      t('Schmallenberg', 'SCH', 24_800, 'schmallenberg.de'),
      t('Sundern (Sauerland)', 'SUN', 27_600, 'sundern.de'),
      t('Winterberg', 'WIN', 12_700, 'winterberg.de'),
    ],
  },
  {
    id: 'kr-mk',
    name: 'Märkischer Kreis',
    shortName: 'MK',
    aliases: ['Maerkischer Kreis'],
    ags: '05962',
    code: 'MK',
    domain: 'maerkischer-kreis.de',
    verband: 'vb-nord',
    towns: [
      t('Altena', 'ALT', 16_500, 'altena.de'),
      t('Balve', 'BAL', 11_300, 'balve.de'),
      t('Halver', 'HAL', 16_100, 'halver.de'),
      t('Hemer', 'HEM', 34_000, 'hemer.de'),
      t('Herscheid', 'HER', 6_800, 'herscheid.de'),
      t('Iserlohn', 'ISE', 91_500, 'iserlohn.de'),
      t('Kierspe', 'KIE', 15_900, 'kierspe.de'),
      t('Lüdenscheid', 'LUE', 71_500, 'luedenscheid.de'),
      t('Meinerzhagen', 'MEI', 20_300, 'meinerzhagen.de'),
      t('Menden (Sauerland)', 'MEN', 52_600, 'menden.de'),
      t('Nachrodt-Wiblingwerde', 'NAC', 6_500, 'nachrodt-wiblingwerde.de'),
      t('Neuenrade', 'NEU', 11_800, 'neuenrade.de'),
      t('Plettenberg', 'PLE', 24_900, 'plettenberg.de'),
      t('Schalksmühle', 'SMH', 10_200, 'schalksmuehle.de'),
      t('Werdohl', 'WER', 17_700, 'werdohl.de'),
    ],
  },
  {
    id: 'kr-olpe',
    name: 'Kreis Olpe',
    shortName: null,
    aliases: [],
    ags: '05966',
    code: 'OE',
    domain: 'kreis-olpe.de',
    verband: 'vb-sued',
    towns: [
      t('Attendorn', 'ATT', 24_500, 'attendorn.de'),
      t('Drolshagen', 'DRO', 11_900, 'drolshagen.de'),
      t('Finnentrop', 'FIN', 17_100, 'finnentrop.de'),
      t('Kirchhundem', 'KIR', 11_300, 'kirchhundem.de'),
      t('Lennestadt', 'LEN', 25_600, 'lennestadt.de'),
      t('Olpe', 'OLP', 24_800, 'olpe.de'),
      t('Wenden', 'WEN', 19_500, 'wenden.de'),
    ],
  },
  {
    id: 'kr-siegen-wittgenstein',
    name: 'Kreis Siegen-Wittgenstein',
    shortName: null,
    aliases: ['Siegen-Wittgenstein'],
    ags: '05970',
    code: 'SI',
    domain: 'siegen-wittgenstein.de',
    verband: 'vb-sued',
    towns: [
      t('Bad Berleburg', 'BBL', 19_200, 'bad-berleburg.de'),
      t('Bad Laasphe', 'BLA', 13_500, 'bad-laasphe.de'),
      t('Burbach', 'BUR', 14_800, 'burbach-siegerland.de'),
      t('Erndtebrück', 'ERN', 6_900, 'erndtebrueck.de'),
      t('Freudenberg', 'FRE', 17_900, 'freudenberg-stadt.de'),
      t('Hilchenbach', 'HIL', 14_700, 'hilchenbach.de'),
      t('Kreuztal', 'KRE', 31_200, 'kreuztal.de'),
      t('Netphen', 'NET', 23_000, 'netphen.de'),
      t('Neunkirchen', 'NEU', 13_100, 'neunkirchen-siegerland.de'),
      t('Siegen', 'SIE', 102_400, 'siegen.de'),
      t('Wilnsdorf', 'WIL', 20_400, 'wilnsdorf.de'),
    ],
  },
];

// Share of a Kreis' population used as the weight of the Kreis administration itself (its own
// staff, devices and mail volume): a Kreisverwaltung is roughly as big as a mid-sized town's.
export const KREIS_ADMIN_WEIGHT = 0.15;
// Peak legitimate inbound mail per minute per inhabitant-equivalent: a town of 25,000 gets ~6
// external mails a minute on a weekday morning, the Kreis Soest administration ~11.
const MAIL_PER_INHABITANT = 1 / 4000;
const EXTRA_DOMAIN_INHABITANTS = 1_200;

// The estate's levels as the inventory API names them (RegionList.levels), top first.
export const SUEDWESTFALEN_LEVELS: RegionLevelWire[] = [
  {
    kind: 'verband',
    name: { de: 'Verband', en: 'association' },
    plural: { de: 'Verbände', en: 'associations' },
    qualifiers: ['verband', 'zweckverband'],
  },
  {
    kind: 'kreis',
    name: { de: 'Kreis', en: 'district' },
    plural: { de: 'Kreise', en: 'districts' },
    qualifiers: ['kreis', 'landkreis'],
  },
  {
    kind: 'kommune',
    name: { de: 'Kommune', en: 'municipality' },
    plural: { de: 'Kommunen', en: 'municipalities' },
    qualifiers: ['stadt', 'gemeinde', 'kommune', 'hansestadt'],
  },
];

export interface DomainInfo {
  name: string;
  owner: number; // node index
  municipality: string | null;
  kreis: string;
  verband: string;
  peakPerMinute: number; // legitimate inbound mail per minute at the weekday peak
}

// Both estates (Südwestfalen here, the state-wide one in land-geography.ts) share one shape: the
// nodes that own devices and mail domains are the Kreise (their administrations) and the towns
// below them; everything above a Kreis only groups. The gateway's wire names the grouping level
// just above the Kreis "verband" whatever the estate calls it.
export interface Geography {
  nodes: RegionNodeWire[]; // parents before their children
  index: Map<string, number>; // region id -> node index
  parent: Int32Array; // node -> its parent node, -1 for a root
  kreisOf: Int16Array; // node -> its Kreis node (itself for a Kreis, -1 above the Kreise)
  verbandOf: Int16Array; // node -> its node on the level just above the Kreise (itself there, -1 above)
  hostPrefix: string[]; // node -> "OE-ATT" (town) / "OE-KV" (Kreis administration) / "" (grouping)
  domains: DomainInfo[]; // sorted by name
  domainIndex: Map<string, number>;
}

/** The parts of a Geography an estate lays out; assembleGeography derives the rest. */
export interface EstateLayout {
  nodes: RegionNodeWire[];
  kreisOf: number[];
  verbandOf: number[];
  hostPrefix: string[];
  weight: number[]; // inhabitant-equivalents behind the node's first domain (0 for a grouping)
}

/** "Wickede (Ruhr)" -> "wickede-ruhr", "Lüdenscheid" -> "luedenscheid". */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/ß/g, 'ss')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function buildGeography(extraDomains = 0): Geography {
  const nodes: RegionNodeWire[] = [];
  const kreisOf: number[] = [];
  const verbandOf: number[] = [];
  const hostPrefix: string[] = [];
  const weight: number[] = []; // inhabitant-equivalents for the node's own domain
  const add = (node: RegionNodeWire, kreis: number, verband: number, prefix: string, w: number) => {
    nodes.push(node);
    kreisOf.push(kreis);
    verbandOf.push(verband);
    hostPrefix.push(prefix);
    weight.push(w);
    return nodes.length - 1;
  };

  const verbandIdx = new Map<string, number>();
  for (const v of VERBAENDE) {
    const pop = KREISE.filter((k) => k.verband === v.id).reduce((s, k) => s + sumPopulation(k), 0);
    const i = add(
      {
        id: v.id,
        kind: 'verband',
        name: v.name,
        shortName: null,
        aliases: [...v.aliases],
        parentId: null,
        ags: null,
        population: pop,
        domains: [],
      },
      -1,
      -1,
      '',
      0,
    );
    verbandOf[i] = i;
    verbandIdx.set(v.id, i);
  }
  for (const k of KREISE) {
    const vb = verbandIdx.get(k.verband)!;
    const pop = sumPopulation(k);
    const ki = add(
      {
        id: k.id,
        kind: 'kreis',
        name: k.name,
        shortName: k.shortName,
        aliases: [...k.aliases],
        parentId: k.verband,
        ags: k.ags,
        population: pop,
        domains: [k.domain],
      },
      -1,
      vb,
      `${k.code}-KV`,
      pop * KREIS_ADMIN_WEIGHT,
    );
    kreisOf[ki] = ki;
    k.towns.forEach((town, n) => {
      add(
        {
          id: `ko-${slugify(town.name)}`,
          kind: 'kommune',
          name: town.name,
          shortName: null,
          aliases: [],
          parentId: k.id,
          ags: `${k.ags}${String((n + 1) * 4).padStart(3, '0')}`,
          population: town.population,
          domains: [town.domain],
        },
        ki,
        vb,
        `${k.code}-${town.code}`,
        town.population,
      );
    });
  }

  return assembleGeography({ nodes, kreisOf, verbandOf, hostPrefix, weight }, extraDomains);
}

/** Index, parent links and the sorted domain list of a laid-out estate, plus `extraDomains` synthetic ones. */
export function assembleGeography(layout: EstateLayout, extraDomains: number): Geography {
  const { nodes, kreisOf, verbandOf, hostPrefix, weight } = layout;
  // Synthetic extra domains for benchmarks, dealt round-robin over the towns.
  const towns = nodes.map((_, i) => (kreisOf[i]! >= 0 && kreisOf[i] !== i ? i : -1)).filter((i) => i >= 0);
  for (let e = 0; e < extraDomains && towns.length > 0; e++) {
    const owner = towns[e % towns.length]!;
    const name = `d${String(e).padStart(5, '0')}.${nodes[owner]!.domains[0]}`;
    nodes[owner]!.domains.push(name);
  }

  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const domains: DomainInfo[] = [];
  nodes.forEach((node, owner) => {
    node.domains.forEach((name, d) => {
      const k = nodes[kreisOf[owner]!]!;
      const inhabitants = d === 0 ? weight[owner]! : EXTRA_DOMAIN_INHABITANTS;
      domains.push({
        name,
        owner,
        municipality: kreisOf[owner] !== owner ? node.id : null,
        kreis: k.id,
        verband: nodes[verbandOf[owner]!]!.id,
        peakPerMinute: inhabitants * MAIL_PER_INHABITANT,
      });
    });
  });
  domains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    nodes,
    index,
    parent: Int32Array.from(nodes, (n) => (n.parentId === null ? -1 : index.get(n.parentId)!)),
    kreisOf: Int16Array.from(kreisOf),
    verbandOf: Int16Array.from(verbandOf),
    hostPrefix,
    domains,
    domainIndex: new Map(domains.map((d, i) => [d.name, i])),
  };
}

/** Is node `inner` the node `outer` itself or below it? */
export function isWithin(geo: Geography, inner: number, outer: number): boolean {
  for (let n = inner; n >= 0; n = geo.parent[n]!) if (n === outer) return true;
  return false;
}

function sumPopulation(k: KreisSeed): number {
  return k.towns.reduce((s, town) => s + town.population, 0);
}
