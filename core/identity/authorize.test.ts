import { describe, expect, test } from 'vitest';
import type { ConfigResource, MeshSettings, WorkloadInfo } from '../config/snapshot.ts';
import { SERVICE_ACCOUNT_ANNOTATION, authorizeCsr, describeCaller, gatewayIdentity, type AuthzSnapshot, type Caller } from './authorize.ts';

const mesh: MeshSettings = {
  trustDomain: 'cluster.local',
  trustDomainAliases: ['old.local'],
  outboundTrafficPolicy: 'ALLOW_ANY',
  clusterId: 'Kubernetes',
  network: '',
  domainSuffix: 'cluster.local',
  rootCa: { source: 'state' },
  rootNamespace: 'istio-system',
};

function workload(name: string, ns: string, sa: string, node: string): WorkloadInfo {
  return {
    uid: `Kubernetes//Pod/${ns}/${name}`,
    name,
    namespace: ns,
    kind: 'Pod',
    addresses: ['10.0.0.1'],
    node,
    serviceAccount: sa,
    identity: `spiffe://cluster.local/ns/${ns}/sa/${sa}`,
    labels: {},
    canonicalName: name,
    canonicalRevision: 'latest',
    workloadName: name,
    tunnelProtocol: 'HBONE',
    services: [],
    namedPorts: {},
    healthy: true,
    network: '',
    clusterId: 'Kubernetes',
  };
}

function gateway(apiVersion: string, ns: string, name: string, annotations: Record<string, string> = {}): ConfigResource {
  return { apiVersion, kind: 'Gateway', metadata: { name, namespace: ns, labels: {}, annotations }, spec: {}, origin: { file: 'gw.yaml', line: 1 } };
}

const snapshot: AuthzSnapshot = {
  mesh,
  workloads: [workload('sleep-1', 'default', 'sleep', 'node-a'), workload('httpbin-1', 'default', 'httpbin', 'node-b'), workload('httpbin-2', 'default', 'httpbin', 'node-c')],
  resources: new Map([
    [
      'Gateway',
      [
        gateway('gateway.networking.k8s.io/v1', 'ingress', 'public', { [SERVICE_ACCOUNT_ANNOTATION]: 'public-istio' }),
        gateway('networking.istio.io/v1', 'ingress', 'legacy', { [SERVICE_ACCOUNT_ANNOTATION]: 'ignored' }),
      ],
    ],
  ]),
};

const id = (ns: string, sa: string, trustDomain = 'cluster.local') => ({ trustDomain, namespace: ns, serviceAccount: sa });
const nodeA: Caller = { kind: 'node', node: 'node-a' };

describe('CSR authorization', () => {
  test('a node proxy gets identities of workloads on its node, named in ImpersonatedIdentity', () => {
    expect(authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'sleep'), impersonated: 'spiffe://cluster.local/ns/default/sa/sleep' })).toEqual({ ok: true });
    // an alias trust domain names the same identity
    expect(authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'sleep', 'old.local'), impersonated: 'spiffe://old.local/ns/default/sa/sleep' })).toEqual({ ok: true });
  });

  test('a node proxy is refused identities of workloads on other nodes, saying where they run', () => {
    const r = authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'httpbin'), impersonated: 'spiffe://cluster.local/ns/default/sa/httpbin' });
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/^node\/node-a hosts no workload with identity spiffe:\/\/cluster.local\/ns\/default\/sa\/httpbin \(its workloads run on node-b, node-c\)/) });
    const none = authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'ghost'), impersonated: 'spiffe://cluster.local/ns/default/sa/ghost' });
    expect(none).toEqual({ ok: false, message: expect.stringMatching(/no workload in the mesh has identity/) });
  });

  test('a node proxy must name the identity; the name must match the CSR', () => {
    expect(authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'sleep') })).toEqual({ ok: false, message: expect.stringMatching(/must name .* ImpersonatedIdentity/) });
    expect(authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'sleep'), impersonated: 'spiffe://cluster.local/ns/default/sa/other' })).toEqual({
      ok: false,
      message: expect.stringMatching(/CSR asks for .*sa\/sleep but ImpersonatedIdentity is .*sa\/other/),
    });
    expect(authorizeCsr(snapshot, { caller: nodeA, requested: id('default', 'sleep'), impersonated: 'sleep' })).toEqual({ ok: false, message: expect.stringMatching(/^ImpersonatedIdentity: /) });
  });

  test('a waypoint gets only ns/<ns>/sa/<name>; a Gateway annotation overrides the service account', () => {
    const wp: Caller = { kind: 'waypoint', namespace: 'default', name: 'waypoint' };
    expect(authorizeCsr(snapshot, { caller: wp, requested: id('default', 'waypoint') })).toEqual({ ok: true });
    expect(authorizeCsr(snapshot, { caller: wp, requested: id('default', 'sleep') })).toEqual({
      ok: false,
      message: 'waypoint/default/waypoint may get certificates only for its own service account\'s identity spiffe://cluster.local/ns/default/sa/waypoint, not spiffe://cluster.local/ns/default/sa/sleep',
    });
    const gw: Caller = { kind: 'gateway', namespace: 'ingress', name: 'public' };
    expect(gatewayIdentity(snapshot, gw)).toEqual(id('ingress', 'public-istio'));
    expect(authorizeCsr(snapshot, { caller: gw, requested: id('ingress', 'public-istio') })).toEqual({ ok: true });
    expect(authorizeCsr(snapshot, { caller: gw, requested: id('ingress', 'public') }).ok).toBe(false);
    // only gateway.networking.k8s.io Gateways carry the override
    expect(gatewayIdentity(snapshot, { namespace: 'ingress', name: 'legacy' })).toEqual(id('ingress', 'legacy'));
  });

  test('caller names', () => {
    expect(describeCaller(nodeA)).toBe('node/node-a');
    expect(describeCaller({ kind: 'gateway', namespace: 'ns', name: 'gw' })).toBe('gateway/ns/gw');
  });
});
