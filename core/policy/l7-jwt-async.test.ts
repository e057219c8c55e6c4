/**
 * checkJwtAsync: jwt_authn with an asynchronous signature verifier gives what the synchronous check
 * gives (same outcomes, metadata and upstream headers, each written once), verifies each signature
 * once, and a token already verified costs no signature check.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConfigResource } from '../config/snapshot.ts';
import { request, type ReqInit } from '../route/test-support.ts';
import { jwtAuthnFilter, type JwtRuleSpec } from '../xds/l7/authz-jwt.ts';
import { envoy } from '../xds/pb.ts';
import { compileL7Authz, L7_AUTHZ_TYPE_URL } from './l7-filters.ts';
import { checkJwtAsync, type AsyncJwtSignatureVerifier } from './l7-jwt-async.ts';
import type { Jwk, JwtAuthn, JwtSignatureVerifier } from './l7-jwt.ts';
import { L7AuthzRequest } from './l7-request.ts';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
function token(key: KeyObject, alg: 'RS256' | 'ES256', kid: string, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg, kid, typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(alg === 'RS256' ? sign('sha256', Buffer.from(input), key) : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }))}`;
}

const syncVerifier: JwtSignatureVerifier = {
  verify(alg: string, key: Jwk, input: string, sig: Uint8Array): boolean {
    const k = createPublicKey({ key: key as never, format: 'jwk' });
    return alg.startsWith('ES') ? verify('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', Buffer.from(input), k, sig);
  },
};

/** The same checks, answered later (as WebCrypto does), counted. */
function asyncVerifier(): AsyncJwtSignatureVerifier & { calls: number } {
  const v = {
    calls: 0,
    async verify(alg: string, key: Jwk, input: string, sig: Uint8Array): Promise<boolean> {
      v.calls++;
      await new Promise((r) => setTimeout(r, 1));
      return syncVerifier.verify(alg, key, input, sig);
    },
  };
  return v;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwks = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1' }] });
const exp = Math.floor(Date.now() / 1000) + 600;
const NO_REMOTE = { keys: () => 'failed' as const };

function jwtOf(rules: JwtRuleSpec[]): JwtAuthn {
  const cfg = jwtAuthnFilter([{ resource: { kind: 'RequestAuthentication', metadata: { name: 'ra', namespace: 'ns1' } } as ConfigResource, spec: { jwtRules: rules } }], undefined)!;
  const stack = compileL7Authz([{ name: 'j', typeUrl: L7_AUTHZ_TYPE_URL.jwt, value: envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.encode(cfg).finish() }], true)!;
  const s = stack.steps[0]!;
  if (s.kind !== 'jwt') throw new Error('no jwt step');
  return s.jwt;
}

const ctx = (target: string, init: ReqInit = {}) => new L7AuthzRequest(request(target, init), '10.0.0.1', '10.0.0.1', 80, undefined, undefined);

describe('checkJwtAsync', () => {
  const rules: JwtRuleSpec[] = [
    { issuer: 'https://a.example', jwks, outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] },
    { issuer: 'https://b.example', jwks, fromParams: ['token'], outputPayloadToHeader: 'x-payload' },
  ];
  const ta = token(rsa.privateKey, 'RS256', 'r1', { iss: 'https://a.example', sub: 'a', exp, scope: 'x y' });
  const tb = token(ec.privateKey, 'ES256', 'e1', { iss: 'https://b.example', sub: 'b', exp });
  const forged = token(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256', 'r1', { iss: 'https://a.example', sub: 'a', exp });
  const requests: [string, string, ReqInit][] = [
    ['issuer a in the header', '/', { headers: { authorization: `Bearer ${ta}` } }],
    ['issuer b in the query', `/x?token=${tb}`, {}],
    ['both', `/x?token=${tb}`, { headers: { authorization: `Bearer ${ta}` } }],
    ['none', '/', {}],
    ['a forged token', '/', { headers: { authorization: `Bearer ${forged}` } }],
    ['b token where a is looked for', '/', { headers: { authorization: `Bearer ${tb}` } }],
    ['not a JWT', '/', { headers: { authorization: 'Bearer abc' } }],
  ];

  for (const [what, target, init] of requests) {
    it(`gives the synchronous check's result, metadata and upstream headers: ${what}`, async () => {
      // fresh providers for each side (their verified-token caches are per provider)
      const want = ctx(target, init);
      const wantRes = jwtOf(rules).check(want, NO_REMOTE, syncVerifier, Date.now());
      const got = ctx(target, init);
      const gotRes = await checkJwtAsync(jwtOf(rules), got, NO_REMOTE, asyncVerifier(), Date.now());
      expect(gotRes).toEqual(wantRes);
      expect(got.jwtMetadata).toEqual(want.jwtMetadata);
      expect(got.upstreamSet).toEqual(want.upstreamSet);
      expect(got.upstreamRemove).toEqual(want.upstreamRemove);
    });
  }

  it('verifies a signature once, and a token it verified before not again', async () => {
    const jwt = jwtOf(rules);
    const v = asyncVerifier();
    expect(await checkJwtAsync(jwt, ctx('/', { headers: { authorization: `Bearer ${ta}` } }), NO_REMOTE, v, Date.now())).toEqual({ ok: true });
    expect(v.calls).toBe(1); // kid r1 picks the one key
    expect(await checkJwtAsync(jwt, ctx('/', { headers: { authorization: `Bearer ${ta}` } }), NO_REMOTE, v, Date.now())).toEqual({ ok: true });
    expect(v.calls).toBe(1);
    expect(await checkJwtAsync(jwt, ctx('/', { headers: { authorization: `Bearer ${forged}` } }), NO_REMOTE, v, Date.now())).toMatchObject({ ok: false, status: 'Jwt verification fails' });
    expect(v.calls).toBe(2);
  });

  it('passes "pending" on for remote keys, touching nothing', async () => {
    const jwt = jwtOf([{ issuer: 'https://a.example', jwksUri: 'http://127.0.0.1:1/jwks' }]);
    const r = ctx('/', { headers: { authorization: `Bearer ${ta}` } });
    expect(await checkJwtAsync(jwt, r, { keys: () => 'pending' }, asyncVerifier(), Date.now())).toHaveProperty('pending');
    expect(r.upstreamRemove).toBeUndefined();
    expect(await checkJwtAsync(jwt, r, { keys: () => JSON.parse(jwks).keys }, asyncVerifier(), Date.now())).toEqual({ ok: true });
    expect(r.upstreamRemove).toEqual(['authorization']);
  });
});
