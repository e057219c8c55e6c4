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
  /**
   * When the value at `path` is a literal block scalar (`mesh: |`), the line of its `|` header: the
   * text's own line N is then file line header + N. Undefined for other scalars, whose lines do not map.
   */
  blockHeaderLine?(path: readonly PathSegment[]): number | undefined;
}

export function yamlLocator(doc: Document, lineCounter: LineCounter, base: readonly PathSegment[] = []): Locator {
  const lineOf = (offset: number | undefined) => (offset === undefined ? 0 : lineCounter.linePos(offset).line);
  const start = doc.contents as Node | null;
  const walk = (path: readonly PathSegment[]): { line: number; node: unknown; complete: boolean } => {
      let node: unknown = start;
      let line = lineOf((start as Node | null)?.range?.[0]);
      let complete = true;
      for (const seg of [...base, ...path]) {
        if (isAlias(node)) node = node.resolve(doc);
        if (isMap(node)) {
          const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
          if (!pair) {
            complete = false;
            break;
          }
          line = lineOf((pair.key as Node | null)?.range?.[0]) || line;
          node = pair.value;
        } else if (isSeq(node) && typeof seg === 'number') {
          const item = node.items[seg] as Node | undefined;
          if (!item) {
            complete = false;
            break;
          }
          line = lineOf(item.range?.[0]) || line;
          node = item;
        } else {
          complete = false;
          break;
        }
      }
      return { line, node, complete };
  };
  return {
    line: (path) => walk(path).line,
    blockHeaderLine(path) {
      const { node, complete } = walk(path);
      if (!complete || !isScalar(node) || node.type !== 'BLOCK_LITERAL') return undefined;
      return lineOf(node.range?.[0]);
    },
  };
}

/** A locator for objects that did not come from YAML text (Kubernetes watch): every path is line 0. */
export const NO_LINES: Locator = { line: () => 0 };
