import type { RegionLevelWire, RegionNodeWire } from '../contracts/inventory.ts';
import { apportion } from './fleet.ts';
import { assembleGeography, type Geography, KREIS_ADMIN_WEIGHT, slugify } from './geography.ts';
import { drawInt, mulberry32 } from './prng.ts';

// A state-wide estate for scale: one Land, five Regierungsbezirke, 80 Kreise, 2,000 Gemeinden and
// about 2,500 mail domains, all invented from the seed. It is shaped like a large German Land
// (Bavaria has 7 Regierungsbezirke, 71 Landkreise and 2,056 Gemeinden) but every name is synthetic
// and pronounceable, and the ids are AGS-style keys with a colon ("ags:17" Land, "ags:171"
// Regierungsbezirk, "ags:17104" Kreis, "ags:17104012" Gemeinde; there is no Land 17), so nothing
// in it looks like the Südwestfalen estate.

export const LAND_LEVELS: RegionLevelWire[] = [
  {
    kind: 'land',
    name: { de: 'Land', en: 'state' },
    plural: { de: 'Länder', en: 'states' },
    qualifiers: ['land', 'bundesland'],
  },
  {
    kind: 'regierungsbezirk',
    name: { de: 'Regierungsbezirk', en: 'administrative region' },
    plural: { de: 'Regierungsbezirke', en: 'administrative regions' },
    qualifiers: ['regierungsbezirk', 'bezirk'],
  },
  {
    kind: 'kreis',
    name: { de: 'Kreis', en: 'district' },
    plural: { de: 'Kreise', en: 'districts' },
    qualifiers: ['kreis', 'landkreis'],
  },
  {
    kind: 'gemeinde',
    name: { de: 'Gemeinde', en: 'municipality' },
    plural: { de: 'Gemeinden', en: 'municipalities' },
    qualifiers: ['gemeinde', 'stadt', 'markt'],
  },
];

export const LAND_AGS = '17';
export const LAND_BEZIRKE = 5;
export const LAND_KREISE = 80;
export const LAND_GEMEINDEN = 2_000;
// The largest towns also run a second domain (schools, Stadtwerke): 2,000 + 80 + 420 = 2,500.
export const LAND_SECOND_DOMAINS = 420;

const LAND_NAME = 'Lindgau';
const BEZIRK_NAMES = ['Auenmark', 'Brenntal', 'Kornland', 'Seelgau', 'Tannfels'];
// Syllables of invented German place names: root + optional joint + ending ("Haselbrunn", "Ebersfeld").
const ROOTS = [
  'Ahl',
  'Alt',
  'Bir',
  'Blum',
  'Born',
  'Brei',
  'Dorn',
  'Eber',
  'Eich',
  'Erl',
  'Fal',
  'Fin',
  'Gar',
  'Gol',
  'Hasel',
  'Heid',
  'Hol',
  'Ilm',
  'Kal',
  'Kir',
  'Lan',
  'Lin',
  'Lor',
  'Mar',
  'Mos',
  'Ner',
  'Nie',
  'Ober',
  'Ol',
  'Ras',
  'Ros',
  'Sal',
  'Sel',
  'Stein',
  'Tann',
  'Ul',
  'Wal',
  'Wei',
  'Wen',
  'Zell',
];
const JOINTS = ['', '', '', 'en', 'er', 'in', 'el', 'ing'];
const ENDINGS = [
  'bach',
  'berg',
  'brunn',
  'burg',
  'dorf',
  'feld',
  'hausen',
  'heim',
  'hofen',
  'kirchen',
  'stadt',
  'tal',
  'au',
  'rode',
  'wald',
  'brück',
  'furt',
  'stetten',
  'weiler',
  'see',
];

/** The state-wide estate for `seed`; the same seed always gives the same estate. */
export function buildLandGeography(seed: number, extraDomains = 0): Geography {
  const rng = mulberry32(seed ^ 0x1a2d);
  const nodes: RegionNodeWire[] = [];
  const kreisOf: number[] = [];
  const verbandOf: number[] = [];
  const hostPrefix: string[] = [];
  const weight: number[] = [];
  const add = (node: RegionNodeWire, kreis: number, bezirk: number, prefix: string, w: number) => {
    nodes.push(node);
    kreisOf.push(kreis);
    verbandOf.push(bezirk);
    hostPrefix.push(prefix);
    weight.push(w);
    return nodes.length - 1;
  };
  const region = (
    id: string,
    kind: string,
    name: string,
    parentId: string | null,
    extra: Partial<RegionNodeWire> = {},
  ): RegionNodeWire => ({
    id,
    kind,
    name,
    shortName: null,
    aliases: [],
    parentId,
    ags: id.slice('ags:'.length),
    population: 0,
    domains: [],
    ...extra,
  });

  const used = new Set<string>();
  const inventName = (): string => {
    for (;;) {
      const root = ROOTS[drawInt(rng, 0, ROOTS.length - 1)]!;
      const joint = JOINTS[drawInt(rng, 0, JOINTS.length - 1)]!;
      const name = `${root}${joint}${ENDINGS[drawInt(rng, 0, ENDINGS.length - 1)]!}`;
      // A few towns carry the usual prefixes; they also make room for more unique names.
      const u = rng();
      const full = u < 0.04 ? `Bad ${name}` : u < 0.08 ? `Ober${name.toLowerCase()}` : name;
      if (!used.has(full)) {
        used.add(full);
        return full;
      }
    }
  };

  const land = add(
    region(`ags:${LAND_AGS}`, 'land', `Land ${LAND_NAME}`, null, { aliases: [LAND_NAME] }),
    -1,
    -1,
    '',
    0,
  );
  const kreiseOfBezirk = apportion(
    BEZIRK_NAMES.map(() => 0.7 + 0.6 * rng()),
    LAND_KREISE,
  );
  const gemeindenOfKreis = apportion(
    Array.from({ length: LAND_KREISE }, () => 0.5 + rng()),
    LAND_GEMEINDEN,
  );
  const towns: number[] = [];
  let k = 0;
  BEZIRK_NAMES.forEach((bezirkName, b) => {
    const bezirkAgs = `${LAND_AGS}${b + 1}`;
    const bezirk = add(
      region(`ags:${bezirkAgs}`, 'regierungsbezirk', `Regierungsbezirk ${bezirkName}`, nodes[land]!.id, {
        aliases: [bezirkName],
      }),
      -1,
      -1,
      '',
      0,
    );
    verbandOf[bezirk] = bezirk;
    for (let kb = 0; kb < kreiseOfBezirk[b]!; kb++, k++) {
      const kreisAgs = `${bezirkAgs}${String(kb + 1).padStart(2, '0')}`;
      // The Kreis is named after its seat, its first and largest town.
      const seat = inventName();
      const code = `${slugify(seat).slice(0, 3).toUpperCase()}${kreisAgs.slice(2)}`;
      const kreis = add(
        region(`ags:${kreisAgs}`, 'kreis', `Landkreis ${seat}`, nodes[bezirk]!.id, {
          domains: [`landkreis-${slugify(seat)}.de`],
        }),
        -1,
        bezirk,
        `${code}-KV`,
        0,
      );
      kreisOf[kreis] = kreis;
      let kreisPopulation = 0;
      for (let g = 0; g < gemeindenOfKreis[k]!; g++) {
        const name = g === 0 ? seat : inventName();
        // Most Gemeinden are villages, a few are towns; the seat is a town.
        const population = Math.round(700 * Math.exp(3.5 * rng())) + (g === 0 ? 20_000 : 0);
        kreisPopulation += population;
        const gemAgs = `${kreisAgs}${String(g + 1).padStart(3, '0')}`;
        towns.push(
          add(
            region(`ags:${gemAgs}`, 'gemeinde', name, nodes[kreis]!.id, {
              population,
              domains: [`${slugify(name)}.de`],
            }),
            kreis,
            bezirk,
            `${code}-${String(g + 1).padStart(3, '0')}`,
            population,
          ),
        );
      }
      nodes[kreis]!.population = kreisPopulation;
      weight[kreis] = kreisPopulation * KREIS_ADMIN_WEIGHT;
      nodes[bezirk]!.population! += kreisPopulation;
    }
    nodes[land]!.population! += nodes[bezirk]!.population!;
  });

  const largest = [...towns]
    .sort((a, b) => nodes[b]!.population! - nodes[a]!.population! || a - b)
    .slice(0, LAND_SECOND_DOMAINS);
  for (const town of largest) nodes[town]!.domains.push(`schulen-${nodes[town]!.domains[0]}`);

  return assembleGeography({ nodes, kreisOf, verbandOf, hostPrefix, weight }, extraDomains);
}
