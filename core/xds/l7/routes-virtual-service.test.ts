// @ts-nocheck -- decoded messages type repeated fields as nullable (`| null`); the assertions check them at run time.
import { describe, expect, it } from 'vitest';
import { XdsTranslator } from '../translate.ts';
import { RESOURCE_DECODERS } from '../codec.ts';
import { TYPE_URL } from '../type-urls.ts';
import { envoy } from '../pb.ts';
import { L7_TYPE_URL, FILTER } from './names.ts';
import { ISTIO_DEFAULT_RETRY } from './routes-virtual-service.ts';
import { L7Translation } from './translate-l7.ts';
import { pod, snapshotOf, svc } from './l7-fixtures.test-support.ts';

// Istio's bookinfo: reviews v1/v2/v3 behind one Service, a DestinationRule with subsets, VirtualServices.
const bookinfo = [
  svc('reviews', 'default', '10.96.1.1', 9080),
  svc('ratings', 'default', '10.96.1.2', 9080),
  svc('productpage', 'default', '10.96.1.3', 9080),
  pod('reviews-v1', 'default', 'reviews', '10.1.1.1', 'version: v1'),
  pod('reviews-v2', 'default', 'reviews', '10.1.1.2', 'version: v2'),
  pod('reviews-v3', 'default', 'reviews', '10.1.1.3', 'version: v3'),
  pod('ratings-v1', 'default', 'ratings', '10.1.1.4', 'version: v1'),
  `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST }
    connectionPool: { tcp: { maxConnections: 100, connectTimeout: 3s }, http: { http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRetries: 3 } }
    outlierDetection: { consecutive5xxErrors: 7 }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
  - name: v3
    labels: { version: v3 }
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
    fault: { delay: { percentage: { value: 0.1 }, fixedDelay: 7s } }
  - match: [{ uri: { prefix: /old }, ignoreUriCase: true }]
    redirect: { uri: /new, authority: newreviews, redirectCode: 308 }
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 75 }
    - { destination: { host: reviews, subset: v3 }, weight: 25 }
    retries: { attempts: 3, perTryTimeout: 2s, retryOn: '5xx,503' }
    timeout: 10s
    mirror: { host: ratings }
    mirrorPercentage: { value: 50.5 }
    headers: { request: { set: { x-b: '1' } }, response: { remove: [x-internal] } }
    corsPolicy: { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: [GET, POST], maxAge: 24h, allowCredentials: true }
`,
];

describe('VirtualService and DestinationRule (bookinfo)', () => {
  const snap = snapshotOf(...bookinfo);
  const res = new XdsTranslator().translate(snap);
  const get = (type: string, name: string) => {
    const r = res.resources.get(type)!.get(name);
    expect(r, name).toBeDefined();
    return RESOURCE_DECODERS[type]!(r!.bytes) as never;
  };

  it('writes the mesh route configuration <hostname>:<port> in the order written', () => {
    const rc: envoy.config.route.v3.RouteConfiguration = get(TYPE_URL.route, 'reviews.default.svc.cluster.local:9080');
    const vh = rc.virtualHosts[0]!;
    expect(vh.domains).toContain('reviews:9080');
    const [jason, old, split] = vh.routes;
    expect(jason!.match).toMatchObject({ prefix: '/', headers: [{ name: 'end-user', stringMatch: { exact: 'jason' } }] });
    expect(jason!.route!.cluster).toBe('outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(jason!.route!.retryPolicy).toMatchObject({ retryOn: ISTIO_DEFAULT_RETRY.retryOn, numRetries: { value: 2 }, retriableStatusCodes: [503] });
    const fc = envoy.config.route.v3.FilterConfig.decode(jason!.typedPerFilterConfig[FILTER.fault]!.value!);
    expect(fc.isOptional).toBe(true);
    expect(fc.config!.typeUrl).toBe(L7_TYPE_URL.fault);
    const fault = envoy.extensions.filters.http.fault.v3.HTTPFault.decode(fc.config!.value!);
    expect(Number(fault.delay!.fixedDelay!.seconds)).toBe(7);
    expect(fault.delay!.percentage).toMatchObject({ numerator: 1000, denominator: envoy.type.v3.FractionalPercent.DenominatorType.MILLION });

    expect(old!.match).toMatchObject({ prefix: '/old', caseSensitive: { value: false } });
    expect(old!.redirect).toMatchObject({ pathRedirect: '/new', hostRedirect: 'newreviews', responseCode: envoy.config.route.v3.RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT });

    const a = split!.route!;
    expect(a.weightedClusters!.clusters.map((c) => [c.name, c.weight!.value])).toEqual([
      ['outbound|9080|v1|reviews.default.svc.cluster.local', 75],
      ['outbound|9080|v3|reviews.default.svc.cluster.local', 25],
    ]);
    expect(a.retryPolicy).toMatchObject({ retryOn: '5xx,retriable-status-codes', numRetries: { value: 3 }, retriableStatusCodes: [503] });
    expect(Number(a.retryPolicy!.perTryTimeout!.seconds)).toBe(2);
    expect(Number(a.timeout!.seconds)).toBe(10);
    expect(a.requestMirrorPolicies[0]).toMatchObject({ cluster: 'outbound|9080||ratings.default.svc.cluster.local', runtimeFraction: { defaultValue: { numerator: 505000 } } });
    expect(split!.requestHeadersToAdd[0]!.header).toMatchObject({ key: 'x-b', value: '1' });
    expect(split!.responseHeadersToRemove).toEqual(['x-internal']);
    const cors = envoy.extensions.filters.http.cors.v3.CorsPolicy.decode(envoy.config.route.v3.FilterConfig.decode(split!.typedPerFilterConfig[FILTER.cors]!.value!).config!.value!);
    expect(cors).toMatchObject({ allowMethods: 'GET,POST', maxAge: '86400', allowCredentials: { value: true } });
    expect(cors.allowOriginStringMatch[0]!.exact).toBe('https://example.com');
  });

  it('makes subset clusters with the rule policy, Istio outlier defaults, and subset endpoints with metadata', () => {
    const base: envoy.config.cluster.v3.Cluster = get(TYPE_URL.cluster, 'outbound|9080||reviews.default.svc.cluster.local');
    const C = envoy.config.cluster.v3.Cluster;
    expect(base.lbPolicy).toBe(C.LbPolicy.LEAST_REQUEST);
    expect(Number(base.connectTimeout!.seconds)).toBe(3);
    expect(base.circuitBreakers!.thresholds[0]).toMatchObject({ maxConnections: { value: 100 }, maxPendingRequests: { value: 10 }, maxRequests: { value: 1000 }, maxRetries: { value: 3 } });
    const od = base.outlierDetection!;
    expect(od).toMatchObject({ consecutive_5xx: { value: 7 }, enforcingConsecutive_5xx: { value: 100 }, maxEjectionPercent: { value: 10 } });
    expect([Number(od.interval!.seconds), Number(od.baseEjectionTime!.seconds)]).toEqual([10, 30]);
    const v3: envoy.config.cluster.v3.Cluster = get(TYPE_URL.cluster, 'outbound|9080|v3|reviews.default.svc.cluster.local');
    expect(v3.lbPolicy).toBe(C.LbPolicy.RING_HASH);
    expect(v3.edsClusterConfig!.serviceName).toBe('outbound|9080|v3|reviews.default.svc.cluster.local');
    const cla: envoy.config.endpoint.v3.ClusterLoadAssignment = get(TYPE_URL.endpoint, 'outbound|9080|v2|reviews.default.svc.cluster.local');
    const eps = cla.endpoints.flatMap((l) => l.lbEndpoints);
    expect(eps.map((e) => e.endpoint!.address!.socketAddress!.address)).toEqual(['10.1.1.2']);
    const md = eps[0]!.metadata!.filterMetadata;
    expect(md['istio']!.fields['workload']!.stringValue).toBe('reviews-v2;default;reviews;v2;Kubernetes');
    expect(md['weft']!.fields['identity']!.stringValue).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(md['weft']!.fields['tunnel']!.stringValue).toBe('NONE');
    expect(md['weft']!.fields['labels']!.structValue!.fields['version']!.stringValue).toBe('v2');
  });

  it('encodes and decodes every emitted resource through the static module', () => {
    const l7 = new L7Translation(snap);
    let n = 0;
    for (const [type, map] of res.resources) {
      for (const r of map.values()) {
        const decoded = RESOURCE_DECODERS[type]!(r.bytes);
        const again = (Object.values({ [TYPE_URL.listener]: envoy.config.listener.v3.Listener, [TYPE_URL.route]: envoy.config.route.v3.RouteConfiguration, [TYPE_URL.cluster]: envoy.config.cluster.v3.Cluster, [TYPE_URL.endpoint]: envoy.config.endpoint.v3.ClusterLoadAssignment })
          .find((_, i) => [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint][i] === type) as { encode(m: object): { finish(): Uint8Array } } | undefined);
        if (again) expect(new Uint8Array(again.encode(decoded).finish())).toEqual(new Uint8Array(r.bytes));
        n++;
      }
    }
    for (const r of Object.values(l7.scope([]))) expect(r).toEqual([]);
    expect(n).toBeGreaterThan(20);
  });
});

describe('Istio Gateway servers bound to an address', () => {
  it('give a bound server its own route configuration http.<port>.<bind>, so two Gateways on port 80 do not merge', () => {
    const gw = (name: string, bind: string, host: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, bind: ${bind}, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: default }
spec:
  hosts: ["${host}"]
  gateways: [${name}]
  http: [{ route: [{ destination: { host: ${name === 'a' ? 'reviews' : 'ratings'} } }] }]
`;
    const l7 = new L7Translation(snapshotOf(...bookinfo, gw('a', '127.0.20.1', 'example.com'), gw('b', '127.0.20.2', 'example.com')));
    const scope = l7.scope(l7.servedBy({ role: 'gateway', namespace: 'default', name: 'x', labels: { istio: 'ingressgateway' } }));
    expect(scope.routes.map((r) => r.name).sort()).toEqual(['http.80.127.0.20.1', 'http.80.127.0.20.2']);
    const clusterOf = (name: string) => {
      const rc = envoy.config.route.v3.RouteConfiguration.decode(scope.routes.find((r) => r.name === name)!.bytes);
      return rc.virtualHosts.flatMap((v) => v.routes.map((r) => r.route?.cluster));
    };
    expect(clusterOf('http.80.127.0.20.1')).toEqual(['outbound|9080||reviews.default.svc.cluster.local']);
    expect(clusterOf('http.80.127.0.20.2')).toEqual(['outbound|9080||ratings.default.svc.cluster.local']);
  });
});
