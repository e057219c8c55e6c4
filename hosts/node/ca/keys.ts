/**
 * The CA's node:crypto half: key pairs, serials, key identifiers, and signing a TBS body that
 * core/identity built. Everything here is a thin call into OpenSSL; no X.509 library in between.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { assembleSigned, issuerSignature, parsePublicKeyInfo, type KeyAlgorithm, type PublicKeyInfo } from '../../../core/identity/index.ts';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** ECDSA P-256, the key type of every certificate Weft makes (design.md 5). */
export function generateEcKeyPair(curve: 'P-256' | 'P-384' = 'P-256'): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: curve });
}

/** SubjectPublicKeyInfo DER of a public or private key. */
export function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

export function publicKeyInfoOf(key: KeyObject): PublicKeyInfo {
  return parsePublicKeyInfo(spkiOf(key));
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits).digest();
}

/** 128 random bits, positive (RFC 5280 4.1.2.2 wants at least 64 bits of randomness, at most 20 octets). */
export function randomSerial(): Uint8Array {
  // one call into OpenSSL's RNG per 256 serials: a call costs about as much as building the TBS
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const b = pool.slice(poolOffset, poolOffset + 16);
  poolOffset += 16;
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}
let pool = new Uint8Array(0);
let poolOffset = 0;

/**
 * Signs a TBS body with the issuer's key: `build` receives the AlgorithmIdentifier to write into
 * the body (it must equal the outer one) and returns the body.
 */
export function signCertificate(issuerKey: KeyObject, issuerAlg: KeyAlgorithm, build: (algorithmId: Uint8Array) => Uint8Array): Uint8Array {
  const { algorithmId, hash } = issuerSignature(issuerAlg);
  const tbs = build(algorithmId);
  const signature = sign(hash, tbs, { key: issuerKey, dsaEncoding: 'der' });
  return assembleSigned(tbs, algorithmId, signature);
}
