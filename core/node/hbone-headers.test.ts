import { describe, expect, it } from 'vitest';
import { nodeStore } from '../../test/support/node-mesh.ts';
import { baggageFor, forwardedFor, hboneHeaders, parseBaggage } from './hbone-headers.ts';
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
