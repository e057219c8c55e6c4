/**
 * envoy.type.matcher.v3.StringMatcher, compiled: exact, prefix, suffix, contains (ASCII
 * ignore_case, as Envoy's absl::EqualsIgnoreCase) and safe_regex (RE2, full match; ignore_case
 * has no effect on it, as in Envoy). One small class per kind keeps `match` monomorphic per site.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { set } from './proto.ts';
import { translateRe2 } from './re2.ts';
import { RouteCompileError } from './types.ts';

export interface StringMatch {
  match(value: string): boolean;
}

/** ASCII lower-casing of one UTF-16 code unit. */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

/** Whether `s` at `from` starts with `lowerNeedle` (already lower case), ASCII case-insensitively. */
export function startsWithIgnoreCase(s: string, lowerNeedle: string, from = 0): boolean {
  const n = lowerNeedle.length;
  if (s.length - from < n) return false;
  for (let i = 0; i < n; i++) if (lower(s.charCodeAt(from + i)) !== lowerNeedle.charCodeAt(i)) return false;
  return true;
}

export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

class Exact implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s === this.v;
  }
}
class ExactIgnoreCase implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s.length === this.v.length && startsWithIgnoreCase(s, this.v);
  }
}
class Prefix implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s.startsWith(this.v);
  }
}
class PrefixIgnoreCase implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return startsWithIgnoreCase(s, this.v);
  }
}
class Suffix implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s.endsWith(this.v);
  }
}
class SuffixIgnoreCase implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s.length >= this.v.length && startsWithIgnoreCase(s, this.v, s.length - this.v.length);
  }
}
class Contains implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return s.includes(this.v);
  }
}
class ContainsIgnoreCase implements StringMatch {
  constructor(readonly v: string) {}
  match(s: string): boolean {
    return asciiLower(s).includes(this.v);
  }
}
class Regex implements StringMatch {
  constructor(readonly re: RegExp) {}
  match(s: string): boolean {
    return this.re.test(s);
  }
}

/** Compiles a StringMatcher; `path` names it in errors. */
export function compileStringMatcher(m: envoy.type.matcher.v3.StringMatcher.$Properties, path: string): StringMatch {
  const ic = m.ignoreCase === true;
  if (set(m.exact)) return ic ? new ExactIgnoreCase(asciiLower(m.exact)) : new Exact(m.exact);
  if (set(m.prefix)) return ic ? new PrefixIgnoreCase(asciiLower(m.prefix)) : new Prefix(m.prefix);
  if (set(m.suffix)) return ic ? new SuffixIgnoreCase(asciiLower(m.suffix)) : new Suffix(m.suffix);
  if (set(m.contains)) return ic ? new ContainsIgnoreCase(asciiLower(m.contains)) : new Contains(m.contains);
  if (set(m.safeRegex)) return new Regex(compileRegex(m.safeRegex.regex ?? '', `${path}.safe_regex`, true));
  throw new RouteCompileError(path, 'StringMatcher needs one of exact, prefix, suffix, contains, safe_regex (custom matchers are not supported)');
}

/** RE2 -> RegExp with the error re-thrown as a RouteCompileError at `path`. */
export function compileRegex(pattern: string, path: string, fullMatch: boolean, global = false): RegExp {
  try {
    return translateRe2(pattern, { fullMatch, global });
  } catch (e) {
    throw new RouteCompileError(path, (e as Error).message);
  }
}
