import { describe, expect, it } from 'vitest';
import { nodeStore } from '../../test/support/node-mesh.ts';
import { baggageFor, forwardedClient, forwardedFor, hboneHeaders, inboundSource, parseBaggage } from './hbone-headers.ts';
import type { NodeWorkload } from './model.ts';
import { planOutbound } from './plan.ts';

describe('HBONE request headers', () => {
  const w = (over: Partial<NodeWorkload>) => ({ ...nodeStore().current.workloadByIp('10.0.0.1')!, ...over });

  it.each([
    ['a pod', w({}), 'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.pod.name=client,service.name=client,service.version=latest'],
    ['a deployment with locality', w({ kind: 'deployment', workloadName: 'client-v1', locality: { region: 'eu', zone: 'eu-1a', subzone: '' } }), 'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=client-v1,service.name=client,service.version=latest,cloud.region=eu,cloud.availability_zone=eu-1a'],
    ['empty values left out', w({ clusterId: '', canonicalRevision: '' }), 'k8s.namespace.name=default,k8s.pod.name=client,service.name=client'],
  ])('baggage of %s', (_n, workload, want) => {
    expect(baggageFor(workload)).toBe(want);
    expect(parseBaggage(want)['k8s.namespace.name']).toBe('default');
  });

  it.each([
    ['10.0.0.1:4321', 'reviews.default.svc.cluster.local', 'for="10.0.0.1:4321";host=reviews.default.svc.cluster.local'],
    ['[fd00::1]:4321', undefined, 'for="[fd00::1]:4321"'],
    ['::ffff:10.0.0.1:4321', undefined, 'for="::ffff:10.0.0.1:4321"'],
    ['[::ffff:10.0.0.1]:4321', undefined, 'for="10.0.0.1:4321"'],
  ])('forwarded for %s', (client, host, want) => {
    expect(forwardedFor(client, host)).toBe(want);
  });

  it('come from a plan', () => {
    const plan = planOutbound(nodeStore().current, { sourceIp: '10.0.0.1', destination: '10.96.0.10:9080' });
    if (plan.kind !== 'hbone') throw new Error(plan.kind);
    expect(hboneHeaders(plan, '10.0.0.1:5555')).toEqual({
      baggage: 'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.pod.name=client,service.name=client,service.version=latest',
      forwarded: 'for="10.0.0.1:5555";host=reviews.default.svc.cluster.local',
    });
  });

  it('parse several baggage values, dropping empty ones and properties', () => {
    expect(parseBaggage(['k8s.cluster.name=K1', 'k8s.namespace.name=,service.name=N;prop=1'])).toEqual({ 'k8s.cluster.name': 'K1', 'service.name': 'N' });
  });
});

describe('the client address of an inbound CONNECT (forwarded for=)', () => {
  it.each<[string, string | string[] | undefined, { ip: string; port: number } | undefined]>([
    ['quoted ip:port with host', 'for="10.0.0.1:4321";host=reviews.default.svc.cluster.local', { ip: '10.0.0.1', port: 4321 }],
    ['host first, key in capitals', 'host=x.example;For="10.0.0.7:1"', { ip: '10.0.0.7', port: 1 }],
    ['unquoted ip, no port', 'for=192.0.2.43', { ip: '192.0.2.43', port: 0 }],
    ['bracketed IPv6 with port', 'for="[fd00::1]:4321"', { ip: 'fd00::1', port: 4321 }],
    ['bracketed IPv6 without port', 'for="[2001:db8:cafe::17]"', { ip: '2001:db8:cafe::17', port: 0 }],
    ['IPv4-mapped IPv6 made IPv4', 'for="[::ffff:10.0.0.1]:5"', { ip: '10.0.0.1', port: 5 }],
    ['the first of several elements (the original client)', 'for="10.0.0.1:1", for="10.0.0.2:2"', { ip: '10.0.0.1', port: 1 }],
    ['the first of several header values', ['for="10.0.0.3:3"', 'for="10.0.0.4:4"'], { ip: '10.0.0.3', port: 3 }],
    ['missing', undefined, undefined],
    ['empty', '', undefined],
    ['no for=', 'host=reviews;proto=https', undefined],
    ['unknown', 'for=unknown', undefined],
    ['an obfuscated node', 'for="_hidden"', undefined],
    ['garbage', 'for="10.0.0.300:80"', undefined],
    ['a port out of range', 'for="10.0.0.1:70000"', undefined],
    ['a name, not an IP', 'for="client.example:80"', undefined],
  ])('%s', (_n, header, want) => {
    expect(forwardedClient(header)).toEqual(want);
  });

  it('falls back to the tunnel peer when forwarded names no client', () => {
    expect(inboundSource('for="10.0.0.1:4321"', '10.0.0.200', 40000)).toEqual({ ip: '10.0.0.1', port: 4321, forwarded: true });
    expect(inboundSource('for=nonsense', '::ffff:10.0.0.200', 40000)).toEqual({ ip: '10.0.0.200', port: 40000, forwarded: false });
    expect(inboundSource(undefined, '10.0.0.200', 40000)).toEqual({ ip: '10.0.0.200', port: 40000, forwarded: false });
  });
});
