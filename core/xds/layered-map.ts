/**
 * An immutable map that shares a large base with the versions before it: a new version is the base plus
 * a small overlay of changes, so publishing a translation where 1 of 10,000 resources changed costs
 * the change, not a copy of 10,000 entries. Reads look in the overlay first; once the overlay grows
 * past a fraction of the base, the next version is flattened into a new base (amortized O(1) a change).
 */

/** In an overlay: the name is gone from the base. */
const GONE = Symbol('gone');

export class LayeredMap<V> implements ReadonlyMap<string, V> {
  readonly #base: ReadonlyMap<string, V>;
  readonly #over: ReadonlyMap<string, V | typeof GONE>;
  readonly size: number;

  constructor(base: ReadonlyMap<string, V> = new Map(), over: ReadonlyMap<string, V | typeof GONE> = new Map(), size = base.size) {
    this.#base = base;
    this.#over = over;
    this.size = size;
  }

  get(key: string): V | undefined {
    const v = this.#over.get(key);
    if (v === GONE) return undefined;
    return v !== undefined ? v : this.#base.get(key);
  }

  has(key: string): boolean {
    const v = this.#over.get(key);
    if (v === GONE) return false;
    return v !== undefined || this.#base.has(key);
  }

  /** This map with `changes` applied (undefined removes a name). */
  with(changes: ReadonlyMap<string, V | undefined>): LayeredMap<V> {
    if (changes.size === 0) return this;
    let size = this.size;
    const over = new Map(this.#over);
    for (const [k, v] of changes) {
      const had = this.has(k);
      if (v === undefined) {
        if (!had) continue;
        size--;
        if (this.#base.has(k)) over.set(k, GONE);
        else over.delete(k);
      } else {
        if (!had) size++;
        over.set(k, v);
      }
    }
    if (over.size <= 64 || over.size * 8 <= this.#base.size) return new LayeredMap(this.#base, over, size);
    const flat = new Map<string, V>();
    for (const [k, v] of this.#base) if (!over.has(k)) flat.set(k, v);
    for (const [k, v] of over) if (v !== GONE) flat.set(k, v);
    return new LayeredMap(flat);
  }

  *entries(): MapIterator<[string, V]> {
    for (const [k, v] of this.#base) if (!this.#over.has(k)) yield [k, v];
    for (const [k, v] of this.#over) if (v !== GONE) yield [k, v];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}
