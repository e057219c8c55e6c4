import { describe, expect, it } from 'vitest';
import { hashString } from '../lb/hash.ts';
import { seededRandom } from '../lb/seeded-random.ts';
import { envoy } from '../xds/pb.ts';
import { compileCluster, compileClusters } from './clusters.ts';

const C = envoy.config.cluster.v3.Cluster;
const CLA = envoy.config.endpoint.v3.ClusterLoadAssignment;
const any = (typeUrl: string, value: Uint8Array) => ({ typeUrl: `type.googleapis.com/${typeUrl}`, value });
const str = (s: string) => ({ stringValue: s });

function assignment(name: string, eps: Array<{ ip: string; port?: number; health?: number; weight?: number; priority?: number; hbone?: boolean }>) {
  const byPriority = new Map<number, typeof eps>();
  for (const e of eps) byPriority.set(e.priority ?? 0, [...(byPriority.get(e.priority ?? 0) ?? []), e]);
  return {
    clusterName: name,
    endpoints: [...byPriority].map(([priority, list]) => ({
      priority,
      locality: { region: 'r1', zone: 'z1' },
      lbEndpoints: list.map((e) => ({
        endpoint: { address: { socketAddress: { address: e.ip, portValue: e.port ?? 8080 } } },
        healthStatus: e.health ?? 1,
        ...(e.weight ? { loadBalancingWeight: { value: e.weight } } : {}),
        metadata: {
          filterMetadata: {
            istio: { fields: { workload: str(`pod-${e.ip};shop;cart;v1;Kubernetes`) } },
            weft: { fields: { identity: str('spiffe://cluster.local/ns/shop/sa/cart'), tunnel: str(e.hbone === false ? 'NONE' : 'HBONE'), labels: { structValue: { fields: { app: str('cart') } } } } },
          },
        },
      })),
    })),
  };
}

describe('clusters', () => {
  it('compiles a Cluster and its assignment decoded from the wire', () => {
    const name = 'outbound|80||cart.shop.svc.cluster.local';
    const h2 = envoy.extensions.upstreams.http.v3.HttpProtocolOptions.encode({ explicitHttpConfig: { http2ProtocolOptions: {} } }).finish();
    const tls = envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.encode({ sni: 'api.external.com', commonTlsContext: { alpnProtocols: ['h2'] } }).finish();
    const cluster = C.decode(C.encode({
      name,
      type: C.DiscoveryType.EDS,
      edsClusterConfig: { serviceName: name },
      lbPolicy: C.LbPolicy.LEAST_REQUEST,
      connectTimeout: { seconds: 2, nanos: 500_000_000 },
      circuitBreakers: { thresholds: [{ maxConnections: { value: 10 }, maxRequests: { value: 20 } }] },
      outlierDetection: { consecutive_5xx: { value: 2 }, interval: { seconds: 1 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 50 } },
      typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any('envoy.extensions.upstreams.http.v3.HttpProtocolOptions', h2) },
      transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: any('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', tls) },
    }).finish());
    const cla = CLA.decode(CLA.encode(assignment(name, [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', health: 2 }, { ip: '10.0.0.3', weight: 5, hbone: false }])).finish());
    const u = compileClusters([cluster], [cla], { random: seededRandom(1) }).get(name)!;
    expect(u.discovery).toBe('eds');
    expect(u.lbPolicy).toBe('least-request');
    expect(u.connectTimeoutMs).toBe(2500);
    expect(u.limits).toEqual({ maxConnections: 10, maxPendingRequests: 1024, maxRequests: 20, maxRetries: 3 });
    expect(u.http2).toBe(true);
    expect(u.tls).toEqual({ sni: 'api.external.com', alpn: ['h2'] });
    expect(u.outlier!.config).toMatchObject({ consecutive5xx: 2, intervalMs: 1000, baseEjectionMs: 30_000, maxEjectionPercent: 50 });
    expect(u.endpoints.map((e) => [e.key, e.healthy, e.tunnel, e.weight])).toEqual([
      ['10.0.0.1:8080', true, 'HBONE', 1],
      ['10.0.0.2:8080', false, 'HBONE', 1],
      ['10.0.0.3:8080', true, 'NONE', 5],
    ]);
    expect(u.endpoints[0]).toMatchObject({
      identity: 'spiffe://cluster.local/ns/shop/sa/cart',
      workload: { name: 'pod-10.0.0.1', namespace: 'shop', canonicalName: 'cart', revision: 'v1', cluster: 'Kubernetes' },
      labels: { app: 'cart' },
      locality: { region: 'r1', zone: 'z1', subZone: '' },
    });
    for (let i = 0; i < 50; i++) expect(u.pick()!.key).not.toBe('10.0.0.2:8080');
  });

  it('ejects an outlier from picks and brings it back after the ejection time (fake clock)', () => {
    const cluster = { name: 'c', type: 0, lbPolicy: 0, outlierDetection: { consecutive_5xx: { value: 3 }, interval: { seconds: 10 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 100 } } };
    const u = compileCluster({ ...cluster, loadAssignment: assignment('c', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]) }, undefined);
    expect(new Set(Array.from({ length: 4 }, () => u.pick()!.key)).size).toBe(2);
    for (let i = 0; i < 3; i++) u.outlier!.report('10.0.0.1:8080', 503, 1000);
    expect(Array.from({ length: 4 }, () => u.pick()!.key)).toEqual(Array(4).fill('10.0.0.2:8080'));
    u.outlier!.tick(11_000);
    u.outlier!.tick(21_000);
    u.outlier!.tick(30_999);
    expect(u.eligible.length).toBe(1);
    u.outlier!.tick(31_000); // ejected at 1 s for 30 s; the sweep due at 31 s returns it
    expect(u.eligible.length).toBe(2);
    // Recompiling (an EDS push) keeps the detector and its counts.
    const again = compileCluster({ ...cluster, loadAssignment: assignment('c', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.9' }]) }, undefined, { previous: u });
    expect(again.outlier).toBe(u.outlier);
    expect(again.outlier!.ejections('10.0.0.1:8080')).toBe(1);
  });

  it('ring hash and maglev follow the route hash; priorities and panic mode', () => {
    for (const lbPolicy of [C.LbPolicy.RING_HASH, C.LbPolicy.MAGLEV]) {
      const u = compileCluster({ name: 'h', lbPolicy, loadAssignment: assignment('h', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]) }, undefined);
      const h = hashString('alice');
      const first = u.pick(h)!.key;
      for (let i = 0; i < 10; i++) expect(u.pick(h)!.key).toBe(first);
      const spread = new Set(Array.from({ length: 200 }, (_, i) => u.pick(hashString(`u${i}`))!.key));
      expect(spread.size).toBe(3);
    }
    const prio = compileCluster({ name: 'p', loadAssignment: assignment('p', [{ ip: '10.0.0.1', priority: 1 }, { ip: '10.0.0.2', priority: 0, health: 2 }, { ip: '10.0.0.3', priority: 0 }]) }, undefined);
    // Priority 0 has one healthy of two: 50% is not below the panic threshold, so only .3 is picked.
    expect(new Set(Array.from({ length: 6 }, () => prio.pick()!.key))).toEqual(new Set(['10.0.0.3:8080']));
    const failover = compileCluster({ name: 'f', loadAssignment: assignment('f', [{ ip: '10.0.0.1', priority: 1 }, { ip: '10.0.0.2', priority: 0, health: 2 }]) }, undefined);
    expect(failover.pick()!.key).toBe('10.0.0.1:8080');
    const panic = compileCluster({ name: 'x', loadAssignment: assignment('x', [{ ip: '10.0.0.1', health: 2 }, { ip: '10.0.0.2', health: 2 }, { ip: '10.0.0.3' }]) }, undefined);
    expect(new Set(Array.from({ length: 9 }, () => panic.pick()!.key)).size).toBe(3);
    const noPanic = compileCluster({ name: 'x', commonLbConfig: { healthyPanicThreshold: { value: 0 } }, loadAssignment: assignment('x', [{ ip: '10.0.0.1', health: 2 }, { ip: '10.0.0.3' }]) }, undefined);
    expect(new Set(Array.from({ length: 4 }, () => noPanic.pick()!.key))).toEqual(new Set(['10.0.0.3:8080']));
    const none = compileCluster({ name: 'n', commonLbConfig: { healthyPanicThreshold: { value: 0 } }, loadAssignment: assignment('n', [{ ip: '10.0.0.1', health: 2 }]) }, undefined);
    expect(none.pick()).toBeUndefined();
  });

  it('refuses what it does not support, with the cluster named', () => {
    expect(() => compileCluster({ name: 'z', lbPolicy: C.LbPolicy.CLUSTER_PROVIDED }, undefined)).toThrow(/cluster "z"\.lb_policy/);
    expect(() => compileCluster({ name: 'z', transportSocket: { name: 'x', typedConfig: any('some.Other', new Uint8Array()) } }, undefined)).toThrow(/transport socket/);
  });
});
