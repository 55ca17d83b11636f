// Seeded randomness for the simulator. Two flavours: a stream (mulberry32) for building the fleet
// in one deterministic pass, and a stateless hash for values that must be computable for any
// (domain, minute) without storing them (spam metrics, queue growth).

// mulberry32 by Tommy Ettinger (public domain): 32-bit state, full period 2^32, fast, and good
// enough for simulation. Not for cryptography.
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] (both inclusive) drawn from `rng`. */
export function drawInt(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

// FNV-1a over UTF-16 code units, then the murmur3 finaliser so similar strings spread well.
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

// Stateless hash of three 32-bit integers (key, minute, salt) -> uniform 32-bit value.
export function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = fmix32(h ^ Math.imul(b, 0xc2b2ae35));
  h = fmix32(h ^ Math.imul(c, 0x27d4eb2f));
  return h;
}

/** hash3 mapped to [0, 1). */
export function unit3(a: number, b: number, c: number): number {
  return hash3(a, b, c) / 4294967296;
}

function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
