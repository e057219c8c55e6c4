/**
 * Least connections (Envoy's LeastRequest with connections as the requests, all candidates
 * compared): the eligible endpoint with the fewest open connections, ties broken round robin per
 * pool so that an idle pool spreads evenly. Counts are kept by endpoint key across pools, since a
 * workload backing two services carries both services' connections.
 */
import { eligible } from './types.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const LEAST_CONNECTIONS_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest';

export class LeastConnectionsBalancer implements Balancer {
  readonly type = LEAST_CONNECTIONS_TYPE;
  readonly #open = new Map<string, number>();
  readonly #cursor = new Map<string, number>();

  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const list = eligible(candidates, opts);
    if (list.length === 0) return undefined;
    const start = (this.#cursor.get(pool) ?? 0) % list.length;
    let best: T | undefined;
    let bestCount = Infinity;
    for (let i = 0; i < list.length; i++) {
      const c = list[(start + i) % list.length]!;
      const n = this.#open.get(c.key) ?? 0;
      if (n < bestCount) {
        best = c;
        bestCount = n;
      }
    }
    this.#cursor.set(pool, start + 1);
    return best;
  }

  opened(key: string): void {
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
  }

  closed(key: string): void {
    const n = (this.#open.get(key) ?? 0) - 1;
    if (n > 0) this.#open.set(key, n);
    else this.#open.delete(key);
  }

  /** Open connections to an endpoint, as this balancer counts them. */
  active(key: string): number {
    return this.#open.get(key) ?? 0;
  }
}
