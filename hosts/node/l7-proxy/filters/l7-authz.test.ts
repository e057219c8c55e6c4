/**
 * The compiled L7 authorization filters: RBAC matchers for every attribute istiod writes, Istio's
 * path forms, DENY before ALLOW, default deny, AUDIT never deciding; jwt_authn with RS256/ES256 keys
 * made here with node:crypto (so this test lives in the host: the verifier is the host's part).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envoy } from '../../../../core/xds/pb.ts';
import { rulePolicy, type RbacAction } from '../../../../core/xds/l7/authz-rbac.ts';
import { jwtAuthnFilter, type JwtRuleSpec } from '../../../../core/xds/l7/authz-jwt.ts';
import type { AuthorizationRuleSpec } from '../../../../core/xds/authorization.ts';
import { request, type ReqInit } from '../../../../core/route/test-support.ts';
import { compileL7Authz, L7_AUTHZ_TYPE_URL, type L7AuthzStack } from '../../../../core/policy/l7-filters.ts';
import { L7AuthzRequest, remoteAddressOf } from '../../../../core/policy/l7-request.ts';
import type { Jwk, JwtSignatureVerifier } from '../../../../core/policy/l7-jwt.ts';
import type { ConfigResource } from '../../../../core/config/snapshot.ts';

const ACTION = { ALLOW: 0, DENY: 1, LOG: 2 } as const;

function rbac(action: RbacAction, rules: AuthorizationRuleSpec[], name = 'p'): { name: string; typeUrl: string; value: Uint8Array } {
  const policies: Record<string, unknown> = {};
  rules.forEach((r, i) => {
    const p = rulePolicy(r, 'ns1', action, true, []);
    if ('error' in p) throw new Error(p.error);
    policies[`ns[ns1]-policy[${name}]-rule[${i}]`] = p;
  });
  const msg = envoy.extensions.filters.http.rbac.v3.RBAC.encode({ rules: { action: ACTION[action], policies: policies as never } }).finish();
  return { name: 'envoy.filters.http.rbac', typeUrl: L7_AUTHZ_TYPE_URL.rbac, value: msg };
}

interface Conn {
  peer?: string;
  principal?: string;
  port?: number;
  useRemoteAddress?: boolean;
}

function ctx(stack: L7AuthzStack, target: string, init: ReqInit = {}, c: Conn = {}): L7AuthzRequest {
  const req = request(target, init);
  const peer = c.peer ?? '10.0.0.1';
  return new L7AuthzRequest(req, peer, remoteAddressOf(req, peer, c.useRemoteAddress ?? true), c.port ?? 80, c.principal, undefined);
}

/** Runs the RBAC steps (no jwt/ext here): 'allow' or the status. */
function decide(stack: L7AuthzStack, r: L7AuthzRequest): 'allow' | 'deny' {
  for (const s of stack.steps) if (s.kind === 'rbac' && s.rbac.check(r) !== null) return 'deny';
  return 'allow';
}

function allowOnly(rules: AuthorizationRuleSpec[], target: string, init?: ReqInit, c?: Conn): string {
  const stack = compileL7Authz([rbac('ALLOW', rules)], c?.useRemoteAddress ?? true)!;
  return decide(stack, ctx(stack, target, init, c));
}

describe('RBAC matchers (AuthorizationPolicy semantics)', () => {
  it("paths: exact, prefix `/x*`, suffix `*x`, presence `*`; the query is not part of the path", () => {
    const r = (paths: string[]) => [{ to: [{ operation: { paths } }] }];
    expect(allowOnly(r(['/data']), '/data?x=1')).toBe('allow');
    expect(allowOnly(r(['/data']), '/data/x')).toBe('deny');
    expect(allowOnly(r(['/info*']), '/info/a')).toBe('allow');
    expect(allowOnly(r(['/info*']), '/inf')).toBe('deny');
    expect(allowOnly(r(['*.php']), '/a/b.php')).toBe('allow');
    expect(allowOnly(r(['*']), '/anything')).toBe('allow');
    expect(allowOnly([{ to: [{ operation: { notPaths: ['/admin*'] } }] }], '/admin/x')).toBe('deny');
    expect(allowOnly([{ to: [{ operation: { notPaths: ['/admin*'] } }] }], '/public')).toBe('allow');
    expect(allowOnly(r(['/api/{*}/items']), '/api/v1/items')).toBe('allow');
    expect(allowOnly(r(['/api/{*}/items']), '/api/v1/x/items')).toBe('deny');
    expect(allowOnly(r(['/api/{**}']), '/api/a/b/c')).toBe('allow');
  });

  it('methods, hosts (case-insensitive, port-sensitive as Envoy), ports', () => {
    expect(allowOnly([{ to: [{ operation: { methods: ['GET', 'HEAD'] } }] }], '/', { method: 'POST' })).toBe('deny');
    expect(allowOnly([{ to: [{ operation: { methods: ['GET', 'HEAD'] } }] }], '/', { method: 'HEAD' })).toBe('allow');
    expect(allowOnly([{ to: [{ operation: { hosts: ['Example.COM'] } }] }], '/', { authority: 'example.com' })).toBe('allow');
    expect(allowOnly([{ to: [{ operation: { hosts: ['example.com'] } }] }], '/', { authority: 'example.com:8080' })).toBe('deny');
    expect(allowOnly([{ to: [{ operation: { hosts: ['*.example.com'] } }] }], '/', { authority: 'a.example.com' })).toBe('allow');
    expect(allowOnly([{ to: [{ operation: { ports: ['8080'] } }] }], '/', {}, { port: 8080 })).toBe('allow');
    expect(allowOnly([{ to: [{ operation: { notPorts: ['8080'] } }] }], '/', {}, { port: 8080 })).toBe('deny');
  });

  it('source principals, namespaces and service accounts need an mTLS peer', () => {
    const sleep = 'spiffe://cluster.local/ns/default/sa/sleep';
    expect(allowOnly([{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }], '/')).toBe('deny');
    expect(allowOnly([{ from: [{ source: { principals: ['*'] } }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { principals: ['*/sa/sleep'] } }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { namespaces: ['default'] } }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { namespaces: ['other'] } }] }], '/', {}, { principal: sleep })).toBe('deny');
    expect(allowOnly([{ from: [{ source: { serviceAccounts: ['default/sleep'] } }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { serviceAccounts: ['sleep'] } }] }], '/', {}, { principal: sleep })).toBe('deny'); // policy namespace ns1
    expect(allowOnly([{ from: [{ source: { notPrincipals: ['cluster.local/ns/default/sa/sleep'] } }] }], '/', {}, { principal: sleep })).toBe('deny');
    expect(allowOnly([{ when: [{ key: 'source.principal', values: ['cluster.local/ns/default/sa/sleep'] }] }], '/', {}, { principal: sleep })).toBe('allow');
    expect(allowOnly([{ when: [{ key: 'source.namespace', values: ['def*'] }] }], '/', {}, { principal: sleep })).toBe('allow');
  });

  it('ipBlocks (the peer) and remoteIpBlocks (the original client: x-forwarded-for behind a non-edge proxy)', () => {
    expect(allowOnly([{ from: [{ source: { ipBlocks: ['10.0.0.0/24'] } }] }], '/', {}, { peer: '10.0.0.7' })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { ipBlocks: ['10.0.0.0/24'] } }] }], '/', {}, { peer: '10.0.1.7' })).toBe('deny');
    expect(allowOnly([{ from: [{ source: { notIpBlocks: ['10.0.0.7'] } }] }], '/', {}, { peer: '10.0.0.7' })).toBe('deny');
    const xff = { headers: { 'x-forwarded-for': '1.2.3.4, 192.168.1.9' } };
    expect(allowOnly([{ from: [{ source: { remoteIpBlocks: ['192.168.1.0/24'] } }] }], '/', xff, { peer: '10.0.0.7', useRemoteAddress: false })).toBe('allow');
    expect(allowOnly([{ from: [{ source: { remoteIpBlocks: ['192.168.1.0/24'] } }] }], '/', xff, { peer: '10.0.0.7', useRemoteAddress: true })).toBe('deny');
    expect(allowOnly([{ when: [{ key: 'remote.ip', values: ['10.0.0.7'] }] }], '/', {}, { peer: '10.0.0.7' })).toBe('allow');
    expect(allowOnly([{ when: [{ key: 'source.ip', values: ['::ffff:10.0.0.7'] }] }], '/', {}, { peer: '10.0.0.7' })).toBe('allow'); // IPv4-mapped = IPv4
    expect(allowOnly([{ when: [{ key: 'source.ip', values: ['fd00::/8'] }] }], '/', {}, { peer: '10.0.0.7' })).toBe('deny'); // families differ
  });

  it('request.headers, destination.port and notValues in `when`', () => {
    const h = (v: string[]) => [{ when: [{ key: 'request.headers[X-User]', values: v }] }];
    expect(allowOnly(h(['alice']), '/', { headers: { 'x-user': 'alice' } })).toBe('allow');
    expect(allowOnly(h(['ali*']), '/', { headers: { 'x-user': 'alice' } })).toBe('allow');
    expect(allowOnly(h(['*']), '/', {})).toBe('deny');
    expect(allowOnly([{ when: [{ key: 'request.headers[x-user]', notValues: ['bob'] }] }], '/', { headers: { 'x-user': 'bob' } })).toBe('deny');
    expect(allowOnly([{ when: [{ key: 'destination.port', values: ['80', '443'] }] }], '/', {}, { port: 443 })).toBe('allow');
  });

  it('JWT claims: request.auth.claims (string or list, nested), principal iss/sub, audiences, presenter', () => {
    const stack = compileL7Authz(
      [
        rbac('ALLOW', [
          { from: [{ source: { requestPrincipals: ['https://issuer.example/alice'] } }] },
          { when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] },
          { when: [{ key: 'request.auth.claims[realm][role]', values: ['ops'] }] },
          { when: [{ key: 'request.auth.audiences', values: ['weft'] }, { key: 'request.auth.presenter', values: ['cli'] }] },
        ]),
      ],
      true,
    )!;
    const run = (payload: Record<string, unknown> | undefined) => {
      const r = ctx(stack, '/');
      if (payload) r.jwtMetadata = { payload };
      return decide(stack, r);
    };
    expect(run(undefined)).toBe('deny');
    expect(run({ iss: 'https://issuer.example', sub: 'alice' })).toBe('allow');
    expect(run({ iss: 'https://issuer.example', sub: 'bob' })).toBe('deny');
    expect(run({ groups: ['dev', 'admins'] })).toBe('allow');
    expect(run({ groups: 'admins' })).toBe('allow');
    expect(run({ realm: { role: 'ops' } })).toBe('allow');
    expect(run({ aud: ['x', 'weft'], azp: 'cli' })).toBe('allow');
    expect(run({ aud: 'weft' })).toBe('deny');
  });

  it('DENY wins over ALLOW, ALLOW without a match denies (default deny), AUDIT never decides', () => {
    const stack = compileL7Authz(
      [
        rbac('LOG', [{ to: [{ operation: { paths: ['/audit*'] } }] }], 'audit'),
        rbac('DENY', [{ to: [{ operation: { paths: ['/admin*'] } }] }], 'deny'),
        rbac('ALLOW', [{ to: [{ operation: { methods: ['GET'] } }] }], 'allow'),
      ],
      true,
    )!;
    expect(decide(stack, ctx(stack, '/x'))).toBe('allow');
    expect(decide(stack, ctx(stack, '/admin/x'))).toBe('deny');
    expect(decide(stack, ctx(stack, '/x', { method: 'POST' }))).toBe('deny');
    const audited = ctx(stack, '/audit/1');
    expect(decide(stack, audited)).toBe('allow');
    expect(audited.rbacMetadata).toEqual({ access_log_hint: true });
    const deny = stack.steps[1]!;
    expect(deny.kind === 'rbac' && deny.rbac.check(ctx(stack, '/admin'))).toEqual({ allowed: false, policy: 'ns[ns1]-policy[deny]-rule[0]' });
  });

  it('a chain without authorization filters compiles to nothing', () => {
    expect(compileL7Authz([{ name: 'envoy.filters.http.router', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', value: new Uint8Array(0) }], true)).toBeUndefined();
  });
});

// ---- jwt_authn ----

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function makeToken(key: KeyObject, alg: 'RS256' | 'ES256', kid: string, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg, kid, typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}`;
  const sig = alg === 'RS256' ? sign('sha256', Buffer.from(input), key) : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

/** The test's own verifier (the host's is hosts/node/l7-proxy/filters/jwt-crypto.ts). */
import { createPublicKey, verify } from 'node:crypto';
const verifier: JwtSignatureVerifier = {
  verify(alg: string, key: Jwk, input: string, sig: Uint8Array): boolean {
    const k = createPublicKey({ key: key as never, format: 'jwk' });
    return alg.startsWith('ES') ? verify('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', Buffer.from(input), k, sig);
  },
};

describe('jwt_authn (RequestAuthentication semantics)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1' }] });
  const ra = (rules: JwtRuleSpec[]) => [{ resource: { kind: 'RequestAuthentication', metadata: { name: 'ra', namespace: 'ns1' } } as ConfigResource, spec: { jwtRules: rules } }];
  const stackOf = (rules: JwtRuleSpec[]) => {
    const cfg = jwtAuthnFilter(ra(rules), undefined)!;
    return compileL7Authz([{ name: 'envoy.filters.http.jwt_authn', typeUrl: L7_AUTHZ_TYPE_URL.jwt, value: envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.encode(cfg).finish() }], true)!;
  };
  const now = Date.now();
  const exp = Math.floor(now / 1000) + 600;
  const check = (stack: L7AuthzStack, init: ReqInit, target = '/') => {
    const r = ctx(stack, target, init);
    const s = stack.steps[0]!;
    if (s.kind !== 'jwt') throw new Error('no jwt step');
    return { res: s.jwt.check(r, { keys: () => 'failed' }, verifier, now), r };
  };
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  it('accepts RS256 and ES256 tokens, puts the payload in metadata, strips the token unless forwarded', () => {
    const stack = stackOf([{ issuer: 'https://issuer.example', jwks, outputPayloadToHeader: 'x-jwt-payload', outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] }]);
    for (const t of [makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', sub: 'alice', exp, scope: 'read write' }), makeToken(ec.privateKey, 'ES256', 'e1', { iss: 'https://issuer.example', sub: 'alice', exp, scope: 'read write' })]) {
      const { res, r } = check(stack, bearer(t));
      expect(res).toEqual({ ok: true });
      expect(r.jwtMetadata).toEqual({ payload: { iss: 'https://issuer.example', sub: 'alice', exp, scope: ['read', 'write'] } });
      expect(r.upstreamSet).toEqual(['x-jwt-payload', t.split('.')[1], 'x-sub', 'alice']);
      expect(r.upstreamRemove).toEqual(['authorization']);
    }
  });

  it('passes a request without a token (no principal), refuses bad tokens with 401 messages as Envoy', () => {
    const stack = stackOf([{ issuer: 'https://issuer.example', jwks, audiences: ['weft'] }]);
    const missing = check(stack, {});
    expect(missing.res).toEqual({ ok: true });
    expect(missing.r.jwtMetadata).toBeUndefined();
    const good = makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', aud: 'weft', exp });
    expect(check(stack, bearer(good)).res).toEqual({ ok: true });
    const bad = (t: string) => check(stack, bearer(t)).res;
    expect(bad(`${good.slice(0, -4)}AAAA`)).toEqual({ ok: false, status: 'Jwt verification fails', invalid: true });
    expect(bad(makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://other', aud: 'weft', exp }))).toEqual({ ok: false, status: 'Jwt issuer is not configured', invalid: true });
    expect(bad(makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', aud: 'x', exp }))).toEqual({ ok: false, status: 'Audiences in Jwt are not allowed', invalid: true });
    expect(bad(makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', aud: 'weft', exp: Math.floor(now / 1000) - 120 }))).toEqual({ ok: false, status: 'Jwt is expired', invalid: true });
    expect(bad(makeToken(rsa.privateKey, 'RS256', 'nokey', { iss: 'https://issuer.example', aud: 'weft', exp }))).toEqual({ ok: false, status: "Jwks doesn't have key to match kid or alg from Jwt", invalid: true });
    expect(bad('not-a-jwt')).toMatchObject({ ok: false, invalid: true });
    // A token signed by another key with the same kid
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(bad(makeToken(other.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', aud: 'weft', exp }))).toMatchObject({ ok: false, status: 'Jwt verification fails' });
  });

  it('fromHeaders / fromParams locations and two issuers (either token is enough)', () => {
    const stack = stackOf([
      { issuer: 'https://a.example', jwks, fromHeaders: [{ name: 'x-jwt', prefix: 'Token ' }], forwardOriginalToken: true },
      { issuer: 'https://b.example', jwks, fromParams: ['token'] },
    ]);
    const ta = makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://a.example', sub: 'a', exp });
    const tb = makeToken(ec.privateKey, 'ES256', 'e1', { iss: 'https://b.example', sub: 'b', exp });
    const a = check(stack, { headers: { 'x-jwt': `Token ${ta}` } });
    expect(a.res).toEqual({ ok: true });
    expect(a.r.upstreamRemove).toBeUndefined();
    const b = check(stack, {}, `/x?token=${tb}`);
    expect(b.res).toEqual({ ok: true });
    expect((b.r.jwtMetadata!.payload as { sub: string }).sub).toBe('b');
    expect(check(stack, { headers: { 'x-jwt': `Token ${tb}` } }).res).toMatchObject({ ok: false, status: 'Jwt issuer is not configured' });
    expect(check(stack, { headers: { authorization: `Bearer ${ta}` } }).res).toEqual({ ok: true }); // not a location of either: no token
  });

  it('remote JWKS: pending until the host loads them, then a fetch failure is a 401', () => {
    const cfg = jwtAuthnFilter(ra([{ issuer: 'https://issuer.example', jwksUri: 'http://127.0.0.1:1/jwks' }]), undefined)!;
    const stack = compileL7Authz([{ name: 'j', typeUrl: L7_AUTHZ_TYPE_URL.jwt, value: envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.encode(cfg).finish() }], true)!;
    const s = stack.steps[0]!;
    if (s.kind !== 'jwt') throw new Error('no jwt step');
    const t = makeToken(rsa.privateKey, 'RS256', 'r1', { iss: 'https://issuer.example', exp });
    expect(s.jwt.check(ctx(stack, '/', bearer(t)), { keys: () => 'pending' }, verifier, now)).toHaveProperty('pending');
    expect(s.jwt.check(ctx(stack, '/', bearer(t)), { keys: () => 'failed' }, verifier, now)).toEqual({ ok: false, status: 'Jwks remote fetch is failed', invalid: true });
    expect(s.jwt.check(ctx(stack, '/', bearer(t)), { keys: () => JSON.parse(jwks).keys }, verifier, now)).toEqual({ ok: true });
    expect(s.jwt.check(ctx(stack, '/', {}), { keys: () => 'pending' }, verifier, now)).toEqual({ ok: true }); // no token: no keys needed
  });
});
