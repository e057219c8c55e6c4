/**
 * Balancers by type URL, in a Registry object rather than module globals (conventions.md 8), so
 * tests and edge isolates keep their own. Short names (`round-robin`, `least-connections`) are
 * aliases for the CLI and config. `registerBuiltinBalancers` is idempotent.
 */
import { LEAST_CONNECTIONS_TYPE, LeastConnectionsBalancer } from './least-connections-lb.ts';
import { ROUND_ROBIN_TYPE, RoundRobinBalancer } from './round-robin-lb.ts';
import type { Balancer } from './types.ts';

export type BalancerFactory = () => Balancer;

export class BalancerRegistry {
  readonly #factories = new Map<string, BalancerFactory>();
  readonly #aliases = new Map<string, string>();

  /** Registers a factory; registering the same one again is a no-op, a different one for a taken name throws. */
  register(type: string, factory: BalancerFactory, aliases: readonly string[] = []): this {
    const had = this.#factories.get(type);
    if (had && had !== factory) throw new Error(`balancer type ${type} is already registered`);
    for (const a of aliases) {
      const to = this.#aliases.get(a);
      if (to !== undefined && to !== type) throw new Error(`balancer alias ${a} already names ${to}`);
    }
    this.#factories.set(type, factory);
    for (const a of aliases) this.#aliases.set(a, type);
    return this;
  }

  has(name: string): boolean {
    return this.#factories.has(this.#aliases.get(name) ?? name);
  }

  /** A new balancer of a registered type (by type URL or alias). */
  create(name: string): Balancer {
    const factory = this.#factories.get(this.#aliases.get(name) ?? name);
    if (!factory) throw new Error(`no balancer type ${name}; known: ${this.names().join(', ')}`);
    return factory();
  }

  /** Aliases and type URLs, for messages and `--help`. */
  names(): string[] {
    return [...this.#aliases.keys(), ...this.#factories.keys()];
  }
}

const roundRobin: BalancerFactory = () => new RoundRobinBalancer();
const leastConnections: BalancerFactory = () => new LeastConnectionsBalancer();

export function registerBuiltinBalancers(reg: BalancerRegistry): BalancerRegistry {
  reg.register(ROUND_ROBIN_TYPE, roundRobin, ['round-robin']);
  reg.register(LEAST_CONNECTIONS_TYPE, leastConnections, ['least-connections']);
  return reg;
}
