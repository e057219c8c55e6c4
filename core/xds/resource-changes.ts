/**
 * The published side of a translation: every resource by type URL and name (LayeredMaps sharing their
 * base with the previous translation), and which names changed or went away since it. Producers say
 * "these resources replace those"; a resource with the same version as the one published keeps the
 * published object, so it is neither sent again nor framed again.
 */
import type { EncodedResource, ResourceMap } from './encoded-resource.ts';
import { LayeredMap } from './layered-map.ts';
import { TYPE_URL } from './type-urls.ts';

export type { ResourceMap } from './encoded-resource.ts';

export interface TypeChanges {
  /** Names added or whose version changed. */
  readonly changed: ReadonlySet<string>;
  readonly removed: ReadonlySet<string>;
}

const EMPTY_MAP = new LayeredMap<EncodedResource>();

/** `made`, or `old` when it has the same name, type and bytes (keeps identity and framed chunks). */
export function keep(old: EncodedResource | undefined, made: EncodedResource): EncodedResource {
  return old && old.version === made.version && old.name === made.name && old.typeUrl === made.typeUrl ? old : made;
}

export class ResourceChanges {
  readonly #before: ReadonlyMap<string, LayeredMap<EncodedResource>>;
  readonly #pending = new Map<string, Map<string, EncodedResource | undefined>>();

  constructor(before?: ReadonlyMap<string, LayeredMap<EncodedResource>>) {
    this.#before = before ?? new Map();
  }

  /** One producer's resources `after` replace its resources `before` (names it no longer makes go away). */
  replace(before: readonly EncodedResource[], after: readonly EncodedResource[]): void {
    for (const r of after) this.#typed(r.typeUrl).set(r.name, r);
    for (const r of before) {
      const typed = this.#typed(r.typeUrl);
      // Names in `after`, or set by another producer in this translation, stay set.
      if (!typed.has(r.name)) typed.set(r.name, undefined);
    }
  }

  #typed(typeUrl: string): Map<string, EncodedResource | undefined> {
    let m = this.#pending.get(typeUrl);
    if (!m) this.#pending.set(typeUrl, (m = new Map()));
    return m;
  }

  /** The new published maps (every type URL Weft serves), and what changed per type. */
  finish(): { resources: Map<string, LayeredMap<EncodedResource>>; byType: Map<string, TypeChanges> } {
    const resources = new Map<string, LayeredMap<EncodedResource>>();
    const byType = new Map<string, TypeChanges>();
    const types = new Set<string>([...Object.values(TYPE_URL), ...this.#before.keys(), ...this.#pending.keys()]);
    for (const typeUrl of types) {
      const before = this.#before.get(typeUrl) ?? EMPTY_MAP;
      const changed = new Set<string>();
      const removed = new Set<string>();
      const effective = new Map<string, EncodedResource | undefined>();
      for (const [name, r] of this.#pending.get(typeUrl) ?? []) {
        const was = before.get(name);
        if (r === undefined) {
          if (!was) continue;
          removed.add(name);
          effective.set(name, undefined);
        } else if (was !== r) {
          effective.set(name, r);
          if (!was || was.version !== r.version) changed.add(name);
        }
      }
      resources.set(typeUrl, before.with(effective));
      byType.set(typeUrl, { changed, removed });
    }
    return { resources, byType };
  }
}
