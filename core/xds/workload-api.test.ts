import { describe, expect, it } from 'vitest';
import { authorizationPolicy, buildSnapshot } from '../../test/support/mesh-fixture.ts';
import { istio } from './pb.ts';
import { TYPE_URL } from './type-urls.ts';
import { XdsTranslator } from './translate.ts';

const decodeAddress = (bytes: Uint8Array) => istio.workload.Address.decode(bytes);

describe('workload API translation', () => {
  const snap = buildSnapshot(
    3,
    [
      {
        name: 'reviews',
        vip: '10.96.0.10',
        ports: [
          { port: 9080, name: 'http', targetPort: 'http-alt' },
          { port: 9443, name: 'grpc-x', targetPort: 8443 },
        ],
        backends: [
          { name: 'reviews-1', ip: '10.0.0.11', node: 'n1', serviceAccount: 'bookinfo-reviews', namedPorts: { 'http-alt': 8080 }, labels: { app: 'reviews', v: '1' } },
          { name: 'reviews-2', ip: 'fd00::12', node: 'n2', healthy: false, labels: { app: 'reviews', v: '2' }, locality: { region: 'eu', zone: 'a', subzone: '' } },
        ],
        waypoint: { namespace: 'default', name: 'waypoint' },
      },
      { name: 'waypoint', vip: '10.96.0.99', ports: [{ port: 15008 }] },
    ],
    {
      mesh: { trustDomain: 'example.org', network: 'net1' },
      policies: [
        authorizationPolicy('default', 'ns-wide', {}),
        authorizationPolicy('default', 'v1-only', { selector: { matchLabels: { v: '1' } } }),
        authorizationPolicy('istio-system', 'mesh-selector', { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY' }),
        authorizationPolicy('other', 'elsewhere', { selector: { matchLabels: { app: 'reviews' } } }),
      ],
    },
  );
  const out = new XdsTranslator().translate(snap);
  const addresses = out.resources.get(TYPE_URL.address)!;

  it('names workloads by uid and services by namespace/hostname', () => {
    expect([...addresses.keys()].sort()).toEqual([
      'Kubernetes//Pod/default/reviews-1',
      'Kubernetes//Pod/default/reviews-2',
      'default/reviews.default.svc.cluster.local',
      'default/waypoint.default.svc.cluster.local',
    ]);
    expect(out.version).toBe('3');
  });

  it('fills the Workload fields as istiod does', () => {
    const w = decodeAddress(addresses.get('Kubernetes//Pod/default/reviews-1')!.bytes).workload!;
    expect(w).toMatchObject({
      uid: 'Kubernetes//Pod/default/reviews-1',
      name: 'reviews-1',
      namespace: 'default',
      network: 'net1',
      tunnelProtocol: istio.workload.TunnelProtocol.HBONE,
      trustDomain: 'example.org',
      serviceAccount: 'bookinfo-reviews',
      node: 'n1',
      canonicalName: 'reviews',
      workloadName: 'reviews-1',
      status: istio.workload.WorkloadStatus.HEALTHY,
      clusterId: 'Kubernetes',
    });
    expect(Array.from(w.addresses![0]!)).toEqual([10, 0, 0, 11]);
    // The named target port resolves per workload.
    expect(w.services!['default/reviews.default.svc.cluster.local']!.ports).toEqual([
      expect.objectContaining({ servicePort: 9080, targetPort: 8080 }),
      expect.objectContaining({ servicePort: 9443, targetPort: 8443 }),
    ]);
    // Selector policies of its namespace and the root namespace, sorted; never another namespace's.
    expect(w.authorizationPolicies).toEqual(['default/v1-only', 'istio-system/mesh-selector']);
    expect(w.waypoint).toBeFalsy();
  });

  it('marks unhealthy workloads, IPv6 addresses, locality; leaves out a named port the workload lacks', () => {
    const w = decodeAddress(addresses.get('Kubernetes//Pod/default/reviews-2')!.bytes).workload!;
    expect(w.status).toBe(istio.workload.WorkloadStatus.UNHEALTHY);
    expect(w.addresses![0]!.length).toBe(16);
    expect(w.locality).toMatchObject({ region: 'eu', zone: 'a' });
    expect(w.authorizationPolicies).toEqual(['istio-system/mesh-selector']);
    expect(w.services!['default/reviews.default.svc.cluster.local']!.ports!.map((p) => p.servicePort)).toEqual([9443]);
  });

  it('carries address ranges and DNS-only workloads', () => {
    const t = new XdsTranslator().translate(
      buildSnapshot(1, [{ name: 'ext', source: 'ServiceEntry', hostname: 'api.example.com', vip: '192.168.0.0/24', ports: [{ port: 443 }], backends: [{ name: 'ext-1', ip: 'api.example.com' }] }]),
    );
    const s = decodeAddress(t.resources.get(TYPE_URL.address)!.get('default/api.example.com')!.bytes).service!;
    expect(s.addresses!.map((a) => [Array.from(a.address!), a.length])).toEqual([[[192, 168, 0, 0], 24]]);
    const w = decodeAddress(t.resources.get(TYPE_URL.address)!.get('Kubernetes//Pod/default/ext-1')!.bytes).workload!;
    expect(w.hostname).toBe('api.example.com');
    expect(w.addresses).toEqual([]);
    // Not an IP literal: no EDS endpoint for proxyless gRPC.
    expect(t.resources.get(TYPE_URL.endpoint)!.get('outbound|443||api.example.com')!.bytes.length).toBeLessThan(40);
  });

  it('elides the cluster.local trust domain', () => {
    const plain = new XdsTranslator().translate(buildSnapshot(1, [{ name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] }]));
    const w = decodeAddress(plain.resources.get(TYPE_URL.address)!.get('Kubernetes//Pod/default/a-1')!.bytes).workload!;
    expect(w.trustDomain).toBe('');
  });

  it('fills the Service fields', () => {
    const s = decodeAddress(addresses.get('default/reviews.default.svc.cluster.local')!.bytes).service!;
    expect(s).toMatchObject({ name: 'reviews', namespace: 'default', hostname: 'reviews.default.svc.cluster.local' });
    expect(s.addresses!.map((a) => [a.network, Array.from(a.address!)])).toEqual([['net1', [10, 96, 0, 10]]]);
    expect(s.ports).toEqual([
      expect.objectContaining({ servicePort: 9080, targetPort: 0, appProtocol: istio.workload.AppProtocol.HTTP11 }),
      expect.objectContaining({ servicePort: 9443, targetPort: 8443, appProtocol: istio.workload.AppProtocol.GRPC }),
    ]);
    // The waypoint by its Service's VIP, on the HBONE port.
    expect(Array.from(s.waypoint!.address!.address!)).toEqual([10, 96, 0, 99]);
    expect(s.waypoint!.hboneMtlsPort).toBe(15008);
  });

  it('serves each AuthorizationPolicy as namespace/name', () => {
    const authz = out.resources.get(TYPE_URL.authorization)!;
    expect([...authz.keys()].sort()).toEqual(['default/ns-wide', 'default/v1-only', 'istio-system/mesh-selector', 'other/elsewhere']);
    const a = istio.security.Authorization.decode(authz.get('istio-system/mesh-selector')!.bytes);
    expect(a).toMatchObject({ name: 'mesh-selector', namespace: 'istio-system', scope: istio.security.Scope.WORKLOAD_SELECTOR, action: istio.security.Action.DENY });
  });

  it('reports policies node proxies cannot enforce as written', () => {
    const t = new XdsTranslator().translate(
      buildSnapshot(1, [], { policies: [authorizationPolicy('default', 'l7', { rules: [{ to: [{ operation: { paths: ['/x'] } }] }] })] }),
    );
    expect(t.warnings).toEqual([expect.objectContaining({ severity: 'warning', file: 'policies/l7.yaml', resource: { kind: 'AuthorizationPolicy', namespace: 'default', name: 'l7' } })]);
  });
});
