/**
 * Random (Envoy's RANDOM lb_policy): a uniformly random eligible endpoint, weighted by
 * `weight` when the weights differ. The random source is the caller's (a seeded one in tests).
 */
import { eligible } from './types.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const RANDOM_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random';

export class RandomBalancer implements Balancer {
  readonly type = RANDOM_TYPE;
  readonly #random: () => number;

  /** `random` returns a float in [0, 1), as Math.random does. */
  constructor(random: () => number) {
    this.#random = random;
  }

  pick<T extends LbEndpoint>(_pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const list = eligible(candidates, opts);
    return weightedRandom(list, this.#random);
  }

  opened(): void {}

  closed(): void {}
}

/** One element of `list`, drawn with probability proportional to its weight (1 when absent). */
export function weightedRandom<T extends LbEndpoint>(list: readonly T[], random: () => number): T | undefined {
  const n = list.length;
  if (n === 0) return undefined;
  let total = 0;
  let uniform = true;
  for (let i = 0; i < n; i++) {
    const w = list[i]!.weight ?? 1;
    total += w;
    if (w !== (list[0]!.weight ?? 1)) uniform = false;
  }
  if (uniform || total <= 0) return list[Math.floor(random() * n)];
  let x = random() * total;
  for (let i = 0; i < n; i++) {
    x -= list[i]!.weight ?? 1;
    if (x < 0) return list[i];
  }
  return list[n - 1];
}
