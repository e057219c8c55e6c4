/**
 * Weighted round robin (Envoy's ROUND_ROBIN when endpoint weights differ): nginx's smooth weighted
 * round robin, so an endpoint of weight 3 beside one of weight 1 gets a,a,b,a rather than a,a,a,b.
 * With equal weights it is exactly round-robin-lb (it delegates), so the two agree on plain pools.
 */
import { RoundRobinBalancer } from './round-robin-lb.ts';
import { eligible } from './types.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const WEIGHTED_ROUND_ROBIN_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin#weighted';

export class WeightedRoundRobinBalancer implements Balancer {
  readonly type = WEIGHTED_ROUND_ROBIN_TYPE;
  readonly #plain = new RoundRobinBalancer();
  /** pool -> endpoint key -> current weight. */
  readonly #current = new Map<string, Map<string, number>>();

  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const list = eligible(candidates, opts);
    const n = list.length;
    if (n === 0) return undefined;
    const w0 = list[0]!.weight ?? 1;
    let uniform = true;
    for (let i = 1; i < n && uniform; i++) if ((list[i]!.weight ?? 1) !== w0) uniform = false;
    if (uniform) return this.#plain.pick(pool, list, opts);
    let cur = this.#current.get(pool);
    if (!cur) this.#current.set(pool, (cur = new Map()));
    let total = 0;
    let best: T | undefined;
    let bestWeight = -Infinity;
    for (let i = 0; i < n; i++) {
      const c = list[i]!;
      const w = Math.max(0, c.weight ?? 1);
      total += w;
      const v = (cur.get(c.key) ?? 0) + w;
      cur.set(c.key, v);
      if (v > bestWeight) {
        best = c;
        bestWeight = v;
      }
    }
    cur.set(best!.key, bestWeight - total);
    if (cur.size > 2 * n) for (const k of cur.keys()) if (!list.some((c) => c.key === k)) cur.delete(k);
    return best;
  }

  opened(): void {}

  closed(): void {}
}
