import { describe, expect, it } from 'vitest';
import { runBalancerCases } from './balancer.case.ts';
import { LeastConnectionsBalancer } from './least-connections-lb.ts';
import { BalancerRegistry, registerBuiltinBalancers } from './registry.ts';
import { RoundRobinBalancer } from './round-robin-lb.ts';

runBalancerCases('round robin', () => new RoundRobinBalancer());
runBalancerCases('least connections', () => new LeastConnectionsBalancer());

describe('least connections', () => {
  it('counts connections by endpoint across pools', () => {
    const b = new LeastConnectionsBalancer();
    const list = [{ key: 'w1', healthy: true }, { key: 'w2', healthy: true }];
    b.opened('w1');
    expect(b.pick('other-service', list)?.key).toBe('w2');
    expect(b.active('w1')).toBe(1);
    b.closed('w1');
    expect(b.active('w1')).toBe(0);
  });
});

describe('BalancerRegistry', () => {
  it('makes balancers by type URL or alias, a new instance each time', () => {
    const reg = registerBuiltinBalancers(new BalancerRegistry());
    expect(reg.create('round-robin')).toBeInstanceOf(RoundRobinBalancer);
    expect(reg.create('least-connections')).toBeInstanceOf(LeastConnectionsBalancer);
    expect(reg.create('type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin')).not.toBe(reg.create('round-robin'));
  });
  it('registers builtins idempotently, refuses a different factory for a taken name', () => {
    const reg = registerBuiltinBalancers(registerBuiltinBalancers(new BalancerRegistry()));
    expect(reg.has('round-robin')).toBe(true);
    expect(() => reg.register('type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin', () => new RoundRobinBalancer())).toThrow(/already registered/);
    expect(() => reg.register('x', () => new RoundRobinBalancer(), ['round-robin'])).toThrow(/alias round-robin/);
  });
  it('keeps registries apart and names the known types on a miss', () => {
    const a = registerBuiltinBalancers(new BalancerRegistry());
    const b = new BalancerRegistry();
    expect(a.has('round-robin')).toBe(true);
    expect(b.has('round-robin')).toBe(false);
    expect(() => a.create('random')).toThrow(/known: round-robin, least-connections/);
  });
});
