/**
 * SubjectPublicKeyInfo and AlgorithmIdentifier (RFC 5280 4.1.1.2, 4.1.2.7; RFC 5480, RFC 4055):
 * what kind and size of key a CSR carries, which signature algorithm signed it, and which
 * AlgorithmIdentifier an issuer with a given key writes. Key checks are pure; hosts verify signatures.
 */
import { OID } from './oid.ts';
import { TAG, nullValue, oid, sequence } from './der-writer.ts';
import { children, decodeBitString, decodeOid, decodeUnsigned, expect, parseDer, type DerNode } from './der-reader.ts';

export type KeyAlgorithm =
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' | (string & {}) }
  | { kind: 'rsa'; modulusBits: number }
  | { kind: 'ed25519' }
  | { kind: 'other'; oid: string };

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export type SignatureAlgorithm =
  | { kind: 'ecdsa' | 'rsa-pkcs1'; hash: HashName; oid: string }
  | { kind: 'ed25519'; hash: null; oid: string }
  | { kind: 'unsupported'; hash: null; oid: string };

export interface PublicKeyInfo {
  algorithm: KeyAlgorithm;
  /** The subjectPublicKey BIT STRING's bytes (what a subjectKeyIdentifier hashes). */
  publicKey: Uint8Array;
  /** The whole SubjectPublicKeyInfo encoding. */
  der: Uint8Array;
}

const CURVES: Record<string, string> = { [OID.p256]: 'P-256', [OID.p384]: 'P-384', [OID.p521]: 'P-521' };

export function parsePublicKeyInfo(input: DerNode | Uint8Array): PublicKeyInfo {
  const node = expect(input instanceof Uint8Array ? parseDer(input) : input, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const [alg, key] = children(node);
  const [algOid, params] = children(expect(alg, TAG.SEQUENCE, 'SubjectPublicKeyInfo.algorithm'));
  const type = decodeOid(algOid!);
  const { bytes } = decodeBitString(expect(key, TAG.BIT_STRING, 'subjectPublicKey'));
  let algorithm: KeyAlgorithm;
  if (type === OID.ecPublicKey) {
    const curve = params?.tag === TAG.OID ? decodeOid(params) : 'explicit parameters';
    algorithm = { kind: 'ec', curve: CURVES[curve] ?? curve };
  } else if (type === OID.rsaEncryption) {
    const [modulus] = children(expect(parseDer(bytes), TAG.SEQUENCE, 'RSAPublicKey'));
    const m = decodeUnsigned(expect(modulus, TAG.INTEGER, 'RSAPublicKey.modulus'));
    algorithm = { kind: 'rsa', modulusBits: m.length === 0 ? 0 : (m.length - 1) * 8 + (32 - Math.clz32(m[0]!)) };
  } else if (type === OID.ed25519) {
    algorithm = { kind: 'ed25519' };
  } else {
    algorithm = { kind: 'other', oid: type };
  }
  return { algorithm, publicKey: bytes, der: node.raw };
}

export function describeKey(k: KeyAlgorithm): string {
  switch (k.kind) {
    case 'ec':
      return `EC ${k.curve}`;
    case 'rsa':
      return `RSA ${k.modulusBits}`;
    case 'ed25519':
      return 'Ed25519';
    case 'other':
      return `key algorithm ${k.oid}`;
  }
}

const SIGNATURES: Record<string, SignatureAlgorithm> = {
  [OID.ecdsaSha1]: { kind: 'ecdsa', hash: 'sha1', oid: OID.ecdsaSha1 },
  [OID.ecdsaSha256]: { kind: 'ecdsa', hash: 'sha256', oid: OID.ecdsaSha256 },
  [OID.ecdsaSha384]: { kind: 'ecdsa', hash: 'sha384', oid: OID.ecdsaSha384 },
  [OID.ecdsaSha512]: { kind: 'ecdsa', hash: 'sha512', oid: OID.ecdsaSha512 },
  [OID.rsaSha1]: { kind: 'rsa-pkcs1', hash: 'sha1', oid: OID.rsaSha1 },
  [OID.rsaSha256]: { kind: 'rsa-pkcs1', hash: 'sha256', oid: OID.rsaSha256 },
  [OID.rsaSha384]: { kind: 'rsa-pkcs1', hash: 'sha384', oid: OID.rsaSha384 },
  [OID.rsaSha512]: { kind: 'rsa-pkcs1', hash: 'sha512', oid: OID.rsaSha512 },
  [OID.ed25519]: { kind: 'ed25519', hash: null, oid: OID.ed25519 },
};

export function parseSignatureAlgorithm(node: DerNode | undefined): SignatureAlgorithm {
  const [algOid] = children(expect(node, TAG.SEQUENCE, 'signatureAlgorithm'));
  const id = decodeOid(algOid!);
  return SIGNATURES[id] ?? { kind: 'unsupported', hash: null, oid: id };
}

/** Does this signature algorithm go with this key? (An RSA signature over an EC key never verifies.) */
export function signatureMatchesKey(sig: SignatureAlgorithm, key: KeyAlgorithm): boolean {
  return (sig.kind === 'ecdsa' && key.kind === 'ec') || (sig.kind === 'rsa-pkcs1' && key.kind === 'rsa') || (sig.kind === 'ed25519' && key.kind === 'ed25519');
}

/** The signature an issuer with this key writes: ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256. */
export function issuerSignature(key: KeyAlgorithm): { algorithmId: Uint8Array; hash: HashName } {
  switch (key.kind) {
    case 'ec': {
      const [id, hash] = key.curve === 'P-384' ? [OID.ecdsaSha384, 'sha384' as const] : key.curve === 'P-521' ? [OID.ecdsaSha512, 'sha512' as const] : [OID.ecdsaSha256, 'sha256' as const];
      // RFC 5758 3.2: ECDSA AlgorithmIdentifiers have no parameters
      return { algorithmId: sequence(oid(id)), hash };
    }
    case 'rsa':
      // RFC 4055 5: PKCS#1 v1.5 identifiers carry an explicit NULL
      return { algorithmId: sequence(oid(OID.rsaSha256), nullValue()), hash: 'sha256' };
    default:
      throw new Error(`an issuer with ${describeKey(key)} is not supported`);
  }
}
