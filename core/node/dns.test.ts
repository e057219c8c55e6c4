import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../test/support/mesh-fixture.ts';
import { SERVICES, nodeStore } from '../../test/support/node-mesh.ts';
import { resolveMeshName } from './dns.ts';
import type { DnsQuery } from './dns.ts';

describe('resolveMeshName', () => {
  const extra = [
    { name: 'wild', hostname: '*.wild.example.org', vip: '240.240.0.2', ports: [{ port: 443 }], source: 'ServiceEntry' as const },
    { name: 'dual', vip: 'fd00::10', ports: [{ port: 80 }] },
    { name: 'reviews', namespace: 'other', vip: '10.96.1.10', ports: [{ port: 9080 }] },
  ];
  const state = nodeStore(buildSnapshot(1, [...SERVICES, ...extra], { workloads: [{ name: 'client', ip: '10.0.0.1', node: 'node-a' }] })).current;
  const ask = (q: DnsQuery) => {
    const a = resolveMeshName(state, q);
    return a && { hostname: a.hostname, addresses: a.addresses };
  };

  it.each<[string, DnsQuery, { hostname: string; addresses: string[] } | undefined]>([
    ['a service FQDN', { name: 'reviews.default.svc.cluster.local.' }, { hostname: 'reviews.default.svc.cluster.local', addresses: ['10.96.0.10'] }],
    ['a short name in the client namespace', { name: 'reviews', clientNamespace: 'default' }, { hostname: 'reviews.default.svc.cluster.local', addresses: ['10.96.0.10'] }],
    ['a short name in another namespace', { name: 'reviews', clientNamespace: 'other' }, { hostname: 'reviews.other.svc.cluster.local', addresses: ['10.96.1.10'] }],
    ['the namespace found from the client IP', { name: 'reviews', clientIp: '10.0.0.1' }, { hostname: 'reviews.default.svc.cluster.local', addresses: ['10.96.0.10'] }],
    ['name.namespace', { name: 'reviews.other' }, { hostname: 'reviews.other.svc.cluster.local', addresses: ['10.96.1.10'] }],
    ['mixed case', { name: 'Reviews.Default.SVC.cluster.local' }, { hostname: 'reviews.default.svc.cluster.local', addresses: ['10.96.0.10'] }],
    ['a ServiceEntry host', { name: 'api.example.com' }, { hostname: 'api.example.com', addresses: ['240.240.0.1'] }],
    ['a ServiceEntry host the client resolver completed with its search path', { name: 'api.example.com.default.svc.cluster.local', clientNamespace: 'default' }, { hostname: 'api.example.com', addresses: ['240.240.0.1'] }],
    ['a wildcard ServiceEntry host', { name: 'x.y.wild.example.org' }, { hostname: '*.wild.example.org', addresses: ['240.240.0.2'] }],
    ['an IPv6 VIP', { name: 'dual.default.svc.cluster.local' }, { hostname: 'dual.default.svc.cluster.local', addresses: ['fd00::10'] }],
    ['a headless service: its endpoints', { name: 'db.default.svc.cluster.local' }, { hostname: 'db.default.svc.cluster.local', addresses: ['10.0.0.41'] }],
    ['a name outside the mesh: forward', { name: 'www.example.com', clientNamespace: 'default' }, undefined],
    ['a short name no namespace has: forward', { name: 'nothing', clientNamespace: 'default' }, undefined],
    ['the empty name', { name: '.' }, undefined],
  ])('%s', (_n, q, want) => {
    expect(ask(q)).toEqual(want);
  });
});
