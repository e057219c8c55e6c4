/**
 * Least request, power of two choices (Envoy's LEAST_REQUEST with its default choice_count 2): two
 * distinct eligible endpoints drawn at random, the one with fewer active requests wins (the first
 * drawn on a tie). Cheaper than comparing all candidates and free of the herd effect a global
 * minimum has when many proxies see the same counts. Active requests are counted by endpoint key
 * across pools (the caller reports `opened`/`closed` per request).
 */
import { eligible } from './types.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

/** Envoy's LeastRequest with choice_count 2 (distinct from least-connections-lb's compare-all). */
export const LEAST_REQUEST_P2C_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest#choice_count=2';

export class LeastRequestBalancer implements Balancer {
  readonly type = LEAST_REQUEST_P2C_TYPE;
  readonly #random: () => number;
  readonly #active = new Map<string, number>();

  constructor(random: () => number) {
    this.#random = random;
  }

  pick<T extends LbEndpoint>(_pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const list = eligible(candidates, opts);
    const n = list.length;
    if (n === 0) return undefined;
    if (n === 1) return list[0];
    const i = Math.floor(this.#random() * n);
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++;
    const a = list[i]!;
    const b = list[j]!;
    return this.active(b.key) < this.active(a.key) ? b : a;
  }

  opened(key: string): void {
    this.#active.set(key, (this.#active.get(key) ?? 0) + 1);
  }

  closed(key: string): void {
    const n = (this.#active.get(key) ?? 0) - 1;
    if (n > 0) this.#active.set(key, n);
    else this.#active.delete(key);
  }

  active(key: string): number {
    return this.#active.get(key) ?? 0;
  }
}
