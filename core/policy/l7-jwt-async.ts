/**
 * jwt_authn for hosts whose signature check is asynchronous (the edge host: WebCrypto's
 * `crypto.subtle.verify` returns a promise). The checks themselves stay the synchronous ones of
 * l7-jwt.ts (the Node gateway's path is untouched and pays nothing for this): the request is
 * checked with a verifier that answers from signatures already verified; a signature it has not
 * seen is recorded and answered "invalid" for that round, then every recorded one is verified
 * asynchronously and the request is checked again. Each round adds at least one answer, so this
 * ends, usually after two rounds (one for a token already in the provider's verified-token cache).
 * A round's side effects (upstream headers, metadata) are only kept from the last, complete round.
 */
import { L7AuthzRequest } from './l7-request.ts';
import type { Jwk, JwtAuthn, JwtCheck, JwtKeySource, JwtSignatureVerifier } from './l7-jwt.ts';

export interface AsyncJwtSignatureVerifier {
  /** Whether `signature` over `signingInput` is valid for `alg` with `key` (false for a key it cannot use). */
  verify(alg: string, key: Jwk, signingInput: string, signature: Uint8Array): Promise<boolean>;
}

interface Asked {
  alg: string;
  key: Jwk;
  input: string;
  sig: Uint8Array;
}

function sigKey(alg: string, input: string, sig: Uint8Array): string {
  let s = `${alg}.${input}.`;
  for (let i = 0; i < sig.length; i++) s += String.fromCharCode(sig[i]!);
  return s;
}

const keyIds = new WeakMap<Jwk, string>();
/** A key by its content: a key source may hand out new objects for the same keys on each call. */
function keyId(k: Jwk): string {
  let id = keyIds.get(k);
  if (id === undefined) keyIds.set(k, (id = JSON.stringify([k.kty, k.kid, k.alg, k.n, k.e, k.crv, k.x, k.y])));
  return id;
}

/** Answers from verified signatures; records what it was asked and could not answer. */
class MemoVerifier implements JwtSignatureVerifier {
  readonly known = new Map<string, boolean>();
  missed: (Asked & { id: string })[] = [];
  verify(alg: string, key: Jwk, signingInput: string, signature: Uint8Array): boolean {
    const id = `${keyId(key)}.${sigKey(alg, signingInput, signature)}`;
    const v = this.known.get(id);
    if (v !== undefined) return v;
    this.missed.push({ alg, key, input: signingInput, sig: signature, id });
    return false;
  }
}

/** A request's copy for one round, so an incomplete round leaves no upstream headers or metadata on it. */
function roundCopy(r: L7AuthzRequest): L7AuthzRequest {
  const c = new L7AuthzRequest(r.req, r.directRemoteIp, r.remoteIp, r.destinationPort, r.peerPrincipal, r.sni);
  c.destinationIp = r.destinationIp;
  c.headerList = r.headerList;
  c.jwtMetadata = r.jwtMetadata === undefined ? undefined : { ...r.jwtMetadata };
  c.rbacMetadata = r.rbacMetadata;
  c.upstreamSet = r.upstreamSet?.slice();
  c.upstreamRemove = r.upstreamRemove?.slice();
  return c;
}

/** `jwt.check` with an asynchronous signature verifier; `{pending}` as there (fetch the provider's keys, then call again). */
export async function checkJwtAsync(jwt: JwtAuthn, r: L7AuthzRequest, keys: JwtKeySource, verifier: AsyncJwtSignatureVerifier, nowMs: number): Promise<JwtCheck> {
  const memo = new MemoVerifier();
  // bounded: a request names a handful of providers, each with a few candidate keys
  for (let round = 0; round < 32; round++) {
    const c = roundCopy(r);
    memo.missed = [];
    const res = jwt.check(c, keys, memo, nowMs);
    if (memo.missed.length === 0 || 'pending' in res) {
      r.jwtMetadata = c.jwtMetadata;
      r.upstreamSet = c.upstreamSet;
      r.upstreamRemove = c.upstreamRemove;
      return res;
    }
    const missed = memo.missed;
    const answers = await Promise.all(missed.map((a) => verifier.verify(a.alg, a.key, a.input, a.sig).catch(() => false)));
    missed.forEach((a, i) => memo.known.set(a.id, answers[i]!));
  }
  return { ok: false, status: 'Jwt verification fails', invalid: true };
}
