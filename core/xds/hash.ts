/**
 * Content versions for xDS resources: a 53-bit hash of the encoded bytes (cyrb53, four bytes a
 * step), written in base 36. Synchronous and runtime-neutral (Web Crypto's digest is async);
 * collisions only matter between two versions of one resource, where 2^-53 is negligible.
 */
export function contentHash(bytes: Uint8Array, seed = 0): string {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, n);
  let h1 = 0xdeadbeef ^ seed ^ n;
  let h2 = 0x41c6ce57 ^ seed;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const k = view.getUint32(i, true);
    h1 = Math.imul(h1 ^ k, 2654435761);
    h2 = Math.imul(h2 ^ k, 1597334677);
  }
  for (; i < n; i++) {
    const b = bytes[i]!;
    h1 = Math.imul(h1 ^ b, 2654435761);
    h2 = Math.imul(h2 ^ b, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
