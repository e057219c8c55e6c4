/**
 * Differences between two versions of a sorted, immutable list, by object identity: what the Store and
 * the mesh builder use to do work in proportion to a change, not to the mesh. Objects a change did not
 * touch keep their identity from one snapshot to the next (structural sharing), so the differing part
 * of two lists is found by skipping their common head and tail.
 */
import type { ConfigResource } from './snapshot.ts';

export interface ListDiff<T> {
  removed: T[];
  added: T[];
}

const NO_DIFF: ListDiff<never> = Object.freeze({ removed: [], added: [] }) as unknown as ListDiff<never>;

/** Objects in `prev` and not in `next` (removed), and the reverse (added). Objects must be unique within a list. */
export function diffList<T>(prev: readonly T[], next: readonly T[]): ListDiff<T> {
  if (prev === next) return NO_DIFF;
  const min = Math.min(prev.length, next.length);
  let start = 0;
  while (start < min && prev[start] === next[start]) start++;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  const removed = prev.slice(start, endPrev);
  const added = next.slice(start, endNext);
  if (removed.length === 0 || added.length === 0) return { removed, added };
  // Several changes apart: the span between them holds objects present in both.
  const inNext = new Set(added);
  const inPrev = new Set(removed);
  return { removed: removed.filter((x) => !inNext.has(x)), added: added.filter((x) => !inPrev.has(x)) };
}

/** The order of MeshSnapshot.resources lists: namespace/name, then apiVersion (the two Gateways). */
export function resourceSortKey(r: ConfigResource): string {
  return `${r.metadata.namespace}/${r.metadata.name}\0${r.apiVersion}`;
}

export function sortResources(list: ConfigResource[]): ConfigResource[] {
  const keyed = list.map((r) => ({ key: resourceSortKey(r), r }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.r);
}

/** First index in sorted `list` whose key is not below `key`. */
function lowerBound(list: readonly ConfigResource[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (resourceSortKey(list[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `list` (sorted by resourceSortKey, keys unique) with `removed` taken out and `added` put in place:
 * a few binary searches and splices for a small change, a sort for a large one.
 */
export function updateSorted(list: readonly ConfigResource[], removed: readonly ConfigResource[], added: readonly ConfigResource[]): ConfigResource[] {
  if (removed.length + added.length > Math.max(32, list.length >> 3)) {
    const gone = new Set(removed);
    return sortResources([...list.filter((r) => !gone.has(r)), ...added]);
  }
  const out = list.slice();
  for (const r of removed) {
    const i = lowerBound(out, resourceSortKey(r));
    if (out[i] === r) out.splice(i, 1);
    else {
      const j = out.indexOf(r);
      if (j >= 0) out.splice(j, 1);
    }
  }
  for (const r of added) out.splice(lowerBound(out, resourceSortKey(r)), 0, r);
  return out;
}
