/**
 * JWT on the edge host: WebCrypto signature checks (RS256, ES256, PS256) against tokens signed by
 * node:crypto, remote JWKS from a real HTTP server (fetched once, kept for cache_duration, then
 * refetched; a failing server gives Envoy's 401), and the filters' answers and upstream header
 * changes as the Node gateway gives them.
 */
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigResource } from '../../core/config/snapshot.ts';
import { compileL7Authz, L7_AUTHZ_TYPE_URL, type L7AuthzStack } from '../../core/policy/l7-filters.ts';
import { L7AuthzRequest } from '../../core/policy/l7-request.ts';
import { jwtAuthnFilter, type JwtRuleSpec } from '../../core/xds/l7/authz-jwt.ts';
import { envoy } from '../../core/xds/pb.ts';
import { EdgeRequest } from './edge-request.ts';
import { authorizeWithJwt, type EdgeJwtDeps } from './jwt-authz.ts';
import { JwksCache } from '../../core/policy/jwks-cache.ts';
const webFetch = (uri: string, init: { signal: AbortSignal }) => fetch(uri, init);
import { WebCryptoJwtVerifier } from './jwt-webcrypto.ts';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
function token(key: KeyObject, alg: 'RS256' | 'ES256' | 'PS256', kid: string, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg, kid, typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}`;
  const data = Buffer.from(input);
  const sig = alg === 'ES256' ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : alg === 'PS256' ? sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }) : sign('sha256', data, key);
  return `${input}.${b64u(sig)}`;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWKS = JSON.stringify({
  keys: [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256', use: 'sig' },
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'p1', alg: 'PS256' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1', key_ops: ['verify'] },
  ],
});
const ISS = 'https://issuer.example';
const exp = Math.floor(Date.now() / 1000) + 600;

function stackOf(rules: JwtRuleSpec[]): L7AuthzStack {
  const cfg = jwtAuthnFilter([{ resource: { kind: 'RequestAuthentication', metadata: { name: 'ra', namespace: 'ns1' } } as ConfigResource, spec: { jwtRules: rules } }], undefined)!;
  return compileL7Authz([{ name: 'j', typeUrl: L7_AUTHZ_TYPE_URL.jwt, value: envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.encode(cfg).finish() }], true)!;
}

async function run(stack: L7AuthzStack, deps: EdgeJwtDeps, headers: Record<string, string>, path = '/api'): Promise<{ res: Response | undefined; upstream: Headers }> {
  const req = new EdgeRequest(new Request(`http://api.example.com${path}`, { headers }), 'http', 'api.example.com', path, '10.0.0.9');
  const ctx = new L7AuthzRequest(req, '10.0.0.9', '10.0.0.9', 80, undefined, undefined);
  const res = await authorizeWithJwt(stack, ctx, req, deps);
  return { res, upstream: req.upstreamHeaders() };
}

let server: Server;
let jwksUrl = '';
let fetches = 0;
let failing = false;
beforeAll(async () => {
  server = createServer((req, res) => {
    fetches++;
    if (failing) res.writeHead(500).end('no');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JWKS);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('edge jwt_authn', () => {
  it('verifies RS256, ES256 and PS256 with WebCrypto; a token signed by another key fails', async () => {
    const v = new WebCryptoJwtVerifier();
    const keys = (JSON.parse(JWKS) as { keys: never[] }).keys;
    const check = async (t: string, k: number) => {
      const [h, p, s] = t.split('.');
      return v.verify(JSON.parse(Buffer.from(h!, 'base64url').toString()).alg, keys[k]!, `${h}.${p}`, Buffer.from(s!, 'base64url'));
    };
    expect(await check(token(rsa.privateKey, 'RS256', 'r1', { iss: ISS }), 0)).toBe(true);
    expect(await check(token(rsa.privateKey, 'PS256', 'p1', { iss: ISS }), 1)).toBe(true);
    expect(await check(token(ec.privateKey, 'ES256', 'e1', { iss: ISS }), 2)).toBe(true);
    expect(await check(token(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256', 'r1', { iss: ISS }), 0)).toBe(false);
    // a key of the wrong type verifies nothing (and does not throw)
    expect(await check(token(rsa.privateKey, 'RS256', 'r1', { iss: ISS }), 2)).toBe(false);
  });

  it('inline JWKS: the claim header goes upstream, the token does not; a bad token is a 401 as Envoy answers it', async () => {
    const stack = stackOf([{ issuer: ISS, jwks: JWKS, outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] }]);
    const deps = { jwks: new JwksCache({ fetch: webFetch }), verifier: new WebCryptoJwtVerifier(), now: Date.now };
    const ok = await run(stack, deps, { authorization: `Bearer ${token(ec.privateKey, 'ES256', 'e1', { iss: ISS, sub: 'alice', exp })}`, 'x-keep': '1' });
    expect(ok.res).toBeUndefined();
    expect(ok.upstream.get('x-sub')).toBe('alice');
    expect(ok.upstream.get('authorization')).toBeNull();
    expect(ok.upstream.get('x-keep')).toBe('1');
    const bad = await run(stack, deps, { authorization: `Bearer ${token(rsa.privateKey, 'RS256', 'r1', { iss: ISS, sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 })}` });
    expect(bad.res?.status).toBe(401);
    expect(await bad.res?.text()).toBe('Jwt is expired');
    expect(bad.res?.headers.get('www-authenticate')).toBe('Bearer realm="http://api.example.com/api", error="invalid_token"');
    const none = await run(stack, deps, {});
    expect(none.res).toBeUndefined();
    expect(none.upstream.get('x-sub')).toBeNull();
  });

  it('remote JWKS: fetched on first use, kept for cache_duration (the TTL), then fetched again; a failing server is a 401', async () => {
    let now = Date.now();
    const stack = stackOf([{ issuer: ISS, jwksUri: jwksUrl }]);
    const deps = { jwks: new JwksCache({ fetch: webFetch, now: () => now }), verifier: new WebCryptoJwtVerifier(), now: () => now };
    const t = token(rsa.privateKey, 'RS256', 'r1', { iss: ISS, sub: 'bob', exp });
    fetches = 0;
    expect((await run(stack, deps, { authorization: `Bearer ${t}` })).res).toBeUndefined();
    expect((await run(stack, deps, { authorization: `Bearer ${t}` })).res).toBeUndefined();
    expect(fetches).toBe(1);
    now += 301_000; // istiod's cache_duration is 5 minutes
    expect((await run(stack, deps, { authorization: `Bearer ${t}` })).res).toBeUndefined(); // the old keys serve meanwhile
    await new Promise((r) => setTimeout(r, 200));
    expect(fetches).toBe(2);

    failing = true;
    try {
      const other = stackOf([{ issuer: ISS, jwksUri: `${jwksUrl}?other` }]);
      const fresh = { jwks: new JwksCache({ fetch: webFetch }), verifier: new WebCryptoJwtVerifier(), now: Date.now };
      const r = await run(other, fresh, { authorization: `Bearer ${t}` });
      expect(r.res?.status).toBe(401);
      expect(await r.res?.text()).toBe('Jwks remote fetch is failed');
    } finally {
      failing = false;
    }
  });
});
