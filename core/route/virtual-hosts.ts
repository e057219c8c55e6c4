/**
 * Virtual host selection by the request's authority, as Envoy's RouteMatcher::findVirtualHost:
 * the authority lower-cased, port included (a domain `host:port` matches it; so does `host:*`, a
 * prefix wildcard); then exact domains, then suffix wildcards (`*.foo.com`, `*-bar.foo.com`) longest
 * first, then prefix wildcards (`foo.*`) longest first, then `*`. A wildcard matches at least one
 * character (`*.foo.com` does not match `.foo.com` or `foo.com`). Domains are unique across the
 * route configuration, as Envoy requires.
 */
import { asciiLower } from './string-matcher.ts';
import { RouteCompileError } from './types.ts';

export class HostSelector<V> {
  readonly #exact = new Map<string, V>();
  /** [suffix, value], longest suffix first. */
  #suffixes: Array<[string, V]> = [];
  #prefixes: Array<[string, V]> = [];
  #any: V | undefined;
  /** One-entry cache: most connections send one authority over and over. */
  #lastHost = '';
  #lastValue: V | undefined;

  add(domain: string, value: V, path: string): void {
    const d = asciiLower(domain);
    const taken = () => new RouteCompileError(path, `domain ${JSON.stringify(domain)} is already used by another virtual host`);
    if (d === '*') {
      if (this.#any !== undefined) throw taken();
      this.#any = value;
    } else if (d.startsWith('*')) {
      if (this.#suffixes.some(([s]) => s === d.slice(1))) throw taken();
      this.#suffixes.push([d.slice(1), value]);
    } else if (d.endsWith('*')) {
      if (this.#prefixes.some(([s]) => s === d.slice(0, -1))) throw taken();
      this.#prefixes.push([d.slice(0, -1), value]);
    } else {
      if (this.#exact.has(d)) throw taken();
      this.#exact.set(d, value);
    }
    if (d.length > 1 && d.slice(1, -1).includes('*')) throw new RouteCompileError(path, `domain ${JSON.stringify(domain)}: a wildcard may only lead or end it`);
  }

  /** Call once after the last add. */
  seal(): this {
    this.#suffixes.sort((a, b) => b[0].length - a[0].length);
    this.#prefixes.sort((a, b) => b[0].length - a[0].length);
    return this;
  }

  select(authority: string): V | undefined {
    if (authority === this.#lastHost && authority !== '') return this.#lastValue;
    const v = this.#find(asciiLower(authority));
    this.#lastHost = authority;
    this.#lastValue = v;
    return v;
  }

  #find(host: string): V | undefined {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    const s = this.#suffixes;
    for (let i = 0; i < s.length; i++) {
      const [suffix, v] = s[i]!;
      if (host.length > suffix.length && host.endsWith(suffix)) return v;
    }
    const p = this.#prefixes;
    for (let i = 0; i < p.length; i++) {
      const [prefix, v] = p[i]!;
      if (host.length > prefix.length && host.startsWith(prefix)) return v;
    }
    return this.#any;
  }
}
