import { describe, expect, it } from 'vitest';
import { authorizationPolicy } from '../../test/support/mesh-fixture.ts';
import { nodeSnapshot, nodeStore } from '../../test/support/node-mesh.ts';
import { LeastConnectionsBalancer } from '../lb/least-connections-lb.ts';
import { RoundRobinBalancer } from '../lb/round-robin-lb.ts';
import { istio } from '../xds/pb.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { planInbound, planOutbound } from './plan.ts';
import type { InboundRequest, OutboundPlan } from './plan.ts';
import { NodeStateStore } from './store.ts';

const CLIENT = 'spiffe://cluster.local/ns/default/sa/client';

/** The parts of a plan a table compares. */
function brief(p: OutboundPlan): Record<string, unknown> {
  switch (p.kind) {
    case 'hbone':
      return { kind: p.kind, tunnel: p.tunnel, target: p.target, expected: p.expectedIdentity, service: p.service?.name, via: p.via?.waypoint.name, sameNode: p.sameNode };
    case 'passthrough':
      return { kind: p.kind, destination: p.destination, service: p.service?.name };
    case 'deny':
      return { kind: p.kind, code: p.code };
  }
}

describe('planOutbound', () => {
  const state = nodeStore().current;
  const out = (destination: string, sourceIp = '10.0.0.1') => brief(planOutbound(state, { sourceIp, destination }));

  it.each([
    ['service VIP -> healthy endpoint, named target port', '10.96.0.10:9080', { kind: 'hbone', tunnel: '10.0.0.11:15008', target: '10.0.0.11:8080', expected: 'spiffe://cluster.local/ns/default/sa/reviews', service: 'reviews', via: undefined, sameNode: true }],
    ['pod IP directly', '10.0.0.13:8080', { kind: 'hbone', tunnel: '10.0.0.13:15008', target: '10.0.0.13:8080', expected: 'spiffe://cluster.local/ns/default/sa/reviews', service: undefined, via: undefined, sameNode: false }],
    ['service with a waypoint -> the waypoint, original address as target', '10.96.0.20:9080', { kind: 'hbone', tunnel: '10.0.0.99:15008', target: '10.96.0.20:9080', expected: 'spiffe://cluster.local/ns/default/sa/waypoint', service: 'ratings', via: 'waypoint-1', sameNode: false }],
    ['service not enrolled -> plain TCP to the endpoint', '10.96.0.30:80', { kind: 'passthrough', destination: '10.0.0.31:80', service: 'plain' }],
    ['pod not enrolled -> plain TCP', '10.0.0.31:80', { kind: 'passthrough', destination: '10.0.0.31:80', service: undefined }],
    ['unknown destination under ALLOW_ANY', '192.0.2.7:443', { kind: 'passthrough', destination: '192.0.2.7:443', service: undefined }],
    ['service port it does not declare', '10.96.0.10:22', { kind: 'deny', code: 'no-route' }],
    ['ServiceEntry without endpoints', '240.240.0.1:443', { kind: 'deny', code: 'no-healthy-upstream' }],
    ['not an ip:port', 'reviews:9080', { kind: 'deny', code: 'bad-request' }],
  ])('%s', (_n, destination, want) => {
    expect(out(destination)).toEqual(want);
  });

  it('names the identities and the source', () => {
    const p = planOutbound(state, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' });
    expect(p).toMatchObject({ kind: 'hbone', sourceIdentity: CLIENT, source: { name: 'client' }, workload: { name: 'reviews-1' } });
  });

  it('refuses sources it holds no identity for', () => {
    expect(out('10.96.0.10:9080', '10.9.9.9')).toEqual({ kind: 'deny', code: 'unknown-source' });
    // reviews-3 runs on node-b: this proxy (node-a) has no certificate for it.
    expect(out('10.96.0.10:9080', '10.0.0.13')).toEqual({ kind: 'deny', code: 'unknown-source' });
    const viaSocks = planOutbound(state, { sourceIp: '127.0.0.1', destination: '10.96.0.10:9080', sourceWorkload: state.workloadByIp('10.0.0.1')! });
    expect(viaSocks.kind).toBe('hbone');
  });

  it('refuses unknown destinations under REGISTRY_ONLY, with what to do', () => {
    const strict = nodeStore(nodeSnapshot(), { nodeName: 'node-a', outboundPolicy: 'REGISTRY_ONLY' }).current;
    const p = planOutbound(strict, { sourceIp: '10.0.0.1', destination: '192.0.2.7:443' });
    expect(p).toMatchObject({ kind: 'deny', code: 'registry-only', reason: expect.stringMatching(/add a ServiceEntry/) });
    expect(planOutbound(strict, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' }).kind).toBe('hbone');
  });

  it('balances over healthy endpoints only (round robin)', () => {
    const balancer = new RoundRobinBalancer();
    const picks = Array.from({ length: 4 }, () => brief(planOutbound(state, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' }, { balancer })).target);
    expect(picks).toEqual(['10.0.0.11:8080', '10.0.0.13:8080', '10.0.0.11:8080', '10.0.0.13:8080']);
  });

  it('balances by open connections the host reports (least connections)', () => {
    const balancer = new LeastConnectionsBalancer();
    const first = planOutbound(state, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' }, { balancer });
    if (first.kind !== 'hbone') throw new Error(first.kind);
    balancer.opened(first.workload.uid);
    balancer.opened(first.workload.uid);
    for (let i = 0; i < 3; i++) expect(brief(planOutbound(state, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' }, { balancer })).target).toBe('10.0.0.13:8080');
  });

  it('lets the waypoint itself reach the service directly', () => {
    const fromWaypoint = nodeStore(nodeSnapshot(), { nodeName: 'node-b' }).current;
    expect(brief(planOutbound(fromWaypoint, { sourceIp: '10.0.0.99', destination: '10.96.0.20:9080' }))).toMatchObject({ kind: 'hbone', target: '10.0.0.21:9080', via: undefined });
  });
});

describe('planInbound', () => {
  const snapshot = nodeSnapshot({
    policies: [authorizationPolicy('default', 'reviews-from-client', { selector: { matchLabels: { app: 'reviews' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/client'] } }] }] })],
  });
  const state = nodeStore(snapshot).current;
  const inbound = (r: Partial<InboundRequest>) => planInbound(state, { sourceIp: '10.0.0.1', destination: '10.0.0.11:8080', mtls: true, peerIdentity: CLIENT, ...r });

  it.each([
    ['allowed by policy', {}, 'allow', undefined],
    ['other principal', { peerIdentity: 'spiffe://cluster.local/ns/other/sa/x' }, 'deny', 'authz-denied'],
    ['plaintext (no identity) against an ALLOW on principals', { mtls: false }, 'deny', 'authz-denied'],
    ['no workload at the address', { destination: '10.0.0.200:8080' }, 'deny', 'no-such-workload'],
    ['a workload of another node', { destination: '10.0.0.13:8080' }, 'deny', 'no-such-workload'],
    ['a bad address', { destination: 'x' }, 'deny', 'bad-request'],
  ])('%s', (_n, req, kind, code) => {
    const p = inbound(req);
    expect(p.kind).toBe(kind);
    if (p.kind === 'deny') expect(p.code).toBe(code);
  });

  it('returns the workload, the address to dial and the decision for the access log', () => {
    expect(inbound({})).toMatchObject({ kind: 'allow', target: '10.0.0.11:8080', workload: { name: 'reviews-1' }, decision: { policy: 'default/reviews-from-client', reason: expect.stringMatching(/allowed by ALLOW policy/) } });
    expect(inbound({ mtls: false })).toMatchObject({ reason: expect.stringMatching(/no ALLOW policy matched a peer without identity/) });
  });

  it.each<[string, unknown, string, 'allow' | 'deny']>([
    ['ipBlocks DENY matches the source address', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }] }, '192.0.2.7', 'deny'],
    ['ipBlocks DENY spares other sources', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }] }, '10.0.0.1', 'allow'],
    ['notIpBlocks DENY: everyone outside the block', { action: 'DENY', rules: [{ from: [{ source: { notIpBlocks: ['10.0.0.0/24'] } }] }] }, '192.0.2.7', 'deny'],
    ['notIpBlocks DENY spares the block', { action: 'DENY', rules: [{ from: [{ source: { notIpBlocks: ['10.0.0.0/24'] } }] }] }, '10.0.0.1', 'allow'],
    ['when source.ip ALLOW', { action: 'ALLOW', rules: [{ when: [{ key: 'source.ip', values: ['10.0.0.1'] }] }] }, '10.0.0.1', 'allow'],
    ['when source.ip ALLOW refuses another address', { action: 'ALLOW', rules: [{ when: [{ key: 'source.ip', values: ['10.0.0.1'] }] }] }, '10.0.0.2', 'deny'],
    ['an IPv4-mapped source matches its IPv4 block', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.0.2.7/32'] } }] }] }, '::ffff:192.0.2.7', 'deny'],
  ])('decides on the source ip it is given: %s', (_n, spec, sourceIp, kind) => {
    const s = nodeStore(nodeSnapshot({ policies: [authorizationPolicy('default', 'by-ip', { selector: { matchLabels: { app: 'reviews' } }, ...(spec as object) })] })).current;
    const p = planInbound(s, { sourceIp, destination: '10.0.0.11:8080', mtls: true, peerIdentity: CLIENT });
    expect(p.kind).toBe(kind);
    if (p.kind === 'deny') expect(p).toMatchObject({ code: 'authz-denied', reason: expect.stringContaining('default/by-ip') });
  });

  it('allows what no policy restricts (db-1 on this node)', () => {
    expect(inbound({ destination: '10.0.0.41:5432', mtls: false })).toMatchObject({ kind: 'allow', decision: { code: 'no-policy' } });
  });
});

describe('planOutbound with hand-made resources', () => {
  it('uses a workload waypoint given by hostname, and service address ranges', () => {
    const HBONE = istio.workload.TunnelProtocol.HBONE;
    const w = (uid: string, ip: number[], over: istio.workload.Workload.$Properties = {}) => ({
      name: uid,
      bytes: istio.workload.Address.encode({ workload: { uid, name: uid, namespace: 'ns', node: 'n1', serviceAccount: uid, addresses: [new Uint8Array(ip)], tunnelProtocol: HBONE, ...over } }).finish(),
    });
    const svc = (hostname: string, addresses: istio.workload.NetworkAddress.$Properties[], port: number) => ({
      name: `ns/${hostname}`,
      bytes: istio.workload.Address.encode({ service: { name: hostname, namespace: 'ns', hostname, addresses, ports: [{ servicePort: port, targetPort: port }] } }).finish(),
    });
    const store = new NodeStateStore({ nodeName: 'n1' });
    store.apply({
      typeUrl: TYPE_URL.address,
      resources: [
        w('src', [10, 1, 0, 1]),
        w('dst', [10, 1, 0, 2], { waypoint: { hostname: { namespace: 'ns', hostname: 'wp.ns' }, hboneMtlsPort: 15008 } }),
        w('wp', [10, 1, 0, 3], { services: { 'ns/wp.ns': { ports: [] } } }),
        svc('wp.ns', [], 15008),
        w('ext', [10, 1, 0, 4], { services: { 'ns/range.example': { ports: [{ servicePort: 443, targetPort: 8443 }] } } }),
        svc('range.example', [{ network: '', address: new Uint8Array([240, 1, 0, 0]), length: 16 }], 443),
      ],
      removed: [],
    });
    const plan = (destination: string) => planOutbound(store.current, { sourceIp: '10.1.0.1', destination });
    expect(plan('10.1.0.2:80')).toMatchObject({ kind: 'hbone', tunnel: '10.1.0.3:15008', target: '10.1.0.2:80', via: { waypoint: { uid: 'wp' } }, expectedIdentity: 'spiffe://cluster.local/ns/ns/sa/wp' });
    expect(plan('240.1.2.3:443')).toMatchObject({ kind: 'hbone', target: '10.1.0.4:8443', service: { hostname: 'range.example' } });
    expect(plan('240.2.0.1:443')).toMatchObject({ kind: 'passthrough', destination: '240.2.0.1:443' });
  });
});
