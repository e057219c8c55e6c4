/**
 * JWT signatures with node:crypto (the host half of core/policy/l7-jwt.ts): a JWK becomes a public
 * KeyObject once (cached by the key object, which lives as long as its JWKS), then `crypto.verify`
 * per token. ES* signatures are JOSE's raw r||s (ieee-p1363), RS* PKCS#1 v1.5, PS* RSASSA-PSS.
 */
import { createPublicKey, verify, constants, type KeyObject, type JsonWebKeyInput } from 'node:crypto';
import type { Jwk, JwtSignatureVerifier } from '../../../../core/policy/l7-jwt.ts';

const HASH: Record<string, string> = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512', ES256: 'sha256', ES384: 'sha384', PS256: 'sha256', PS384: 'sha384', PS512: 'sha512' };

export class NodeJwtVerifier implements JwtSignatureVerifier {
  readonly #keys = new WeakMap<Jwk, KeyObject>();

  verify(alg: string, key: Jwk, signingInput: string, signature: Uint8Array): boolean {
    const hash = HASH[alg];
    if (hash === undefined) return false;
    let k = this.#keys.get(key);
    if (k === undefined) {
      k = createPublicKey({ key, format: 'jwk' } as JsonWebKeyInput);
      this.#keys.set(key, k);
    }
    const data = Buffer.from(signingInput, 'latin1');
    if (alg.startsWith('ES')) return verify(hash, data, { key: k, dsaEncoding: 'ieee-p1363' }, signature);
    if (alg.startsWith('PS')) return verify(hash, data, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    return verify(hash, data, k, signature);
  }
}
