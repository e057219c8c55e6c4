/**
 * L7 authorization through the real bundle: `weft control` translates AuthorizationPolicy (ALLOW,
 * DENY, CUSTOM) and RequestAuthentication bound to a Gateway API Gateway by targetRefs into the
 * listener's jwt_authn / RBAC / ext_authz filters; `weft gateway` enforces them in front of echo
 * backends: by path, method, header, remoteIpBlocks and JWT claims; JWTs from a JWKS served here
 * (keys made with node:crypto), 401 for an invalid token, 403 when requestPrincipals are required
 * and no token came, and an ext_authz server that allows or denies by a header.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoBackend } from '../support/echo-backend.ts';
import { httpGateway, httpRouteAll, namespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { freePort, httpGet, startControlAndGateway, startEchoesOnCommonPort } from '../support/proxy-fixtures.ts';
import type { GatewayProcess } from '../support/gateway-process.ts';
import { eventually, type ControlProcess } from '../support/weft-process.ts';

const LISTEN = '127.0.0.1';
const ECHO_IP = '127.0.0.31';
const AUTHZ_IP = '127.0.0.32';
const ISSUER = 'https://issuer.weft.test';
const dir = mkdtempSync(join(tmpdir(), 'weft-gateway-authz-'));
const state = join(dir, 'state');
const config = join(dir, 'config');
let control: ControlProcess;
let gateway: GatewayProcess;
let echo: EchoBackend;
let jwksServer: Server;
let authzServer: Server;
let jwksPort = 0;
let authzPort = 0;
let port = 0;
const authzSeen: Record<string, string | string[] | undefined>[] = [];

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
function token(key: KeyObject, alg: 'RS256' | 'ES256', kid: string, claims: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg, kid, typ: 'JWT' }))}.${b64u(JSON.stringify({ iss: ISSUER, exp: Math.floor(Date.now() / 1000) + 3600, ...claims }))}`;
  const sig = alg === 'RS256' ? sign('sha256', Buffer.from(input), key) : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

function meshYaml(echoPort: number): string {
  return `${yamlDocs(
    namespace('web'),
    service({ name: 'echo', namespace: 'web', app: 'echo', clusterIP: '240.240.2.10', targetPort: echoPort }),
    workloadEntry({ name: 'echo', namespace: 'web', app: 'echo', node: 'n1', address: ECHO_IP }),
    service({ name: 'ext-authz', namespace: 'web', app: 'ext-authz', clusterIP: '240.240.2.11', port: 8000, targetPort: authzPort }),
    workloadEntry({ name: 'ext-authz', namespace: 'web', app: 'ext-authz', node: 'n1', address: AUTHZ_IP }),
    httpGateway({ name: 'public', namespace: 'web', port }),
    httpRouteAll({ name: 'echo', namespace: 'web', gateway: 'public', backend: 'echo' }),
  )}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: web }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  jwtRules:
  - issuer: ${ISSUER}
    jwksUri: http://127.0.0.1:${jwksPort}/jwks
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny, namespace: web }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin*"] } }]
  - when: [{ key: "request.headers[x-block]", values: ["yes"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow, namespace: web }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  action: ALLOW
  rules:
  - to: [{ operation: { methods: ["GET"], paths: ["/public*"] } }]
  - from: [{ source: { remoteIpBlocks: ["127.0.0.1/32"] } }]
    to: [{ operation: { paths: ["/ip/*"] } }]
  - from: [{ source: { remoteIpBlocks: ["10.0.0.0/8"] } }]
    to: [{ operation: { paths: ["/ip10/*"] } }]
  - from: [{ source: { requestPrincipals: ["${ISSUER}/alice"] } }]
    to: [{ operation: { paths: ["/secure*"] } }]
  - to: [{ operation: { paths: ["/claims*"] } }]
    when: [{ key: "request.auth.claims[groups]", values: ["admins"] }]
  - to: [{ operation: { paths: ["/ext*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: web }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  action: CUSTOM
  provider: { name: sample-ext-authz }
  rules: [{ to: [{ operation: { paths: ["/ext*"] } }] }]
`;
}

const MESH = () => `extensionProviders:
- name: sample-ext-authz
  envoyExtAuthzHttp:
    service: ext-authz.web.svc.cluster.local
    port: 8000
    includeRequestHeadersInCheck: ["x-ext-authz"]
    headersToUpstreamOnAllow: ["x-ext-authz-check-result"]
`;

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }> {
  return httpGet({ host: LISTEN, port, path, method, headers });
}

beforeAll(async () => {
  [echo] = (await startEchoesOnCommonPort([{ host: ECHO_IP, h2cPort: null, pod: 'echo-0', namespace: 'web', log: () => {} }], { tries: 10 })).echoes;
  const jwks = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', use: 'sig' }] });
  jwksServer = createHttpServer((req, res) => {
    if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, LISTEN, r));
  jwksPort = (jwksServer.address() as { port: number }).port;
  // Istio's sample ext-authz: allows when `x-ext-authz: allow`.
  authzServer = createHttpServer((req, res) => {
    authzSeen.push({ ...req.headers, ':method': req.method, ':path': req.url });
    if (req.headers['x-ext-authz'] === 'allow') res.writeHead(200, { 'x-ext-authz-check-result': 'allowed' }).end();
    else res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'content-type': 'text/plain' }).end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
  });
  await new Promise<void>((r) => authzServer.listen(0, AUTHZ_IP, r));
  authzPort = (authzServer.address() as { port: number }).port;
  port = await freePort();
  execFileSync('mkdir', ['-p', config, state]);
  writeFileSync(join(config, 'mesh.yaml'), meshYaml(echo.httpPort));
  writeFileSync(join(dir, 'meshconfig.yaml'), MESH());
  ({ control, gateway } = await startControlAndGateway({ config, state, gateway: 'web/public', listen: LISTEN, controlArgs: ['--mesh', join(dir, 'meshconfig.yaml')], args: ['--label', 'istio=ingressgateway'] }));
  await eventually(async () => (await get('/public/ready').catch(() => ({ status: 0 }))).status === 200, 10_000, 'a 200 through the gateway');
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await control?.stop();
  await echo?.close();
  jwksServer?.close();
  authzServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('weft gateway: AuthorizationPolicy and RequestAuthentication', () => {
  it('allows and denies by path and method; DENY wins; no match is denied', async () => {
    expect((await get('/public/x')).json?.path).toBe('/public/x');
    const post = await get('/public/x', {}, 'POST');
    expect(post.status).toBe(403);
    expect(post.text).toBe('RBAC: access denied');
    expect((await get('/admin/x')).status).toBe(403);
    expect((await get('/elsewhere')).status).toBe(403);
  });

  it('normalizes the path before authorization and routing (RFC 3986 dot segments, as Envoy normalize_path)', async () => {
    expect((await get('/public/../admin/x')).status).toBe(403);
    const ok = await get('/public/./a/../x');
    expect(ok.status).toBe(200);
    expect(ok.json?.path).toBe('/public/x');
  });

  it('denies by a request header (DENY when request.headers[x-block])', async () => {
    expect((await get('/public/x', { 'x-block': 'yes' })).status).toBe(403);
    expect((await get('/public/x', { 'x-block': 'no' })).status).toBe(200);
  });

  it('matches remoteIpBlocks against the client address', async () => {
    expect((await get('/ip/x')).status).toBe(200);
    expect((await get('/ip10/x')).status).toBe(403);
  });

  it('requestPrincipals: a valid JWT from the remote JWKS passes, another subject or no token is 403, an invalid token 401', async () => {
    const alice = token(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'alice' });
    const ok = await get('/secure/x', { authorization: `Bearer ${alice}` });
    expect(ok.status).toBe(200);
    expect(ok.json.headers.Authorization).toBeUndefined(); // not forwarded (forwardOriginalToken false)
    expect(ok.json.headers['X-Jwt-Sub']).toEqual(['alice']);
    expect((await get('/secure/x', { authorization: `Bearer ${token(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'bob' })}` })).status).toBe(403);
    expect((await get('/secure/x')).status).toBe(403);
    const bad = await get('/public/x', { authorization: `Bearer ${alice.slice(0, -6)}AAAAAA` });
    expect(bad.status).toBe(401);
    expect(bad.text).toBe('Jwt verification fails');
    expect(bad.headers['www-authenticate']).toBe(`Bearer realm="http://${LISTEN}:${port}/public/x", error="invalid_token"`);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect((await get('/public/x', { authorization: `Bearer ${token(other.privateKey, 'ES256', 'ec-1', { sub: 'alice' })}` })).status).toBe(401);
  });

  it('request.auth.claims: an ES256 token with the group passes', async () => {
    expect((await get('/claims/x', { authorization: `Bearer ${token(ec.privateKey, 'ES256', 'ec-1', { sub: 'carol', groups: ['dev', 'admins'] })}` })).status).toBe(200);
    expect((await get('/claims/x', { authorization: `Bearer ${token(ec.privateKey, 'ES256', 'ec-1', { sub: 'dave', groups: ['dev'] })}` })).status).toBe(403);
  });

  it('CUSTOM: the ext_authz server allows or denies by a header; its allowed headers go upstream', async () => {
    const ok = await get('/ext/x?q=1', { 'x-ext-authz': 'allow', 'x-other': 'no' });
    expect(ok.status).toBe(200);
    expect(ok.json.headers['X-Ext-Authz-Check-Result']).toEqual(['allowed']);
    const seen = authzSeen.at(-1)!;
    expect(seen).toMatchObject({ ':method': 'GET', ':path': '/ext/x?q=1', 'x-ext-authz': 'allow' });
    expect(seen['x-other']).toBeUndefined();
    const denied = await get('/ext/x', { 'x-ext-authz': 'deny' });
    expect(denied.status).toBe(403);
    expect(denied.text).toMatch(/^denied by ext_authz/);
    expect(denied.headers['x-ext-authz-check-result']).toBe('denied');
    const before = authzSeen.length;
    expect((await get('/public/y')).status).toBe(200);
    expect(authzSeen.length).toBe(before); // not a CUSTOM path: the authorizer is not asked
  });

  it('counts denials in the request metrics (403, flag - for RBAC, UAEX for ext_authz)', async () => {
    const stats = await gateway.get(gateway.ports.stats, '/stats/prometheus');
    expect(stats.body).toMatch(/istio_requests_total\{[^}]*response_code="403"[^}]*\} \d+/);
    expect(stats.body).toMatch(/istio_requests_total\{[^}]*response_code="401"[^}]*\} \d+/);
    expect(stats.body).toMatch(/istio_requests_total\{[^}]*response_code="403"[^}]*response_flags="UAEX"[^}]*\} \d+|istio_requests_total\{[^}]*response_flags="UAEX"[^}]*response_code="403"[^}]*\} \d+/);
  });
});
