/**
 * The two indexes that let a change of one workload touch only the services that select it:
 * workloads by namespace and label (a service's selector costs the smallest matching label group, not
 * a scan of every workload), and selectors by namespace and one of their labels (a workload finds the
 * services that may select it from its own labels). Both are kept up to date across builds.
 */
import { matchesSelector } from './build-context.ts';

type Labels = Readonly<Record<string, string>>;

const labelKey = (ns: string, k: string, v: string) => `${ns}\0${k}\0${v}`;

function addTo<T>(map: Map<string, Set<T>>, key: string, item: T): void {
  const set = map.get(key);
  if (set) set.add(item);
  else map.set(key, new Set([item]));
}

function deleteFrom<T>(map: Map<string, Set<T>>, key: string, item: T): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(item);
  if (set.size === 0) map.delete(key);
}

/** Items (workloads) by namespace and label. */
export class LabelIndex<T extends { readonly namespace: string; readonly labels: Labels }> {
  readonly #byLabel = new Map<string, Set<T>>();

  add(item: T): void {
    for (const k in item.labels) addTo(this.#byLabel, labelKey(item.namespace, k, item.labels[k]!), item);
  }

  delete(item: T): void {
    for (const k in item.labels) deleteFrom(this.#byLabel, labelKey(item.namespace, k, item.labels[k]!), item);
  }

  /** Items in `namespace` whose labels include all of `selector` (a non-empty selector), in no particular order. */
  select(namespace: string, selector: Labels): T[] {
    let smallest: Set<T> | undefined;
    for (const k in selector) {
      const set = this.#byLabel.get(labelKey(namespace, k, selector[k]!));
      if (!set) return [];
      if (!smallest || set.size < smallest.size) smallest = set;
    }
    const out: T[] = [];
    for (const item of smallest ?? []) if (matchesSelector(selector, item.labels)) out.push(item);
    return out;
  }
}

/** Owners of label selectors (services), found from the labels a selected object has. */
export class SelectorIndex<T> {
  readonly #byLabel = new Map<string, Set<T>>();
  readonly #entries = new Map<T, { key: string; namespace: string; selector: Labels }>();

  /** Files `owner` under one label of its (non-empty) selector. */
  add(owner: T, namespace: string, selector: Labels): void {
    const k = Object.keys(selector)[0];
    if (k === undefined) return;
    const key = labelKey(namespace, k, selector[k]!);
    this.#entries.set(owner, { key, namespace, selector });
    addTo(this.#byLabel, key, owner);
  }

  delete(owner: T): void {
    const e = this.#entries.get(owner);
    if (!e) return;
    this.#entries.delete(owner);
    deleteFrom(this.#byLabel, e.key, owner);
  }

  /** Owners whose selector selects an object with these labels in `namespace`. */
  matching(namespace: string, labels: Labels, into: Set<T>): void {
    for (const k in labels) {
      const set = this.#byLabel.get(labelKey(namespace, k, labels[k]!));
      if (!set) continue;
      for (const owner of set) if (matchesSelector(this.#entries.get(owner)!.selector, labels)) into.add(owner);
    }
  }
}
