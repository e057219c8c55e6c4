/**
 * Ring hash (Envoy's RING_HASH, Karger's consistent hashing): every endpoint owns points on a
 * 32-bit ring in proportion to its weight, at `hash(key_i)`; a request with hash h goes to the
 * owner of the first point at or after h. When an endpoint leaves, only its arcs move.
 *
 * The ring is built once per candidate list (cached by the array's identity, so callers pass the
 * same array while endpoints are unchanged) over all candidates, healthy or not; an unhealthy owner
 * hands the request to the next healthy point clockwise, which is where its keys would move if the
 * ring were rebuilt without it. Without a hash (no hash policy matched) it falls back to round robin.
 */
import { hashString } from './hash.ts';
import { RoundRobinBalancer } from './round-robin-lb.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const RING_HASH_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash';

export interface RingHashOptions {
  /** Envoy's minimum_ring_size (default 1024) and maximum_ring_size (default 8M). */
  minRingSize?: number;
  maxRingSize?: number;
}

interface Ring {
  /** Point hashes, ascending. */
  readonly hashes: Uint32Array;
  /** Index into the candidate list of each point's owner. */
  readonly owners: Uint32Array;
}

export class RingHashBalancer implements Balancer {
  readonly type = RING_HASH_TYPE;
  readonly #min: number;
  readonly #max: number;
  readonly #rings = new WeakMap<readonly LbEndpoint[], Ring>();
  readonly #fallback = new RoundRobinBalancer();

  constructor(opts: RingHashOptions = {}) {
    this.#min = opts.minRingSize ?? 1024;
    this.#max = opts.maxRingSize ?? 8 * 1024 * 1024;
  }

  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    if (candidates.length === 0) return undefined;
    if (opts?.hash === undefined) return this.#fallback.pick(pool, candidates, opts);
    let ring = this.#rings.get(candidates);
    if (!ring) {
      ring = buildRing(candidates, this.#min, this.#max);
      this.#rings.set(candidates, ring);
    }
    const { hashes, owners } = ring;
    const n = hashes.length;
    const h = opts.hash >>> 0;
    // First point >= h (binary search), wrapping to 0.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === n ? 0 : lo;
    for (let k = 0; k < n; k++) {
      const c = candidates[owners[(start + k) % n]!]!;
      if (c.healthy) return c;
    }
    return opts.allowUnhealthy ? candidates[owners[start]!] : undefined;
  }

  opened(): void {}

  closed(): void {}

  /** Points on the ring built for `candidates` (tests, config dump). */
  ringSize(candidates: readonly LbEndpoint[]): number {
    return this.#rings.get(candidates)?.hashes.length ?? 0;
  }
}

function buildRing(candidates: readonly LbEndpoint[], minSize: number, maxSize: number): Ring {
  let total = 0;
  for (const c of candidates) total += Math.max(0, c.weight ?? 1);
  if (total === 0) total = candidates.length;
  let minNorm = 1;
  for (const c of candidates) {
    const w = (c.weight ?? 1) / total;
    if (w > 0 && w < minNorm) minNorm = w;
  }
  // As Envoy: enough points that the lightest endpoint gets at least one per 1/minSize of the ring.
  const scale = Math.min(Math.ceil(minNorm * minSize) / minNorm, maxSize);
  const points: Array<[number, number]> = [];
  let carry = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const exact = (scale * Math.max(0, c.weight ?? 1)) / total + carry;
    const count = Math.floor(exact);
    carry = exact - count;
    for (let j = 0; j < count; j++) points.push([hashString(`${c.key}_${j}`), i]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const hashes = new Uint32Array(points.length);
  const owners = new Uint32Array(points.length);
  for (let i = 0; i < points.length; i++) {
    hashes[i] = points[i]![0];
    owners[i] = points[i]![1];
  }
  return { hashes, owners };
}
