/**
 * The Envoy v3 resources an L7 proxy (gateway, waypoint) holds, as decoded from xDS: one immutable
 * EnvoyConfig per accepted update, swapped by reference. A `compile` hook per type turns a decoded
 * resource into what the data path runs (core/route's matchers); a resource that fails to decode or
 * compile is refused by name (the update NACKs with that name) and its last good version stays, as
 * the control plane's own Store does with files.
 */
import { decodeResource, TYPE_URL } from '../../../core/xds/index.ts';

/** The five types an L7 proxy watches, in Envoy's push order (CDS before EDS, LDS before RDS). */
export const L7_WATCHES = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret] as const;
export type L7TypeUrl = (typeof L7_WATCHES)[number];

/** One held resource: its decoded message and what `compile` made of it. */
export interface HeldResource<C = unknown> {
  readonly name: string;
  readonly version: string;
  readonly message: object;
  readonly compiled: C;
}

export interface EnvoyConfig {
  /** Increases by one per accepted update. */
  readonly generation: number;
  readonly byType: ReadonlyMap<L7TypeUrl, ReadonlyMap<string, HeldResource>>;
}

export type Compile = (typeUrl: L7TypeUrl, name: string, message: object) => unknown;

export interface L7Update {
  typeUrl: string;
  resources: readonly { name: string; version: string; bytes: Uint8Array }[];
  removed: readonly string[];
}

export class EnvoyConfigStore {
  #current: EnvoyConfig = { generation: 0, byType: new Map(L7_WATCHES.map((t) => [t, new Map()])) };
  readonly #listeners = new Set<(c: EnvoyConfig) => void>();

  constructor(private readonly compile: Compile = (_t, _n, m) => m) {}

  get current(): EnvoyConfig {
    return this.#current;
  }

  onChange(fn: (c: EnvoyConfig) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Applies one xDS update. Good resources apply even when others in the update are refused (the
   * resource is the unit of rejection); the errors name each refused one.
   */
  apply(u: L7Update): { errors: { name: string; message: string }[] } {
    const typeUrl = u.typeUrl as L7TypeUrl;
    const before = this.#current.byType.get(typeUrl);
    if (!before) return { errors: [{ name: '*', message: `${u.typeUrl} is not a type an L7 proxy watches` }] };
    const errors: { name: string; message: string }[] = [];
    const next = new Map(before);
    for (const r of u.resources) {
      try {
        const message = decodeResource(typeUrl, r.bytes);
        next.set(r.name, { name: r.name, version: r.version, message, compiled: this.compile(typeUrl, r.name, message) });
      } catch (e) {
        errors.push({ name: r.name, message: (e as Error).message });
      }
    }
    for (const name of u.removed) next.delete(name);
    const byType = new Map(this.#current.byType);
    byType.set(typeUrl, next);
    this.#current = { generation: this.#current.generation + 1, byType };
    for (const fn of this.#listeners) fn(this.#current);
    return { errors };
  }

  get<C>(typeUrl: L7TypeUrl, name: string): HeldResource<C> | undefined {
    return this.#current.byType.get(typeUrl)?.get(name) as HeldResource<C> | undefined;
  }

  /** Names and versions per short type, for /config_dump and syncz. */
  summary(): Record<string, { name: string; version: string }[]> {
    const out: Record<string, { name: string; version: string }[]> = {};
    for (const [t, m] of this.#current.byType) out[t.slice(t.lastIndexOf('.') + 1)] = [...m.values()].map((r) => ({ name: r.name, version: r.version }));
    return out;
  }
}
