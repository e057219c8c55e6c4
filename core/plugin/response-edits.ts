/**
 * Response-header changes a filter asks for before there is a response: `set-response-header`,
 * `append-response-header` or `remove-response-header` called in a request phase (design.md
 * section 6, plugins/wit/weft-plugin.wit).
 *
 * Why: a filter whose response changes are known when the request is seen (a constant header, the
 * rate limit's remaining count, a sticky cookie for the side just drawn) would otherwise need a
 * response-headers call of its own, and a guest call is the dominant cost of a plugin (~330 fuel of
 * the runtime's export dispatch alone, benchmarks.md "Per-request cost"). Kept here, they cost a few
 * array slots and are made by the host when the response head arrives, at the asking filter's place
 * in the response order (filters' response phases run in reverse order; the edits of filter i are
 * made just before filter i's own response phase would run), so a filter that runs later in the
 * response sees them exactly as if the asking filter had made them in its response phase.
 *
 * What the response phase sees is unchanged: where the response is not the upstream's (a direct
 * response, a local error) no response phase runs, and these edits are not made either.
 */
import type { HttpExchangeView } from './contract.ts';

export const EDIT_SET = 0;
export const EDIT_APPEND = 1;
export const EDIT_REMOVE = 2;
export type EditKind = typeof EDIT_SET | typeof EDIT_APPEND | typeof EDIT_REMOVE;

export class ResponseEdits {
  /** flat, in the order asked: filter index, kind, name, value */
  readonly #ops: (number | string)[] = [];

  record(filter: number, kind: EditKind, name: string, value: string): void {
    this.#ops.push(filter, kind, name, value);
  }

  /** How many edits are kept. */
  get size(): number {
    return this.#ops.length >> 2;
  }

  /**
   * Makes the edits filter `filter` asked for on `x`'s response (which must be set: `x`'s response
   * functions then change it in place), in the order they were asked. `filter` -1: every edit.
   */
  applyTo(x: HttpExchangeView, filter: number): void {
    const ops = this.#ops;
    for (let i = 0; i < ops.length; i += 4) {
      if (filter >= 0 && ops[i] !== filter) continue;
      const name = ops[i + 2] as string;
      switch (ops[i + 1]) {
        case EDIT_SET:
          x.setResponseHeader(name, ops[i + 3] as string);
          break;
        case EDIT_APPEND:
          x.appendResponseHeader(name, ops[i + 3] as string);
          break;
        default:
          x.removeResponseHeader(name);
      }
    }
  }
}

/**
 * One edit on a response head held as the engines' flat `[name, value, ...]` list (names
 * lower-case): set replaces every field of the name, append adds one, remove drops them all. The
 * L7 hosts' views make a guest's response changes with it, at once in the response phase and from
 * the kept edits before it.
 */
export function editFields(fields: string[], kind: EditKind, name: string, value: string): void {
  if (kind !== EDIT_APPEND) {
    let w = 0;
    for (let r = 0; r < fields.length; r += 2) {
      if (fields[r] === name) continue;
      fields[w++] = fields[r]!;
      fields[w++] = fields[r + 1]!;
    }
    fields.length = w;
  }
  if (kind !== EDIT_REMOVE) fields.push(name, value);
}

