/**
 * The balancer contract: pick one endpoint of a pool (a service's endpoints) for a new
 * connection. Balancers hold only their own counters (cursors, open connections); the endpoint
 * list comes from the caller on every pick, so a NodeState swap needs no notification.
 */

/** What a balancer needs to know about an endpoint. */
export interface LbEndpoint {
  /** Stable identity (a workload uid): connection counts are kept by it. */
  readonly key: string;
  readonly healthy: boolean;
  /** Relative weight (load_balancing_weight); absent means 1. Weighted and hashing balancers read it. */
  readonly weight?: number;
}

export interface PickOptions {
  /** The service's health policy is ALLOW_ALL: unhealthy endpoints may be picked when no healthy one exists. */
  allowUnhealthy?: boolean;
  /**
   * The request's hash (a route's hash_policy, 32-bit unsigned) for consistent hashing balancers
   * (ring hash, maglev); others ignore it. Absent: the hashing balancers fall back to round robin.
   */
  hash?: number;
}

export interface Balancer {
  /** The type URL it was made for (see registry.ts). */
  readonly type: string;
  /**
   * One endpoint of `candidates` for a connection to `pool` (a service key), or undefined when none
   * may be picked. Unhealthy endpoints are skipped.
   */
  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined;
  /** A connection to endpoint `key` opened (the caller reports each, whether it picked it or not). */
  opened(key: string): void;
  /** That connection closed. */
  closed(key: string): void;
}

/** Healthy candidates; with allowUnhealthy and none healthy, all of them (ztunnel's ALLOW_ALL). */
export function eligible<T extends LbEndpoint>(candidates: readonly T[], opts?: PickOptions): readonly T[] {
  let healthy = 0;
  for (const c of candidates) if (c.healthy) healthy++;
  if (healthy === candidates.length) return candidates;
  if (healthy === 0) return opts?.allowUnhealthy ? candidates : [];
  return candidates.filter((c) => c.healthy);
}
