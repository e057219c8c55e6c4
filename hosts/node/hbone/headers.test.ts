import { describe, expect, it } from 'vitest';
import { baggageHeader, forwardedHeader, hboneHeaders, newTraceparent, parseBaggage } from './headers.ts';

describe('HBONE request headers (ztunnel format)', () => {
  it('builds forwarded with for= and host=', () => {
    expect(forwardedHeader({ ip: '10.1.2.3', port: 4567 }, 'echo.demo.svc.cluster.local')).toBe('for="10.1.2.3:4567";host=echo.demo.svc.cluster.local');
    expect(forwardedHeader({ ip: 'fd00::2', port: 1 })).toBe('for="[fd00::2]:1"');
  });
  it('builds and parses baggage', () => {
    const b = baggageHeader({ cluster: 'Kubernetes', namespace: 'demo', workloadType: 'statefulset', workloadName: 'db', service: 'db', version: 'v2' });
    expect(b).toBe('k8s.cluster.name=Kubernetes,k8s.namespace.name=demo,k8s.statefulset.name=db,service.name=db,service.version=v2');
    expect(parseBaggage(b)).toMatchObject({ 'k8s.namespace.name': 'demo', 'service.version': 'v2' });
    expect(baggageHeader({})).toBe('');
  });
  it('makes distinct W3C traceparents', () => {
    const a = newTraceparent();
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(newTraceparent()).not.toBe(a);
    expect(hboneHeaders({ source: { ip: '1.2.3.4', port: 5 } })).not.toHaveProperty('baggage');
  });
});
