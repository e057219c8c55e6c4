/**
 * The endpoint-picker plugin where a cluster's balancer picks (design.md section 6): the cluster's
 * eligible endpoints (healthy, not ejected, best priority; what the balancer picks among) become
 * candidates with their labels and an `active-requests` metric this proxy counts for requests that
 * went through a picker; the first index the guest returns that is in range and healthy wins; [] or
 * nothing usable leaves the choice to the balancer.
 */
import type { EndpointCandidate, EndpointPickerHandle, HttpExchangeView } from '../../../core/plugin/contract.ts';
import type { UpstreamCluster, UpstreamEndpoint } from '../../../core/route/index.ts';

/** Requests in flight per endpoint key (only those that went through a picker). */
export class ActiveRequests {
  readonly #n = new Map<string, number>();
  get(key: string): number {
    return this.#n.get(key) ?? 0;
  }
  inc(key: string): void {
    this.#n.set(key, (this.#n.get(key) ?? 0) + 1);
  }
  dec(key: string): void {
    const n = (this.#n.get(key) ?? 0) - 1;
    if (n > 0) this.#n.set(key, n);
    else this.#n.delete(key);
  }
}

/** Labels as the WIT's list of pairs, made once per compiled endpoint. */
const labelPairs = new WeakMap<UpstreamEndpoint, [string, string][]>();

function labelsOf(ep: UpstreamEndpoint): [string, string][] {
  let l = labelPairs.get(ep);
  if (l === undefined) {
    l = Object.entries(ep.labels ?? {});
    labelPairs.set(ep, l);
  }
  return l;
}

/** The guest's choice among the cluster's eligible endpoints, or the balancer's. */
export function pickEndpoint(picker: EndpointPickerHandle, view: HttpExchangeView, cluster: UpstreamCluster, hash: number | undefined, active: ActiveRequests): UpstreamEndpoint | undefined {
  const list = cluster.eligible;
  if (list.length === 0) return undefined;
  const candidates: EndpointCandidate[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const ep = list[i]!;
    candidates[i] = { address: ep.key, labels: labelsOf(ep), metrics: [['active-requests', active.get(ep.key)]] };
  }
  const order = picker.pick(view, candidates);
  for (const i of order) {
    const ep = Number.isInteger(i) ? list[i] : undefined;
    if (ep !== undefined && ep.healthy) return ep;
  }
  return cluster.pick(hash);
}
