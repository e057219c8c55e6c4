import { describe, expect, it } from 'vitest';
import { analyzeFiles } from '../config/analyze.ts';
import { SAMPLE_FILES } from '../config/sample/index.ts';
import type { MeshSnapshot } from '../config/snapshot.ts';
import { envoy, google } from './pb.ts';
import { XdsTranslator } from './translate.ts';
import { TYPE_URL } from './type-urls.ts';
import type { EncodedResource } from './encoded-resource.ts';
import { gateway, infra, pod, snapshotOf, svc } from './l7/l7-fixtures.test-support.ts';
import { resourceFromJson, resourceToJson } from './rest-json.ts';
import { messageFromJson, messageToJson } from './proto3-json.ts';

const NS = 'gateway-conformance-infra';

/** L7 shapes beside the sample's: TLS listener and Secret, filters, VirtualService policy, DestinationRule, L7 authz and JWT. */
const L7_DOCS = [
  ...infra,
  svc('reviews', 'default', '10.96.1.1', 9080),
  pod('reviews-v1', 'default', 'reviews', '10.1.1.1', 'version: v1'),
  pod('reviews-v2', 'default', 'reviews', '10.1.1.2', 'version: v2'),
  `apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: ${NS} }
type: kubernetes.io/tls
data: { tls.crt: Y2VydA==, tls.key: a2V5 }
`,
  gateway('same-namespace', NS, `  - name: https
    port: 443
    protocol: HTTPS
    hostname: secure.example.com
    tls: { mode: Terminate, certificateRefs: [{ name: cert }] }
    allowedRoutes: { namespaces: { from: All } }
`),
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: filters, namespace: ${NS} }
spec:
  parentRefs: [{ name: same-namespace }]
  hostnames: [secure.example.com, '*.example.org']
  rules:
  - matches: [{ path: { type: PathPrefix, value: /a }, headers: [{ name: x-v, value: '1' }], queryParams: [{ name: q, value: z }] }]
    filters:
    - { type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-a, value: b }], remove: [x-c] } }
    - { type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /b } } }
    backendRefs: [{ name: infra-backend-v1, port: 8080, weight: 3 }, { name: infra-backend-v2, port: 8080, weight: 1 }]
    timeouts: { request: 1500ms }
  - matches: [{ path: { type: Exact, value: /r } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 301 } }]
`,
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST }
    connectionPool: { tcp: { maxConnections: 100, connectTimeout: 3s }, http: { http1MaxPendingRequests: 10, maxRetries: 3 } }
    outlierDetection: { consecutive5xxErrors: 7, interval: 10s, baseEjectionTime: 30s }
    tls: { mode: SIMPLE, sni: reviews.example }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
`,
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    fault: { delay: { percentage: { value: 0.1 }, fixedDelay: 7s }, abort: { percentage: { value: 5 }, httpStatus: 503 } }
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 75 }
    - { destination: { host: reviews, subset: v2 }, weight: 25 }
    retries: { attempts: 3, perTryTimeout: 2.5s, retryOn: '5xx,503' }
    timeout: 10s
    headers: { request: { set: { x-b: '1' } }, response: { remove: [x-internal] } }
    corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: [GET, POST], maxAge: 24h, allowCredentials: true }
`,
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: ${NS} }
spec:
  targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: same-namespace }]
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin*], methods: [POST] } }], from: [{ source: { notPrincipals: ['cluster.local/ns/a/sa/b'] } }] }]
`,
  `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: ${NS} }
spec:
  targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: same-namespace }]
  jwtRules: [{ issuer: "https://issuer.example", jwks: '{"keys":[]}' }]
`,
];

/** Every resource the translator emits for a snapshot: the mesh-wide ones and each gateway's and waypoint's scope. */
function everything(snapshot: MeshSnapshot): { typeUrl: string; r: EncodedResource }[] {
  const res = new XdsTranslator().translate(snapshot);
  const out: { typeUrl: string; r: EncodedResource }[] = [];
  for (const [typeUrl, byName] of res.resources) for (const r of byName.values()) out.push({ typeUrl, r });
  const l7 = res.l7!;
  for (const key of l7.gatewayKeys) {
    const [, namespace, name] = key.split('/');
    const scoped = l7.scope(l7.servedBy({ role: key.startsWith('waypoint/') ? 'waypoint' : 'gateway', namespace: namespace!, name: name!, labels: { istio: 'ingressgateway', 'gateway.networking.k8s.io/gateway-name': name! } }));
    for (const r of scoped.listeners) out.push({ typeUrl: TYPE_URL.listener, r });
    for (const r of scoped.routes) out.push({ typeUrl: TYPE_URL.route, r });
    for (const r of scoped.secrets) out.push({ typeUrl: TYPE_URL.secret, r });
    for (const r of scoped.plugins) out.push({ typeUrl: TYPE_URL.extensionConfig, r });
  }
  for (const w of snapshot.workloads) for (const r of res.nodePlugins?.(w.node ?? '') ?? []) out.push({ typeUrl: TYPE_URL.extensionConfig, r });
  return out;
}

function roundTrips(label: string, snapshot: MeshSnapshot, mustHave: string[]): void {
  const all = everything(snapshot);
  it(`${label}: every emitted resource survives bytes -> JSON -> bytes unchanged`, () => {
    for (const t of mustHave) expect(all.some((x) => x.typeUrl === t), t).toBe(true);
    for (const { typeUrl, r } of all) {
      const json = resourceToJson(typeUrl, r.bytes);
      expect(json['@type']).toBe(typeUrl);
      // Through text, as it travels.
      const back = resourceFromJson(JSON.parse(JSON.stringify(json)));
      expect(back.typeUrl).toBe(typeUrl);
      expect(back.name, `${typeUrl} ${r.name}`).toBe(r.name);
      // The static encoder writes fields in number order, so the same message has the same bytes.
      expect(Buffer.from(back.bytes).toString('hex'), `${typeUrl} ${r.name}`).toBe(Buffer.from(r.bytes).toString('hex'));
    }
  });
}

describe('resourceToJson / resourceFromJson', () => {
  roundTrips('embedded sample', analyzeFiles(SAMPLE_FILES).snapshot, [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.address, TYPE_URL.extensionConfig, TYPE_URL.authorization, TYPE_URL.meshConfig]);
  roundTrips('L7 fixtures', snapshotOf(...L7_DOCS), [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret]);

  it('writes proto3 JSON: camelCase, nested Any with @type, enums by name, int64 as strings, durations, Struct as JSON', () => {
    const all = everything(snapshotOf(...L7_DOCS));
    const find = (typeUrl: string, pred: (j: Record<string, unknown>) => boolean) => all.map((x) => x.typeUrl === typeUrl && resourceToJson(typeUrl, x.r.bytes)).find((j) => j && pred(j)) as Record<string, any>;
    const cluster = find(TYPE_URL.cluster, (j) => String(j['name']).includes('|v1|reviews'));
    expect(cluster).toMatchObject({ '@type': TYPE_URL.cluster, type: 'EDS', lbPolicy: 'LEAST_REQUEST', connectTimeout: '3s' });
    expect(cluster['outlierDetection']).toMatchObject({ consecutive5xx: 7, interval: '10s', baseEjectionTime: '30s' });
    const https = find(TYPE_URL.listener, (j) => j['name'] === '0.0.0.0_443');
    const chain = https['filterChains'][0];
    expect(chain.transportSocket.typedConfig['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    const hcm = chain.filters[0].typedConfig;
    expect(hcm['@type']).toBe('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    expect(hcm.rds.routeConfigName).toBe(`https.443.https.same-namespace.${NS}`);
    expect(hcm.httpFilters.at(-1)).toMatchObject({ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } });
    const routes = find(TYPE_URL.route, (j) => j['name'] === 'reviews.default.svc.cluster.local:9080');
    const split = routes['virtualHosts'][0].routes[1];
    expect(split.route.timeout).toBe('10s');
    expect(split.route.retryPolicy.perTryTimeout).toBe('2.500s');
    expect(split.route.weightedClusters.clusters.map((c: { weight: number }) => c.weight)).toEqual([75, 25]);
    const secret = find(TYPE_URL.secret, () => true);
    expect(secret['tlsCertificate'].privateKey.inlineBytes).toBe('a2V5');
    const sample = everything(analyzeFiles(SAMPLE_FILES).snapshot);
    const plugin = sample.find((x) => x.typeUrl === TYPE_URL.extensionConfig)!;
    const pj = resourceToJson(plugin.typeUrl, plugin.r.bytes) as Record<string, any>;
    expect(pj['typedConfig']['@type']).toBe('type.googleapis.com/xds.type.v3.TypedStruct');
    expect(pj['typedConfig'].value).toMatchObject({ url: 'file:///builtin/rate-limit.wasm' }); // a Struct is plain JSON
  });

  it('handles the well-known types and 64-bit integers by the spec', () => {
    const d = (s: number, n: number) => messageToJson('google.protobuf.Duration', google.protobuf.Duration.decode(google.protobuf.Duration.encode({ seconds: s, nanos: n }).finish()));
    expect([d(1, 500_000_000), d(0, 0), d(3, 1000), d(-2, -5), d(7, 0)]).toEqual(['1.500s', '0s', '3.000001s', '-2.000000005s', '7s']);
    expect(messageFromJson('google.protobuf.Duration', '-1.5s')).toEqual({ seconds: -1, nanos: -500_000_000 });
    expect(messageToJson('google.protobuf.UInt32Value', { value: 7 })).toBe(7);
    expect(messageToJson('google.protobuf.UInt64Value', { value: 2 ** 40 })).toBe(String(2 ** 40));
    expect(messageFromJson('google.protobuf.UInt64Value', '12')).toEqual({ value: 12 });
    const v = messageFromJson('google.protobuf.Struct', { a: [1, 'x', null, { b: true }] });
    const bytes = google.protobuf.Struct.encode(v).finish();
    expect(messageToJson('google.protobuf.Struct', google.protobuf.Struct.decode(bytes))).toEqual({ a: [1, 'x', null, { b: true }] });
    // An Any of a well-known type keeps its JSON under "value".
    const anyJson = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' };
    const any = messageFromJson('google.protobuf.Any', anyJson);
    expect(messageToJson('google.protobuf.Any', any)).toEqual(anyJson);
  });

  it('rejects bad input with the field path', () => {
    expect(() => resourceFromJson({ name: 'x' })).toThrow(/@type/);
    expect(() => resourceFromJson({ '@type': 'type.googleapis.com/no.Such' })).toThrow(/no proto3 JSON codec/);
    expect(() => resourceFromJson({ '@type': TYPE_URL.cluster, name: 'c', nope: 1 })).toThrow(/Cluster has no field "nope"/);
    expect(() => resourceFromJson({ '@type': TYPE_URL.cluster, name: 'c', lbPolicy: 'SOMETIMES' })).toThrow(/lbPolicy.*SOMETIMES/);
    expect(() => resourceFromJson({ '@type': TYPE_URL.cluster, name: 'c', connectTimeout: '3 seconds' })).toThrow(/connectTimeout.*duration/);
    expect(() => resourceFromJson({ '@type': TYPE_URL.cluster, name: 7 })).toThrow(/name: expected a string/);
  });

  it('parses enums by number and fields by their proto name too', () => {
    const c = resourceFromJson({ '@type': TYPE_URL.cluster, name: 'c', lbPolicy: 1, connect_timeout: '1s' });
    const m = envoy.config.cluster.v3.Cluster.decode(c.bytes);
    expect(m.lbPolicy).toBe(1);
    expect(Number(m.connectTimeout!.seconds)).toBe(1);
  });
});
