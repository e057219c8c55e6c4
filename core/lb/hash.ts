/**
 * 32-bit string hashes for consistent hashing (ring hash, maglev, route hash policies): FNV-1a
 * over UTF-16 code units, finished with murmur3's fmix32 so that near-identical keys (`10.0.0.1_0`,
 * `10.0.0.1_1`) land far apart. Not cryptographic; stable across runtimes and versions, since a
 * hash that changes would move every sticky session.
 */

/** murmur3 fmix32: a bijective avalanche step on a 32-bit value. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a string, unsigned 32-bit; `seed` gives independent hash functions (maglev's offset and skip). */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Envoy's way of folding several hash policies into one hash: rotate left by one, xor the next. */
export function combineHash(acc: number, next: number): number {
  return (((acc << 1) | (acc >>> 31)) ^ next) >>> 0;
}
