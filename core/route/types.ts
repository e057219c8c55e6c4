/**
 * What the L7 engine hands the route table per request, and the header structure compiled header
 * mutations write to. Both are interfaces the engine implements over its own parsed head (or uses
 * FlatHeaders, which works on the `[name, value, name, value, ...]` list the HTTP/1 parser makes),
 * so matching copies no header list.
 */

/** One request as the router sees it. Implement it over the engine's own head; nothing is copied. */
export interface RouteRequest {
  /** `:method` (upper case as received). */
  readonly method: string;
  /** `:scheme`: `http` or `https` (the downstream connection's, or `x-forwarded-proto` where trusted). */
  readonly scheme: string;
  /** `:authority` / Host as received (case and port included; the table lower-cases for matching). */
  readonly authority: string;
  /** The raw request target: path with query (`/a/b?x=1`), never decoded. */
  readonly target: string;
  /**
   * A regular header by lower-case name: its value, the values joined with `,` when it repeats (as
   * Envoy joins them for matching), undefined when absent. Pseudo headers are the fields above.
   */
  header(name: string): string | undefined;
  /** The downstream peer's address (hash_policy connection_properties.source_ip); may be absent. */
  readonly sourceIp?: string;
}

/** The engine's mutable header structure (request or response), as compiled header ops use it. */
export interface MutableHeaders {
  has(name: string): boolean;
  /** Replaces every value of `name` with one. */
  set(name: string, value: string): void;
  /** Adds one more value of `name`. */
  add(name: string, value: string): void;
  remove(name: string): void;
}

/**
 * A flat header list `[name, value, ...]` (names lower-case) as both a lookup for RouteRequest and a
 * MutableHeaders. Wraps the caller's array (mutations change it in place).
 */
export class FlatHeaders implements MutableHeaders {
  constructor(readonly list: string[]) {}

  get(name: string): string | undefined {
    const l = this.list;
    let out: string | undefined;
    for (let i = 0; i < l.length; i += 2) {
      if (l[i] === name) out = out === undefined ? l[i + 1]! : `${out},${l[i + 1]!}`;
    }
    return out;
  }

  has(name: string): boolean {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) return true;
    return false;
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.list.push(name, value);
  }

  add(name: string, value: string): void {
    this.list.push(name, value);
  }

  remove(name: string): void {
    const l = this.list;
    let w = 0;
    for (let r = 0; r < l.length; r += 2) {
      if (l[r] === name) continue;
      l[w++] = l[r]!;
      l[w++] = l[r + 1]!;
    }
    l.length = w;
  }
}

/** A config the compiler refuses: `path` is the field path in the resource (for the NACK message). */
export class RouteCompileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'RouteCompileError';
  }
}
