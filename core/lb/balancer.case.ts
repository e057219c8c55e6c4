/**
 * Cases every Balancer must pass, run against each implementation by balancers.test.ts (hono's
 * router cases). A case an implementation does not claim names it in `skip` with the reason.
 */
import { describe, expect, it } from 'vitest';
import type { Balancer, LbEndpoint } from './types.ts';

const ep = (key: string, healthy = true): LbEndpoint => ({ key, healthy });

const RANDOM = 'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random';
const P2C = 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest#choice_count=2';
/** Balancers whose spread is random by design: exact sequences do not apply (their own tests check the distribution). */
const RANDOMIZED = { [RANDOM]: 'random picks by design (distribution tested in hash-balancers.test.ts)', [P2C]: 'two random choices by design (tested in hash-balancers.test.ts)' };
const IGNORES_OPEN = {
  'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': 'round robin ignores open connections by design',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin#weighted': 'round robin ignores open connections by design',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash': 'consistent hashing ignores open connections by design',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev': 'consistent hashing ignores open connections by design',
  [RANDOM]: 'random ignores open connections by design',
  [P2C]: 'compares two random choices, not all (tested in hash-balancers.test.ts)',
};
const three = [ep('a'), ep('b'), ep('c')];

function counts(b: Balancer, pool: string, list: readonly LbEndpoint[], n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const k = b.pick(pool, list)?.key ?? 'none';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

interface Case {
  name: string;
  run(make: () => Balancer): void;
  /** Implementation type -> why the case does not apply to it. */
  skip?: Readonly<Record<string, string>>;
}

export const BALANCER_CASES: readonly Case[] = [
  { name: 'gives nothing for an empty pool', run: (make) => expect(make().pick('s', [])).toBeUndefined() },
  { name: 'gives the only endpoint', run: (make) => expect(make().pick('s', [ep('a')])?.key).toBe('a') },
  {
    name: 'never picks an unhealthy endpoint while a healthy one exists',
    run: (make) => expect(counts(make(), 's', [ep('a', false), ep('b'), ep('c', false)], 9)).toEqual({ b: 9 }),
  },
  { name: 'gives nothing when all are unhealthy', run: (make) => expect(make().pick('s', [ep('a', false), ep('b', false)])).toBeUndefined() },
  {
    name: 'picks unhealthy endpoints when the service allows it and none is healthy',
    run: (make) => expect(make().pick('s', [ep('a', false)], { allowUnhealthy: true })?.key).toBe('a'),
  },
  {
    name: 'prefers healthy endpoints even when unhealthy ones are allowed',
    run: (make) => expect(counts(make(), 's', [ep('a', false), ep('b')], 4)).toEqual({ b: 4 }),
  },
  { name: 'spreads idle picks evenly', skip: RANDOMIZED, run: (make) => expect(counts(make(), 's', three, 30)).toEqual({ a: 10, b: 10, c: 10 }) },
  {
    name: 'keeps pools apart',
    skip: RANDOMIZED,
    run: (make) => {
      const b = make();
      expect([b.pick('x', three)?.key, b.pick('y', three)?.key, b.pick('x', three)?.key]).toEqual(['a', 'a', 'b']);
    },
  },
  {
    name: 'follows a changed endpoint list (removed endpoints are not picked)',
    skip: RANDOMIZED,
    run: (make) => {
      const b = make();
      counts(b, 's', three, 5);
      expect(counts(b, 's', [ep('c'), ep('d')], 6)).toEqual({ c: 3, d: 3 });
    },
  },
  {
    name: 'sends new connections to the endpoint with the fewest open',
    skip: IGNORES_OPEN,
    run: (make) => {
      const b = make();
      b.opened('a');
      b.opened('a');
      b.opened('b');
      expect(b.pick('s', three)?.key).toBe('c');
      b.opened('c');
      b.opened('c');
      b.closed('a');
      b.closed('a');
      expect(b.pick('s', three)?.key).toBe('a');
    },
  },
  {
    name: 'tolerates closes it never saw opened',
    run: (make) => {
      const b = make();
      b.closed('zzz');
      expect(b.pick('s', three)).toBeDefined();
    },
  },
];

/** Registers the cases for one implementation. */
export function runBalancerCases(label: string, make: () => Balancer): void {
  const type = make().type;
  describe(`${label} (balancer cases)`, () => {
    for (const c of BALANCER_CASES) {
      const why = c.skip?.[type];
      if (why) it.skip(`${c.name} (skipped: ${why})`, () => {});
      else it(c.name, () => c.run(make));
    }
  });
}
