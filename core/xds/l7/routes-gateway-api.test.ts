// @ts-nocheck -- decoded messages type repeated fields as nullable (`| null`); the assertions check them at run time.
import { describe, expect, it } from 'vitest';
import { envoy } from '../pb.ts';
import { L7Translation } from './translate-l7.ts';
import { INVALID_BACKEND } from './names.ts';
import { gateway, infra, snapshotOf } from './l7-fixtures.test-support.ts';

const NS = 'gateway-conformance-infra';
const C = (svc: string, port = 8080) => `outbound|${port}||${svc}.${NS}.svc.cluster.local`;

// Decoded messages: repeated fields are always arrays; the generated types say `| null` for them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function routeConfig(l7: L7Translation, name: string): any {
  const r = l7.scope(l7.servedBy({ role: 'gateway', namespace: NS, name: 'x', labels: {} })).routes.find((x) => x.name === name);
  expect(r, name).toBeDefined();
  return envoy.config.route.v3.RouteConfiguration.decode(r!.bytes);
}

const route = (name: string, spec: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${NS} }
spec:
  parentRefs: [{ name: same-namespace }]
${spec}`;

describe('HTTPRoute -> RouteConfiguration (gateway)', () => {
  it('orders matches by Gateway API precedence (httproute-matching)', () => {
    const snap = snapshotOf(...infra, gateway('same-namespace'), route('matching', `  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /exact } }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /v2/ }, method: POST, queryParams: [{ name: q, value: x }] }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
`));
    const rc = routeConfig(new L7Translation(snap), 'http.80');
    expect(rc.virtualHosts.map((v) => [v.name, v.domains])).toEqual([['*:80', ['*']]]);
    const routes = rc.virtualHosts[0]!.routes;
    expect(routes.map((r) => [r.match!.path || r.match!.pathSeparatedPrefix || r.match!.prefix, r.route?.cluster])).toEqual([
      ['/exact', C('infra-backend-v3')],
      ['/v2', C('infra-backend-v3')], // same prefix length, but method and query win
      ['/v2', C('infra-backend-v2')],
      ['/', C('infra-backend-v2')], // header match beats the bare `/`
      ['/', C('infra-backend-v1')],
    ]);
    expect(routes[1]!.match!.headers![0]).toMatchObject({ name: ':method', stringMatch: { exact: 'POST' } });
    expect(routes[1]!.match!.queryParameters![0]).toMatchObject({ name: 'q', stringMatch: { exact: 'x' } });
    expect(routes[3]!.match!.headers![0]).toMatchObject({ name: 'version', stringMatch: { exact: 'two' } });
  });

  it('splits by weight, an unresolved backend is weft.invalid-backend, all unresolved is a 500 (httproute-weight)', () => {
    const snap = snapshotOf(...infra, gateway('same-namespace'), route('weight', `  rules:
  - matches: [{ path: { type: Exact, value: /w } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080, weight: 70 }, { name: infra-backend-v2, port: 8080, weight: 30 }, { name: missing, port: 8080, weight: 10 }, { name: infra-backend-v3, port: 8080, weight: 0 }]
  - matches: [{ path: { type: Exact, value: /none } }]
    backendRefs: [{ name: missing, port: 8080 }]
`));
    const routes = routeConfig(new L7Translation(snap), 'http.80').virtualHosts[0]!.routes;
    expect(routes[1]!.route!.weightedClusters!.clusters.map((c) => [c.name, c.weight!.value])).toEqual([
      [C('infra-backend-v1'), 70],
      [C('infra-backend-v2'), 30],
      [INVALID_BACKEND, 10],
    ]);
    expect(routes[0]!.directResponse!.status).toBe(500);
  });

  it('redirects and rewrites with ReplacePrefixMatch semantics (httproute-redirect-*, httproute-rewrite-*)', () => {
    const snap = snapshotOf(...infra, gateway('same-namespace'), route('redirect-rewrite', `  rules:
  - matches: [{ path: { type: PathPrefix, value: /scheme } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 301 } }]
  - matches: [{ path: { type: PathPrefix, value: /prefix/one } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplacePrefixMatch, replacePrefixMatch: /two } } }]
  - matches: [{ path: { type: PathPrefix, value: /strip } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /full } }]
    filters: [{ type: URLRewrite, urlRewrite: { hostname: one.example.org, path: { type: ReplaceFullPath, replaceFullPath: /one } } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`));
    const routes = routeConfig(new L7Translation(snap), 'http.80').virtualHosts[0]!.routes;
    const by = (p: string) => routes.find((r) => r.match!.pathSeparatedPrefix === p)!;
    const Code = envoy.config.route.v3.RedirectAction.RedirectResponseCode;
    expect(by('/scheme').redirect).toMatchObject({ schemeRedirect: 'https', portRedirect: 443, responseCode: Code.MOVED_PERMANENTLY });
    expect(by('/prefix/one').redirect).toMatchObject({ hostRedirect: 'example.org', prefixRewrite: '/two', responseCode: Code.FOUND });
    expect(by('/strip').route!.regexRewrite).toMatchObject({ pattern: { regex: '^/strip/*' }, substitution: '/' });
    expect(by('/full').route).toMatchObject({ hostRewriteLiteral: 'one.example.org', regexRewrite: { pattern: { regex: '^/.*$' }, substitution: '/one' } });
  });

  it('modifies headers, mirrors and times out (httproute-request-header-modifier, -request-mirror, -timeout)', () => {
    const snap = snapshotOf(...infra, gateway('same-namespace'), route('headers', `  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }], add: [{ name: X-Header-Add, value: add-appends-values }], remove: [X-Header-Remove] }
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: X-Resp, value: v }] }
    - type: RequestMirror
      requestMirror: { backendRef: { name: infra-backend-v2, port: 8080 }, percent: 25 }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
    timeouts: { request: 500ms }
`));
    const r = routeConfig(new L7Translation(snap), 'http.80').virtualHosts[0]!.routes[0]!;
    const A = envoy.config.core.v3.HeaderValueOption.HeaderAppendAction;
    expect(r.requestHeadersToAdd.map((h) => [h.header!.key, h.header!.value, h.appendAction])).toEqual([
      ['X-Header-Set', 'set-overwrites-values', A.OVERWRITE_IF_EXISTS_OR_ADD],
      ['X-Header-Add', 'add-appends-values', A.APPEND_IF_EXISTS_OR_ADD],
    ]);
    expect(r.requestHeadersToRemove).toEqual(['X-Header-Remove']);
    expect(r.responseHeadersToAdd[0]!.header).toMatchObject({ key: 'X-Resp', value: 'v' });
    expect(r.route!.requestMirrorPolicies[0]).toMatchObject({ cluster: C('infra-backend-v2'), runtimeFraction: { defaultValue: { numerator: 25 } } });
    expect(Number(r.route!.timeout!.seconds)).toBe(0);
    expect(r.route!.timeout!.nanos).toBe(500_000_000);
  });

  it('needs a ReferenceGrant for a backend in another namespace (httproute-reference-grant)', () => {
    const other = `apiVersion: v1
kind: Service
metadata: { name: web-backend, namespace: gateway-conformance-web-backend }
spec: { clusterIP: 10.96.0.9, ports: [{ name: http, port: 8080 }] }
`;
    const r = route('reference-grant', `  rules:
  - backendRefs: [{ name: web-backend, namespace: gateway-conformance-web-backend, port: 8080 }]
`);
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: grant, namespace: gateway-conformance-web-backend }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${NS} }]
  to: [{ group: '', kind: Service }]
`;
    const without = routeConfig(new L7Translation(snapshotOf(...infra, other, gateway('same-namespace'), r)), 'http.80').virtualHosts[0]!.routes[0]!;
    expect(without.directResponse!.status).toBe(500);
    const withGrant = routeConfig(new L7Translation(snapshotOf(...infra, other, grant, gateway('same-namespace'), r)), 'http.80').virtualHosts[0]!.routes[0]!;
    expect(withGrant.route!.cluster).toBe('outbound|8080||web-backend.gateway-conformance-web-backend.svc.cluster.local');
  });

  it('gives each listener hostname its own virtual host, and HTTPS its own chain and route configuration', () => {
    const tls = `  - name: https
    port: 443
    protocol: HTTPS
    hostname: secure.example.com
    tls: { certificateRefs: [{ name: cert }] }
    allowedRoutes: { namespaces: { from: All } }
`;
    const secret = `apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: ${NS} }
type: kubernetes.io/tls
data: { tls.crt: Y2VydA==, tls.key: a2V5 }
`;
    const snap = snapshotOf(...infra, secret, gateway('same-namespace', NS, tls), route('hosts', `  hostnames: [secure.example.com, '*.example.org']
  rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }]
`));
    const l7 = new L7Translation(snap);
    const scope = l7.scope(l7.servedBy({ role: 'gateway', namespace: NS, name: 'x', labels: {} }));
    expect(scope.listeners.map((l) => l.name)).toEqual(['0.0.0.0_443', '0.0.0.0_80']);
    const https = envoy.config.listener.v3.Listener.decode(scope.listeners[0]!.bytes);
    const chain = https.filterChains[0]!;
    expect(chain.filterChainMatch!.serverNames).toEqual(['secure.example.com']);
    const ctx = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.decode(chain.transportSocket!.typedConfig!.value!);
    expect(ctx.commonTlsContext!.tlsCertificateSdsSecretConfigs[0]!.name).toBe(`kubernetes://${NS}/cert`);
    expect(ctx.commonTlsContext!.alpnProtocols).toEqual(['h2', 'http/1.1']);
    const hcm = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.decode(chain.filters[0]!.typedConfig!.value!);
    expect(hcm.rds!.routeConfigName).toBe(`https.443.https.same-namespace.${NS}`);
    expect(hcm.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.router']);
    expect(hcm.upgradeConfigs[0]!.upgradeType).toBe('websocket');
    expect(routeConfig(l7, `https.443.https.same-namespace.${NS}`).virtualHosts.map((v) => v.name)).toEqual(['secure.example.com:443']);
    expect(routeConfig(l7, 'http.80').virtualHosts.map((v) => v.domains)).toEqual([
      ['*.example.org', '*.example.org:80'],
      ['secure.example.com', 'secure.example.com:*'],
    ]);
    const s = envoy.extensions.transport_sockets.tls.v3.Secret.decode(scope.secrets[0]!.bytes);
    expect(new TextDecoder().decode(s.tlsCertificate!.certificateChain!.inlineBytes!)).toBe('cert');
  });

  it('keeps the routes of Gateways on one port but their own addresses apart (http.<port>.<address>)', () => {
    // Two Gateways on port 80, each on its own address, both with a catch-all route: before, both
    // wrote the route configuration `http.80` and the two `*` virtual hosts merged into one.
    const at = (ip: string) => `  addresses: [{ type: IPAddress, value: ${ip} }]\n`;
    const r = (name: string, parent: string, backend: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${NS} }
spec:
  parentRefs: [{ name: ${parent} }]
  rules: [{ backendRefs: [{ name: ${backend}, port: 8080 }] }]
`;
    const snap = snapshotOf(...infra, gateway('a', NS, at('127.0.10.1')), gateway('b', NS, at('127.0.10.2')), gateway('any'), r('ra', 'a', 'infra-backend-v1'), r('rb', 'b', 'infra-backend-v2'), r('rany', 'any', 'infra-backend-v3'));
    const l7 = new L7Translation(snap);
    const scope = l7.scope(l7.servedBy({ role: 'gateway', namespace: NS, name: 'x', labels: {} }));
    const hcmOf = (name: string) => {
      const l = envoy.config.listener.v3.Listener.decode(scope.listeners.find((x) => x.name === name)!.bytes);
      return envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.decode(l.filterChains[0]!.filters[0]!.typedConfig!.value!).rds!.routeConfigName;
    };
    expect(hcmOf('127.0.10.1_80')).toBe('http.80.127.0.10.1');
    expect(hcmOf('127.0.10.2_80')).toBe('http.80.127.0.10.2');
    expect(hcmOf('0.0.0.0_80')).toBe('http.80');
    const clusters = (name: string) => routeConfig(l7, name).virtualHosts.flatMap((v) => v.routes.map((x) => x.route?.cluster));
    expect(clusters('http.80.127.0.10.1')).toEqual([C('infra-backend-v1')]);
    expect(clusters('http.80.127.0.10.2')).toEqual([C('infra-backend-v2')]);
    expect(clusters('http.80')).toEqual([C('infra-backend-v3')]);
  });

  it('matches an exact hostname whatever the Host port (domains host and host:*)', () => {
    const snap = snapshotOf(...infra, gateway('same-namespace'), route('h', `  hostnames: [very.specific.com]
  rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }]
`));
    expect(routeConfig(new L7Translation(snap), 'http.80').virtualHosts.map((v) => v.domains)).toEqual([['very.specific.com', 'very.specific.com:*']]);
  });
});
