/**
 * Field paths as users read them (`spec.http[0].route[1].weight`, `metadata.labels["app.kubernetes.io/name"]`)
 * and the YAML line a path points at, found through the document's node ranges.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type PathSegment = string | number;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Finds the 1-based line of a field path in one YAML document. */
export interface Locator {
  /** Line of the deepest node on the path that exists (the field itself when present). */
  line(path: readonly PathSegment[]): number;
}

export function yamlLocator(doc: Document, lineCounter: LineCounter, base: readonly PathSegment[] = []): Locator {
  const lineOf = (offset: number | undefined) => (offset === undefined ? 0 : lineCounter.linePos(offset).line);
  const start = doc.contents as Node | null;
  return {
    line(path) {
      let node: unknown = start;
      let line = lineOf((start as Node | null)?.range?.[0]);
      for (const seg of [...base, ...path]) {
        if (isAlias(node)) node = node.resolve(doc);
        if (isMap(node)) {
          const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
          if (!pair) break;
          line = lineOf((pair.key as Node | null)?.range?.[0]) || line;
          node = pair.value;
        } else if (isSeq(node) && typeof seg === 'number') {
          const item = node.items[seg] as Node | undefined;
          if (!item) break;
          line = lineOf(item.range?.[0]) || line;
          node = item;
        } else {
          break;
        }
      }
      return line;
    },
  };
}

/** A locator for objects that did not come from YAML text (Kubernetes watch): every path is line 0. */
export const NO_LINES: Locator = { line: () => 0 };
