/**
 * Object identifiers: dotted strings <-> DER content bytes (X.690 8.19), and the OIDs Weft's
 * certificates and CSRs use. Encodings are cached because the CA writes the same dozen on every cert.
 */

export const OID = {
  // attribute types (RFC 5280 appendix A)
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  country: '2.5.4.6',
  locality: '2.5.4.7',
  stateOrProvince: '2.5.4.8',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  domainComponent: '0.9.2342.19200300.100.1.25',
  emailAddress: '1.2.840.113549.1.9.1',
  // PKCS#9
  extensionRequest: '1.2.840.113549.1.9.14',
  // keys
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  // signatures
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  ecdsaSha1: '1.2.840.10045.4.1',
  rsaSha1: '1.2.840.113549.1.1.5',
  rsaSha256: '1.2.840.113549.1.1.11',
  rsaSha384: '1.2.840.113549.1.1.12',
  rsaSha512: '1.2.840.113549.1.1.13',
  rsaPss: '1.2.840.113549.1.1.10',
  // extensions
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const cache = new Map<string, Uint8Array>();

/** Content bytes of an OBJECT IDENTIFIER (without tag and length). */
export function encodeOidContent(dotted: string): Uint8Array {
  const hit = cache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  const push = (v: bigint): void => {
    const groups: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (let i = 2; i < arcs.length; i++) push(arcs[i]!);
  const bytes = Uint8Array.from(out);
  cache.set(dotted, bytes);
  return bytes;
}

/** Dotted form of OBJECT IDENTIFIER content bytes; throws on a truncated or non-minimal arc. */
export function decodeOidContent(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new Error('empty OID');
  const arcs: (number | bigint)[] = [];
  // numbers while arcs fit in 2^53 (every OID in practice); BigInt only past that
  let v = 0;
  let big: bigint | undefined;
  let started = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (!started && b === 0x80) throw new Error('non-minimal OID arc');
    started = true;
    if (big === undefined && v >= 2 ** 45) big = BigInt(v);
    if (big !== undefined) big = (big << 7n) | BigInt(b & 0x7f);
    else v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(big ?? v);
      v = 0;
      big = undefined;
      started = false;
    }
  }
  if (started) throw new Error('truncated OID');
  const first = arcs[0]!;
  const head = typeof first === 'bigint' ? [2n, first - 80n] : first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}
