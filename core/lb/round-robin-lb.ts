/**
 * Round robin: each pool keeps a cursor; a pick takes the next eligible endpoint after it. The
 * cursor is an index into the eligible list, so endpoints coming and going shift the order but
 * never stall it.
 */
import { eligible } from './types.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const ROUND_ROBIN_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin';

export class RoundRobinBalancer implements Balancer {
  readonly type = ROUND_ROBIN_TYPE;
  readonly #cursor = new Map<string, number>();

  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const list = eligible(candidates, opts);
    if (list.length === 0) return undefined;
    const n = this.#cursor.get(pool) ?? 0;
    this.#cursor.set(pool, (n + 1) % 1_000_000_007);
    return list[n % list.length];
  }

  opened(): void {}

  closed(): void {}
}
