/**
 * The one table of cases the edge parity test runs against the Node gateway and the edge host on
 * Node, Deno and workerd (issue 6). The config: a Gateway API Gateway `web/public` with two
 * HTTPRoutes, an Istio Gateway (selector istio=ingressgateway) with a VirtualService, a DENY
 * AuthorizationPolicy on `public`, and the built-in ab-router WasmPlugin (a header picks a route
 * or a cluster). Two echo backends, `echo-a` and `echo-b`, on their own loopback addresses and one
 * port; their answer names the pod and describes the request they saw.
 *
 * Each case sends one request (the Host header picks the listener on the edge, the port on the
 * Node gateway) and states what must hold; the test also requires every contender's result to be
 * identical, case for case (`resultOf` is the comparable projection).
 */

import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const NS = 'web';
export const GATEWAY = 'public';
/** The loopback addresses the echo backends bind (their WorkloadEntries). */
export const ECHO_A = '127.0.0.31';
export const ECHO_B = '127.0.0.32';
export const CLUSTER_B = `outbound|80||echo-b.${NS}.svc.cluster.local`;

// ---- RequestAuthentication (issue 6: JWT on the edge): one issuer, an RS256 and an ES256 key in
// its inline JWKS, made per test run; tokens signed here as an identity provider would.
export const JWT_ISSUER = 'https://issuer.weft.test';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWKS = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rs', alg: 'RS256', use: 'sig' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'es', alg: 'ES256', use: 'sig' }] });
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function jwt(alg: 'RS256' | 'ES256', claims: Record<string, unknown>, key: KeyObject = alg === 'RS256' ? rsa.privateKey : ec.privateKey): string {
  const input = `${b64url(JSON.stringify({ alg, kid: alg === 'RS256' ? 'rs' : 'es', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${b64url(sig)}`;
}

/** A second issuer whose keys are served over HTTP (jwksUri) by the test: edgeConfigYaml's `jwksUri`. */
export const REMOTE_ISSUER = 'https://remote.weft.test';
const remoteKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
export const REMOTE_JWKS = JSON.stringify({ keys: [{ ...remoteKey.publicKey.export({ format: 'jwk' }), kid: 'es', alg: 'ES256' }] });

const exp = Math.floor(Date.now() / 1000) + 86_400;
export const TOKENS = {
  rsAlice: jwt('RS256', { iss: JWT_ISSUER, sub: 'alice', exp }),
  esAlice: jwt('ES256', { iss: JWT_ISSUER, sub: 'alice', exp }),
  rsBob: jwt('RS256', { iss: JWT_ISSUER, sub: 'bob', exp }),
  /** alice's claims signed by a key the JWKS does not have (a bad signature for kid rs) */
  forged: jwt('RS256', { iss: JWT_ISSUER, sub: 'alice', exp }, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
  remoteCarol: jwt('ES256', { iss: REMOTE_ISSUER, sub: 'carol', exp }, remoteKey.privateKey),
  remoteForged: jwt('ES256', { iss: REMOTE_ISSUER, sub: 'carol', exp }),
};

/** The config directory's YAML for the given ports (Gateway API listener, Istio Gateway server, echo port). */
export function edgeConfigYaml(p: { apiPort: number; vsPort: number; echoPort: number; jwksUri?: string }): string {
  const remoteRule = p.jwksUri === undefined ? '' : `
  - issuer: ${REMOTE_ISSUER}
    jwksUri: ${p.jwksUri}
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]`;
  return `apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: Service
metadata: { name: echo-a, namespace: ${NS} }
spec: { clusterIP: 240.240.7.10, selector: { app: echo-a }, ports: [{ name: http, port: 80, targetPort: ${p.echoPort} }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-b, namespace: ${NS} }
spec: { clusterIP: 240.240.7.11, selector: { app: echo-b }, ports: [{ name: http, port: 80, targetPort: ${p.echoPort} }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-a, namespace: ${NS}, labels: { app: echo-a, weft.io/node: n1 } }
spec: { address: ${ECHO_A}, labels: { app: echo-a, weft.io/node: n1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-b, namespace: ${NS}, labels: { app: echo-b, weft.io/node: n1 } }
spec: { address: ${ECHO_B}, labels: { app: echo-b, weft.io/node: n1 } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${GATEWAY}, namespace: ${NS} }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: ${p.apiPort}, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api, namespace: ${NS} }
spec:
  parentRefs: [{ name: ${GATEWAY} }]
  hostnames: [api.example.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /v1 } }]
    filters:
    - type: URLRewrite
      urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: x-route, value: api-v1 }], remove: [x-drop] }
    backendRefs: [{ name: echo-a, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /split } }]
    backendRefs: [{ name: echo-a, port: 80, weight: 0 }, { name: echo-b, port: 80, weight: 1 }]
  - matches: [{ path: { type: PathPrefix, value: /old } }]
    filters:
    - type: RequestRedirect
      requestRedirect: { scheme: https, hostname: new.example.com, statusCode: 301 }
  - matches: [{ path: { type: Exact, value: /canary }, headers: [{ name: x-env, value: canary }] }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { add: [{ name: x-canary, value: "yes" }] }
    backendRefs: [{ name: echo-b, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /missing } }]
    backendRefs: [{ name: nowhere, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: / } }]
    backendRefs: [{ name: echo-a, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: other, namespace: ${NS} }
spec:
  parentRefs: [{ name: ${GATEWAY} }]
  hostnames: ["*.other.example.com"]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /only } }]
    backendRefs: [{ name: echo-b, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: vs-gw, namespace: ${NS} }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: ${p.vsPort}, name: http, protocol: HTTP }, hosts: [vs.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs, namespace: ${NS} }
spec:
  hosts: [vs.example.com]
  gateways: [vs-gw]
  http:
  - name: teapot
    match: [{ name: m, uri: { exact: /teapot } }]
    directResponse: { status: 418, body: { string: "short and stout" } }
  - name: beta
    match: [{ name: m, uri: { prefix: /never-matched } }]
    headers: { request: { set: { x-via: beta } } }
    route: [{ destination: { host: echo-b.${NS}.svc.cluster.local, port: { number: 80 } } }]
  - name: main
    match: [{ name: m, uri: { prefix: /shop } }]
    rewrite: { uri: /store }
    headers: { request: { set: { x-vs: main } }, response: { set: { x-served-by: vs } } }
    route: [{ destination: { host: echo-a.${NS}.svc.cluster.local, port: { number: 80 } } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: ${NS} }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ${GATEWAY} }]
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin*"] } }]
  - when: [{ key: "request.headers[x-block]", values: ["yes"] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: ${NS} }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ${GATEWAY} }]
  jwtRules:
  - issuer: ${JWT_ISSUER}
    jwks: ${JSON.stringify(JWKS)}
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]${remoteRule}
---
# /secure* needs alice's token (a request without one passes jwt_authn with no principal, and is
# denied here); every other path is allowed as before
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: ${NS} }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ${GATEWAY} }]
  action: ALLOW
  rules:
  - from: [{ source: { requestPrincipals: ["${JWT_ISSUER}/alice"] } }]
    to: [{ operation: { paths: ["/secure*"] } }]
  - to: [{ operation: { notPaths: ["/secure*"] } }]
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: ab, namespace: ${NS} }
spec:
  url: file:///builtin/ab-router.wasm
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ${GATEWAY} }]
  pluginConfig:
    header: x-variant
    variants:
      beta: { route: ${NS}/vs.beta.m }
      b: { cluster: "${CLUSTER_B}" }
      ghost: { route: no-such-route }
`;
}

export interface EdgeCase {
  name: string;
  /** which Gateway the request is for: the Node gateway picks it by port, the edge by the Host header */
  listener: 'api' | 'vs';
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  expect: {
    status: number;
    /** the echo pod that answered (a forwarded request) */
    pod?: 'echo-a' | 'echo-b';
    /** the path the backend saw */
    backendPath?: string;
    /** the Host the backend saw */
    backendHost?: string;
    /** request headers as the backend saw them (null: absent) */
    backendHeaders?: Record<string, string | null>;
    /** response headers (null: absent) */
    headers?: Record<string, string | null>;
    /** the exact body of a local reply */
    body?: string;
  };
}

export const EDGE_CASES: EdgeCase[] = [
  { name: 'prefix rewrite and header set/remove', listener: 'api', host: 'api.example.com', path: '/v1/items?x=1', headers: { 'x-drop': 'gone', 'x-keep': 'k' }, expect: { status: 200, pod: 'echo-a', backendPath: '/v2/items?x=1', backendHost: 'api.example.com', backendHeaders: { 'x-route': 'api-v1', 'x-drop': null, 'x-keep': 'k', 'x-forwarded-proto': 'http' } } },
  { name: 'weights: a 0-weight backend never receives', listener: 'api', host: 'api.example.com', path: '/split/1', expect: { status: 200, pod: 'echo-b', backendPath: '/split/1' } },
  { name: 'redirect to https on another host', listener: 'api', host: 'api.example.com', path: '/old/page', expect: { status: 301, headers: { location: 'https://new.example.com/old/page' } } },
  { name: 'header match selects a route with a response header', listener: 'api', host: 'api.example.com', path: '/canary', headers: { 'x-env': 'canary' }, expect: { status: 200, pod: 'echo-b', headers: { 'x-canary': 'yes' } } },
  { name: 'without the header the catch-all rule serves', listener: 'api', host: 'api.example.com', path: '/canary', expect: { status: 200, pod: 'echo-a', headers: { 'x-canary': null } } },
  { name: 'a backend that does not resolve answers 500', listener: 'api', host: 'api.example.com', path: '/missing', expect: { status: 500 } },
  { name: 'host with a port matches the exact hostname', listener: 'api', host: 'api.example.com:8080', path: '/x', expect: { status: 200, pod: 'echo-a', backendPath: '/x' } },
  { name: 'wildcard hostname route', listener: 'api', host: 'shop.other.example.com', path: '/only/here', expect: { status: 200, pod: 'echo-b', backendPath: '/only/here' } },
  { name: 'wildcard hostname without a matching rule: 404', listener: 'api', host: 'shop.other.example.com', path: '/elsewhere', expect: { status: 404, body: '' } },
  { name: 'unknown host on the Gateway API listener: 404', listener: 'api', host: 'nobody.example.org', path: '/', expect: { status: 404, body: '' } },
  { name: 'AuthorizationPolicy DENY by path', listener: 'api', host: 'api.example.com', path: '/admin/users', expect: { status: 403, body: 'RBAC: access denied' } },
  { name: 'AuthorizationPolicy DENY by header', listener: 'api', host: 'api.example.com', path: '/ok', headers: { 'x-block': 'yes' }, expect: { status: 403, body: 'RBAC: access denied' } },
  { name: 'POST body is forwarded', listener: 'api', host: 'api.example.com', path: '/post', method: 'POST', body: 'hello edge', headers: { 'content-type': 'text/plain' }, expect: { status: 200, pod: 'echo-a', backendPath: '/post' } },
  // the matched route's settings apply (its rewrite), not its backend's header ops: those belong to the route's own cluster choice
  { name: 'plugin names a cluster', listener: 'api', host: 'api.example.com', path: '/v1/p', headers: { 'x-variant': 'b' }, expect: { status: 200, pod: 'echo-b', backendPath: '/v2/p', backendHeaders: { 'x-route': null } } },
  { name: 'plugin names a route that does not exist: 503', listener: 'api', host: 'api.example.com', path: '/', headers: { 'x-variant': 'ghost' }, expect: { status: 503 } },
  { name: 'VirtualService direct response', listener: 'vs', host: 'vs.example.com', path: '/teapot', expect: { status: 418, body: 'short and stout' } },
  { name: 'VirtualService rewrite and header ops', listener: 'vs', host: 'vs.example.com', path: '/shop/cart', expect: { status: 200, pod: 'echo-a', backendPath: '/store/cart', backendHeaders: { 'x-vs': 'main' }, headers: { 'x-served-by': 'vs' } } },
  { name: 'VirtualService: no route matches: 404', listener: 'vs', host: 'vs.example.com', path: '/nothing', expect: { status: 404, body: '' } },
  { name: 'plugin picks a VirtualService route by name', listener: 'vs', host: 'vs.example.com', path: '/anything', headers: { 'x-variant': 'beta' }, expect: { status: 200, pod: 'echo-b', backendPath: '/anything', backendHeaders: { 'x-via': 'beta' } } },
  // a targetRefs policy applies to the gateway proxy that serves the Gateway, so to its other listeners too (Istio's rule)
  { name: 'the DENY policy covers every listener of the gateway proxy', listener: 'vs', host: 'vs.example.com', path: '/admin', expect: { status: 403, body: 'RBAC: access denied' } },
  // RequestAuthentication + AuthorizationPolicy requestPrincipals (the edge verifies with WebCrypto)
  { name: 'JWT RS256: a valid token is allowed, its claim goes upstream, the token does not', listener: 'api', host: 'api.example.com', path: '/secure/a', headers: { authorization: `Bearer ${TOKENS.rsAlice}` }, expect: { status: 200, pod: 'echo-a', backendPath: '/secure/a', backendHeaders: { 'x-jwt-sub': 'alice', authorization: null } } },
  { name: 'JWT ES256: a valid token is allowed', listener: 'api', host: 'api.example.com', path: '/secure/b', headers: { authorization: `Bearer ${TOKENS.esAlice}` }, expect: { status: 200, pod: 'echo-a', backendHeaders: { 'x-jwt-sub': 'alice' } } },
  { name: 'JWT with a bad signature: 401', listener: 'api', host: 'api.example.com', path: '/secure/c', headers: { authorization: `Bearer ${TOKENS.forged}` }, expect: { status: 401, body: 'Jwt verification fails', headers: { 'www-authenticate': 'Bearer realm="http://api.example.com/secure/c", error="invalid_token"' } } },
  { name: 'JWT missing where the policy requires a principal: 403', listener: 'api', host: 'api.example.com', path: '/secure/d', expect: { status: 403, body: 'RBAC: access denied' } },
  { name: 'JWT valid but of another principal: 403', listener: 'api', host: 'api.example.com', path: '/secure/e', headers: { authorization: `Bearer ${TOKENS.rsBob}` }, expect: { status: 403, body: 'RBAC: access denied' } },
  { name: 'JWT on a path without a requirement: verified, allowed', listener: 'vs', host: 'vs.example.com', path: '/shop/x', headers: { authorization: `Bearer ${TOKENS.esAlice}` }, expect: { status: 200, pod: 'echo-a', backendHeaders: { 'x-jwt-sub': 'alice', authorization: null } } },
];

/** Cases for a config made with `jwksUri` (the keys fetched by the gateway from a JWKS server). */
export const REMOTE_JWT_CASES: EdgeCase[] = [
  { name: 'JWT with keys from jwksUri: allowed, its claim goes upstream', listener: 'vs', host: 'vs.example.com', path: '/shop/r', headers: { authorization: `Bearer ${TOKENS.remoteCarol}` }, expect: { status: 200, pod: 'echo-a', backendHeaders: { 'x-jwt-sub': 'carol', authorization: null } } },
  // (the body is the first provider's failure: this token's issuer is not the first rule's)
  { name: 'JWT not signed by a jwksUri key: 401', listener: 'vs', host: 'vs.example.com', path: '/shop/r', headers: { authorization: `Bearer ${TOKENS.remoteForged}` }, expect: { status: 401, headers: { 'www-authenticate': 'Bearer realm="http://vs.example.com/shop/r", error="invalid_token"' } } },
];

/** What is compared across the contenders: status, the local reply's body, what the backend saw, the response headers a case names. */
export interface CaseResult {
  status: number;
  body?: string;
  pod?: string;
  backendPath?: string;
  backendHost?: string;
  /** x-forwarded-host as the backend saw it (workerd sends the authority there: its fetch sets Host from the URL) */
  forwardedHost?: string;
  backendHeaders?: Record<string, string | null>;
  headers?: Record<string, string | null>;
}

/** Reduces a response to its CaseResult (the headers a case's expectation names, and what the echo saw). */
export function resultOf(c: EdgeCase, status: number, headers: Headers, body: string): CaseResult {
  const r: CaseResult = { status };
  let echo: { path: string; host: string; pod: string; headers: Record<string, string[]> } | undefined;
  if ((headers.get('content-type') ?? '').startsWith('application/json')) {
    try {
      echo = JSON.parse(body) as typeof echo;
    } catch {
      echo = undefined;
    }
  }
  if (echo !== undefined) {
    r.pod = echo.pod;
    r.backendPath = echo.path;
    r.backendHost = echo.host;
    const fwd = echo.headers['X-Forwarded-Host'];
    if (fwd !== undefined) r.forwardedHost = fwd.join(',');
    if (c.expect.backendHeaders) {
      r.backendHeaders = {};
      const lower = new Map(Object.entries(echo.headers).map(([k, v]) => [k.toLowerCase(), v.join(',')]));
      for (const k of Object.keys(c.expect.backendHeaders)) r.backendHeaders[k] = lower.get(k) ?? null;
    }
  } else r.body = body;
  if (c.expect.headers) {
    r.headers = {};
    for (const k of Object.keys(c.expect.headers)) r.headers[k] = headers.get(k);
  }
  return r;
}

/** The differences between a result and its case's expectation ([] when it holds). */
export function unmet(c: EdgeCase, r: CaseResult): string[] {
  const out: string[] = [];
  const e = c.expect;
  if (r.status !== e.status) out.push(`status ${r.status}, expected ${e.status}`);
  if (e.pod !== undefined && r.pod !== e.pod) out.push(`pod ${r.pod}, expected ${e.pod}`);
  if (e.backendPath !== undefined && r.backendPath !== e.backendPath) out.push(`backend path ${r.backendPath}, expected ${e.backendPath}`);
  if (e.backendHost !== undefined && r.backendHost !== e.backendHost) out.push(`backend host ${r.backendHost}, expected ${e.backendHost}`);
  if (e.body !== undefined && r.body !== e.body) out.push(`body ${JSON.stringify(r.body)}, expected ${JSON.stringify(e.body)}`);
  for (const [k, v] of Object.entries(e.backendHeaders ?? {})) if (r.backendHeaders?.[k] !== v) out.push(`backend header ${k}: ${r.backendHeaders?.[k]}, expected ${v}`);
  for (const [k, v] of Object.entries(e.headers ?? {})) if (r.headers?.[k] !== v) out.push(`header ${k}: ${r.headers?.[k]}, expected ${v}`);
  return out;
}
