/**
 * Maglev (Envoy's MAGLEV; Eisenbud et al., NSDI 2016): a lookup table of a prime size (65537 by
 * default, as Envoy) filled from each endpoint's permutation (offset, skip from two independent
 * hashes of its key), weighted as Envoy's weighted maglev does; a request with hash h goes to
 * `table[h % size]`. O(1) per pick, near-even spread, small disruption when the set changes.
 *
 * The table is built lazily per candidate list (cached by the array's identity) over all
 * candidates; when the owner is unhealthy the hash is rehashed a few times and then the next healthy
 * candidate is taken, so a request still lands deterministically. Without a hash: round robin.
 */
import { fmix32, hashString } from './hash.ts';
import { RoundRobinBalancer } from './round-robin-lb.ts';
import type { Balancer, LbEndpoint, PickOptions } from './types.ts';

export const MAGLEV_TYPE = 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev';

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

export class MaglevBalancer implements Balancer {
  readonly type = MAGLEV_TYPE;
  readonly #size: number;
  readonly #tables = new WeakMap<readonly LbEndpoint[], Uint32Array>();
  readonly #fallback = new RoundRobinBalancer();

  /** `tableSize` must be prime (Envoy's table_size); the default is 65537. */
  constructor(tableSize = DEFAULT_MAGLEV_TABLE_SIZE) {
    if (!isPrime(tableSize)) throw new Error(`maglev table size ${tableSize} is not prime`);
    this.#size = tableSize;
  }

  pick<T extends LbEndpoint>(pool: string, candidates: readonly T[], opts?: PickOptions): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (opts?.hash === undefined) return this.#fallback.pick(pool, candidates, opts);
    let table = this.#tables.get(candidates);
    if (!table) {
      table = buildTable(candidates, this.#size);
      this.#tables.set(candidates, table);
    }
    let h = opts.hash >>> 0;
    const first = candidates[table[h % this.#size]!]!;
    if (first.healthy) return first;
    for (let k = 0; k < 4; k++) {
      h = fmix32(h + 0x9e3779b9);
      const c = candidates[table[h % this.#size]!]!;
      if (c.healthy) return c;
    }
    const at = table[h % this.#size]!;
    for (let k = 1; k < n; k++) {
      const c = candidates[(at + k) % n]!;
      if (c.healthy) return c;
    }
    return opts.allowUnhealthy ? first : undefined;
  }

  opened(): void {}

  closed(): void {}
}

/** Envoy's weighted maglev population: each round, an endpoint claims a slot when its weight allows. */
export function buildTable(candidates: readonly LbEndpoint[], size: number): Uint32Array {
  const n = candidates.length;
  const table = new Uint32Array(size).fill(EMPTY);
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const key = candidates[i]!.key;
    offset[i] = hashString(key, 0) % size;
    skip[i] = (hashString(key, 0x5bd1e995) % (size - 1)) + 1;
    weight[i] = Math.max(0, candidates[i]!.weight ?? 1);
    if (weight[i]! > maxWeight) maxWeight = weight[i]!;
  }
  if (maxWeight === 0) {
    weight.fill(1);
    maxWeight = 1;
  }
  for (let i = 0; i < n; i++) weight[i] = weight[i]! / maxWeight;
  let filled = 0;
  // An endpoint of the largest weight claims a slot every round; one of a third of it, every third.
  for (let iteration = 1; filled < size; iteration++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (iteration * weight[i]! < target[i]!) continue;
      target[i] = target[i]! + 1;
      let c = (offset[i]! + next[i]! * skip[i]!) % size;
      while (table[c] !== EMPTY) {
        next[i] = next[i]! + 1;
        c = (offset[i]! + next[i]! * skip[i]!) % size;
      }
      table[c] = i;
      next[i] = next[i]! + 1;
      filled++;
    }
  }
  return table;
}

const EMPTY = 0xffffffff;

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
