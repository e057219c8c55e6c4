/** Byte-array helpers shared by the DER encoder (core/identity) and the xDS framing (core/xds). */

/** One array holding `parts` back to back (a single allocation). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
