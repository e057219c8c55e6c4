import { describe, expect, it } from 'vitest';
import { authorizationPolicy } from '../../test/support/mesh-fixture.ts';
import { nodeSnapshot, nodeStore } from '../../test/support/node-mesh.ts';
import { istio } from '../xds/pb.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { NodeStateStore } from './store.ts';

const A = TYPE_URL.address;
const Z = TYPE_URL.authorization;
const enc = (w: istio.workload.Workload.$Properties) => istio.workload.Address.encode({ workload: w }).finish();
const wl = (uid: string, ip: number[], over: istio.workload.Workload.$Properties = {}): istio.workload.Workload.$Properties => ({
  uid,
  name: uid,
  namespace: 'ns',
  addresses: [new Uint8Array(ip)],
  tunnelProtocol: istio.workload.TunnelProtocol.HBONE,
  serviceAccount: 'sa',
  ...over,
});

describe('NodeState indexes', () => {
  const state = nodeStore().current;

  it('finds workloads by IP (canonical text, v4-mapped too) and uid, services by VIP, key and hostname', () => {
    expect(state.workloadByIp('10.0.0.11')?.name).toBe('reviews-1');
    expect(state.workloadByIp('::ffff:10.0.0.11')?.name).toBe('reviews-1');
    expect(state.workloadByUid('Kubernetes//Pod/default/client')?.identity).toBe('spiffe://cluster.local/ns/default/sa/client');
    expect(state.serviceByVip('10.96.0.10')?.hostname).toBe('reviews.default.svc.cluster.local');
    expect(state.serviceByKey('default/api.example.com')?.vips).toEqual([{ network: '', ip: '240.240.0.1', length: 32 }]);
    expect(state.servicesByHostname('REVIEWS.default.svc.cluster.local').map((s) => s.key)).toEqual(['default/reviews.default.svc.cluster.local']);
  });

  it('is network-aware', () => {
    expect(state.workloadByIp('10.0.0.11', 'net2')).toBeUndefined();
    expect(state.serviceByVip('10.96.0.10', 9080, 'net2')).toBeUndefined();
  });

  it('keeps endpoints per service with the resolved target port', () => {
    const eps = state.endpoints('default/reviews.default.svc.cluster.local');
    expect(eps.map((e) => [e.workload.name, e.ports.get(9080), e.workload.healthy])).toEqual([
      ['reviews-1', 8080, true],
      ['reviews-2', 8080, false],
      ['reviews-3', 8080, true],
    ]);
    expect(state.endpoints('default/nothing')).toEqual([]);
  });

  it('lists the workloads of its own node', () => {
    expect(state.localWorkloads().map((w) => w.name).sort()).toEqual(['client', 'db-1', 'reviews-1']);
  });

  it('selects GLOBAL, NAMESPACE and named policies for a workload', () => {
    const s = nodeStore(
      nodeSnapshot({
        policies: [
          authorizationPolicy('istio-system', 'mesh', {}),
          authorizationPolicy('default', 'ns-wide', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] }),
          authorizationPolicy('other', 'elsewhere', {}),
          authorizationPolicy('default', 'v1', { selector: { matchLabels: { version: 'v1' } } }),
        ],
      }),
    ).current;
    const keys = (name: string) => s.policiesFor(s.workloadByIp(name)!).policies.map((p) => p.key).sort();
    expect(keys('10.0.0.11')).toEqual(['default/ns-wide', 'default/v1', 'istio-system/mesh']);
    expect(keys('10.0.0.13')).toEqual(['default/ns-wide', 'istio-system/mesh']);
  });
});

describe('NodeStateStore updates', () => {
  it('applies adds, changes and removals by name, swapping a new state each time', () => {
    const store = new NodeStateStore();
    const s1 = store.apply({ typeUrl: A, resources: [{ name: 'w1', bytes: enc(wl('w1', [10, 0, 0, 1], { services: { 'ns/s.ns': { ports: [{ servicePort: 80, targetPort: 8080 }] } } })) }], removed: [] }).state;
    expect(s1.version).toBe(1);
    expect(s1.endpoints('ns/s.ns').map((e) => e.workload.uid)).toEqual(['w1']);
    const s2 = store.apply({ typeUrl: A, resources: [{ name: 'w1', bytes: enc(wl('w1', [10, 0, 0, 2])) }], removed: [] }).state;
    expect(s2.workloadByIp('10.0.0.1')).toBeUndefined();
    expect(s2.workloadByIp('10.0.0.2')?.uid).toBe('w1');
    expect(s2.endpoints('ns/s.ns')).toEqual([]);
    // The state readers held is untouched.
    expect(s1.workloadByIp('10.0.0.1')?.uid).toBe('w1');
    const s3 = store.apply({ typeUrl: A, resources: [], removed: ['w1', 'never-known'] }).state;
    expect(s3.workloadByUid('w1')).toBeUndefined();
    expect(s3.version).toBe(3);
  });

  it('keeps an IP to the workload that still holds it when another leaves', () => {
    const store = new NodeStateStore();
    store.apply({ typeUrl: A, resources: [{ name: 'old', bytes: enc(wl('old', [10, 0, 0, 9])) }, { name: 'new', bytes: enc(wl('new', [10, 0, 0, 9])) }], removed: [] });
    expect(store.current.workloadByIp('10.0.0.9')?.uid).toBe('new');
    store.apply({ typeUrl: A, resources: [], removed: ['new'] });
    expect(store.current.workloadByIp('10.0.0.9')?.uid).toBe('old');
  });

  it.each([
    ['an address of 3 bytes', { workload: wl('w', [1, 2, 3]) }, /not an IPv4 or IPv6 address/],
    ['no uid', { workload: { ...wl('w', [1, 2, 3, 4]), uid: '' } }, /no uid/],
    ['an unknown tunnel protocol', { workload: wl('w', [1, 2, 3, 4], { tunnelProtocol: 9 as istio.workload.TunnelProtocol }) }, /unknown tunnel protocol 9/],
    ['neither workload nor service', {}, /neither a workload nor a service/],
    ['a service without hostname', { service: { namespace: 'ns', name: 's' } }, /no hostname/],
  ])('rejects %s, keeping the last good version and the rest of the update', (_n, bad, msg) => {
    const store = new NodeStateStore();
    store.apply({ typeUrl: A, resources: [{ name: 'w', bytes: enc(wl('w', [10, 0, 0, 5])) }], removed: [] });
    const r = store.apply({ typeUrl: A, resources: [{ name: 'w', bytes: istio.workload.Address.encode(bad).finish() }, { name: 'ok', bytes: enc(wl('ok', [10, 0, 0, 6])) }], removed: [] });
    expect(r.errors).toEqual([{ typeUrl: A, name: 'w', message: expect.stringMatching(msg) }]);
    expect(r.state.workloadByIp('10.0.0.5')?.uid).toBe('w');
    expect(r.state.workloadByIp('10.0.0.6')?.uid).toBe('ok');
  });

  it('reports malformed bytes and types it does not use', () => {
    const r = new NodeStateStore().apply([
      { typeUrl: A, resources: [{ name: 'x', bytes: new Uint8Array([0x0a, 0x05, 1]) }], removed: [] },
      { typeUrl: TYPE_URL.cluster, resources: [{ name: 'c', bytes: new Uint8Array() }], removed: [] },
    ]);
    expect(r.errors.map((e) => e.name)).toEqual(['x', 'c']);
    expect(r.state.version).toBe(0);
  });

  it('indexes policies by scope and drops them by resource name', () => {
    const store = new NodeStateStore();
    const pol = (name: string, scope: istio.security.Scope) => istio.security.Authorization.encode({ name, namespace: 'ns', scope, action: 0 }).finish();
    store.apply({ typeUrl: Z, resources: [{ name: 'ns/g', bytes: pol('g', 0) }, { name: 'ns/n', bytes: pol('n', 1) }, { name: 'ns/s', bytes: pol('s', 2) }], removed: [] });
    store.apply({ typeUrl: A, resources: [{ name: 'w', bytes: enc(wl('w', [10, 0, 0, 1], { authorizationPolicies: ['ns/s', 'ns/late'] })) }], removed: [] });
    const w = store.current.workloadByUid('w')!;
    expect(store.current.policiesFor(w)).toMatchObject({ policies: [{ key: 'ns/g' }, { key: 'ns/n' }, { key: 'ns/s' }], missing: ['ns/late'] });
    store.apply({ typeUrl: Z, resources: [], removed: ['ns/g', 'ns/s'] });
    expect(store.current.policiesFor(w).policies.map((p) => p.key)).toEqual(['ns/n']);
    expect(store.current.indexes.scopedPolicies.has('')).toBe(false);
  });

  it('keeps unknown Authorization fields so the policy fails closed', () => {
    const known = istio.security.Authorization.encode({ name: 'p', namespace: 'ns', scope: 1, action: 0, rules: [{ clauses: [{ matches: [{ destinationPorts: [80] }] }] }] }).finish();
    // Field 30 (unknown to this build), varint 1, at the policy level.
    const store = new NodeStateStore();
    const r = store.apply({ typeUrl: Z, resources: [{ name: 'ns/p', bytes: new Uint8Array([...known, 0xf0, 0x01, 0x01]) }], removed: [] });
    expect(r.errors).toEqual([]);
    expect(r.state.policy('ns/p')?.unsupported).toMatch(/fields this proxy does not know/);
  });

  it('takes mesh settings from the host', () => {
    const store = new NodeStateStore({ nodeName: 'n1' });
    const s = store.setMesh({ outboundPolicy: 'REGISTRY_ONLY' });
    expect(s.outboundPolicy).toBe('REGISTRY_ONLY');
    expect(s.mesh).toMatchObject({ nodeName: 'n1', trustDomain: 'cluster.local' });
  });
});
