/**
 * JWT signatures with WebCrypto (`crypto.subtle`), the edge host's half of core's jwt_authn
 * (core/policy/l7-jwt-async.ts): runs on Node, Deno and workerd alike. A JWK is imported once per
 * algorithm (cached by the key object, which lives as long as its JWKS). JOSE's ES* signatures are
 * raw r||s, which is what WebCrypto's ECDSA takes; RS* is RSASSA-PKCS1-v1_5, PS* RSA-PSS with a salt
 * as long as the hash.
 */
import type { AsyncJwtSignatureVerifier } from '../../core/policy/l7-jwt-async.ts';
import type { Jwk } from '../../core/policy/l7-jwt.ts';

type Algo = { importAs: RsaHashedImportParams | EcKeyImportParams; verifyAs: AlgorithmIdentifier | RsaPssParams | EcdsaParams };

function algo(alg: string): Algo | undefined {
  const bits = alg.slice(2);
  const hash = `SHA-${bits}`;
  if (bits !== '256' && bits !== '384' && bits !== '512') return undefined;
  if (alg.startsWith('RS')) return { importAs: { name: 'RSASSA-PKCS1-v1_5', hash }, verifyAs: { name: 'RSASSA-PKCS1-v1_5' } };
  if (alg.startsWith('PS')) return { importAs: { name: 'RSA-PSS', hash }, verifyAs: { name: 'RSA-PSS', saltLength: Number(bits) / 8 } };
  if (alg === 'ES256' || alg === 'ES384') return { importAs: { name: 'ECDSA', namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' }, verifyAs: { name: 'ECDSA', hash } };
  return undefined;
}

/** The public members only: a JWK's use/key_ops/alg/ext would make importKey refuse some published keys. */
function publicJwk(k: Jwk): JsonWebKey {
  const out: JsonWebKey = { kty: k.kty };
  for (const f of ['n', 'e', 'crv', 'x', 'y'] as const) if (typeof k[f] === 'string') out[f] = k[f] as string;
  return out;
}

export class WebCryptoJwtVerifier implements AsyncJwtSignatureVerifier {
  readonly #keys = new WeakMap<Jwk, Map<string, Promise<CryptoKey | undefined>>>();

  async verify(alg: string, key: Jwk, signingInput: string, signature: Uint8Array): Promise<boolean> {
    const a = algo(alg);
    if (a === undefined) return false;
    let byAlg = this.#keys.get(key);
    if (byAlg === undefined) this.#keys.set(key, (byAlg = new Map()));
    let k = byAlg.get(alg);
    if (k === undefined) {
      // an unusable key verifies nothing (Envoy skips keys it cannot parse)
      k = crypto.subtle.importKey('jwk', publicJwk(key), a.importAs, false, ['verify']).catch(() => undefined);
      byAlg.set(alg, k);
    }
    const ck = await k;
    if (ck === undefined) return false;
    return crypto.subtle.verify(a.verifyAs, ck, signature as Uint8Array<ArrayBuffer>, new TextEncoder().encode(signingInput));
  }
}
