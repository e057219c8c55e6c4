/**
 * RouteMatch, compiled: the path specifier (prefix, path, path_separated_prefix, safe_regex; the
 * query and fragment are never part of the path, as Envoy's PathMatcher strips them), case
 * sensitivity, header matchers, query parameter matchers, grpc, runtime_fraction. Per request
 * the path end is found once; a regex gets the path substring only when it is needed.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { fraction, set } from './proto.ts';
import { asciiLower, compileRegex, compileStringMatcher, startsWithIgnoreCase } from './string-matcher.ts';
import type { StringMatch } from './string-matcher.ts';
import type { RouteRequest } from './types.ts';
import { RouteCompileError } from './types.ts';

type RouteMatchProto = envoy.config.route.v3.RouteMatch.$Properties;
type HeaderMatcherProto = envoy.config.route.v3.HeaderMatcher.$Properties;

export const enum PathKind {
  Prefix = 0,
  Exact = 1,
  Separated = 2,
  Regex = 3,
}

/** Index of the first `?` or `#` in the target, or its length: where the path ends. */
export function pathEnd(target: string): number {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 || c === 35) return i;
  }
  return target.length;
}

/** A header's value for matching: pseudo headers from the request fields, `host` is `:authority`. */
export function headerValue(req: RouteRequest, name: string): string | undefined {
  if (name.charCodeAt(0) === 58) {
    switch (name) {
      case ':method':
        return req.method;
      case ':authority':
        return req.authority;
      case ':scheme':
        return req.scheme;
      case ':path':
        return req.target;
      default:
        return undefined;
    }
  }
  if (name === 'host') return req.authority;
  return req.header(name);
}

const enum HeaderKind {
  String = 0,
  Present = 1,
  Range = 2,
  /** Deprecated exact_match: an empty value matches any value. */
  LegacyExact = 3,
}

export class HeaderMatch {
  constructor(
    readonly name: string,
    readonly kind: HeaderKind,
    readonly string: StringMatch | undefined,
    readonly present: boolean,
    readonly invert: boolean,
    readonly missingAsEmpty: boolean,
    readonly rangeStart: number,
    readonly rangeEnd: number,
    readonly legacyExact: string,
  ) {}

  /** Envoy's HeaderUtility::matchHeaders. */
  matches(req: RouteRequest): boolean {
    let value = headerValue(req, this.name);
    if (value === undefined) {
      if (!this.missingAsEmpty) {
        return this.kind === HeaderKind.Present && (this.invert ? this.present : !this.present);
      }
      value = '';
    }
    let m: boolean;
    switch (this.kind) {
      case HeaderKind.String:
        m = this.string!.match(value);
        break;
      case HeaderKind.Present:
        m = this.present;
        break;
      case HeaderKind.Range: {
        m = /^[-+]?\d+$/.test(value);
        if (m) {
          const v = Number(value);
          m = v >= this.rangeStart && v < this.rangeEnd;
        }
        break;
      }
      case HeaderKind.LegacyExact:
        m = this.legacyExact === '' || value === this.legacyExact;
        break;
    }
    return m !== this.invert;
  }
}

export function compileHeaderMatcher(h: HeaderMatcherProto, path: string): HeaderMatch {
  const name = (h.name ?? '').toLowerCase();
  if (!name) throw new RouteCompileError(path, 'header matcher without a name');
  const invert = h.invertMatch === true;
  const empty = h.treatMissingHeaderAsEmpty === true;
  const mk = (kind: HeaderKind, s?: StringMatch, present = false, lo = 0, hi = 0, exact = '') => new HeaderMatch(name, kind, s, present, invert, empty, lo, hi, exact);
  if (set(h.stringMatch)) return mk(HeaderKind.String, compileStringMatcher(h.stringMatch, `${path}.string_match`));
  if (set(h.presentMatch)) return mk(HeaderKind.Present, undefined, h.presentMatch);
  if (set(h.exactMatch)) return mk(HeaderKind.LegacyExact, undefined, false, 0, 0, h.exactMatch);
  if (set(h.prefixMatch)) return mk(HeaderKind.String, compileStringMatcher({ prefix: h.prefixMatch }, `${path}.prefix_match`));
  if (set(h.suffixMatch)) return mk(HeaderKind.String, compileStringMatcher({ suffix: h.suffixMatch }, `${path}.suffix_match`));
  if (set(h.containsMatch)) return mk(HeaderKind.String, compileStringMatcher({ contains: h.containsMatch }, `${path}.contains_match`));
  if (set(h.safeRegexMatch)) return mk(HeaderKind.String, compileStringMatcher({ safeRegex: h.safeRegexMatch }, `${path}.safe_regex_match`));
  if (set(h.rangeMatch)) return mk(HeaderKind.Range, undefined, false, Number(h.rangeMatch.start ?? 0), Number(h.rangeMatch.end ?? 0));
  // No specifier: Envoy treats it as present_match true.
  return mk(HeaderKind.Present, undefined, true);
}

/**
 * The first value of query parameter `name` in `target[from, end)` (from is just past `?`), as
 * written (Envoy's route matching does not decode it); `''` for `name` without `=`; undefined when absent.
 */
export function queryParam(target: string, from: number, end: number, name: string): string | undefined {
  let i = from;
  const n = name.length;
  while (i < end) {
    let amp = target.indexOf('&', i);
    if (amp < 0 || amp > end) amp = end;
    if (amp - i >= n && target.startsWith(name, i) && (amp - i === n || target.charCodeAt(i + n) === 61)) {
      return amp - i === n ? '' : target.slice(i + n + 1, amp);
    }
    i = amp + 1;
  }
  return undefined;
}

export class QueryMatch {
  constructor(
    readonly name: string,
    readonly string: StringMatch | undefined,
    readonly present: boolean,
  ) {}

  matches(target: string, qStart: number, qEnd: number): boolean {
    const v = qStart < 0 ? undefined : queryParam(target, qStart, qEnd, this.name);
    if (v === undefined) return false;
    return this.string ? this.string.match(v) : this.present;
  }
}

/** A compiled RouteMatch; `matches` is the per-request hot path. */
export class RequestMatch {
  constructor(
    readonly kind: PathKind,
    /** The prefix or exact path (lower case when !caseSensitive). */
    readonly value: string,
    readonly caseSensitive: boolean,
    readonly regex: RegExp | undefined,
    readonly headers: readonly HeaderMatch[],
    readonly query: readonly QueryMatch[],
    readonly grpc: boolean,
    /** runtime_fraction.default_value as a probability; 1 when absent. */
    readonly fraction: number,
    /** A literal every path the regex matches starts with ('' if none): a cheap test before the RegExp. */
    readonly regexPrefix = '',
  ) {}

  matches(req: RouteRequest, target: string, end: number, random: () => number): boolean {
    const v = this.value;
    switch (this.kind) {
      case PathKind.Prefix:
        if (v.length > end) return false;
        if (!(this.caseSensitive ? target.startsWith(v) : startsWithIgnoreCase(target, v))) return false;
        break;
      case PathKind.Exact:
        if (v.length !== end) return false;
        if (!(this.caseSensitive ? target.startsWith(v) : startsWithIgnoreCase(target, v))) return false;
        break;
      case PathKind.Separated:
        if (v.length > end) return false;
        if (v.length < end && target.charCodeAt(v.length) !== 47) return false;
        if (!(this.caseSensitive ? target.startsWith(v) : startsWithIgnoreCase(target, v))) return false;
        break;
      case PathKind.Regex:
        if (this.regexPrefix !== '' && !target.startsWith(this.regexPrefix)) return false;
        if (!this.regex!.test(end === target.length ? target : target.slice(0, end))) return false;
        break;
    }
    if (this.grpc) {
      const ct = req.header('content-type');
      if (ct === undefined || !(ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;'))) return false;
    }
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (!hs[i]!.matches(req)) return false;
    const qs = this.query;
    if (qs.length > 0) {
      const qStart = end < target.length && target.charCodeAt(end) === 63 ? end + 1 : -1;
      let qEnd = target.indexOf('#', end);
      if (qEnd < 0) qEnd = target.length;
      for (let i = 0; i < qs.length; i++) if (!qs[i]!.matches(target, qStart, qEnd)) return false;
    }
    if (this.fraction < 1 && !(random() < this.fraction)) return false;
    return true;
  }

  /** Length of the path prefix a prefix_rewrite replaces for a request whose path ends at `end`. */
  matchedLength(end: number): number {
    return this.kind === PathKind.Prefix || this.kind === PathKind.Separated ? this.value.length : end;
  }
}

export function compileRequestMatch(m: RouteMatchProto | null | undefined, path: string): RequestMatch {
  if (!set(m)) throw new RouteCompileError(path, 'route without a match');
  const caseSensitive = set(m.caseSensitive) ? m.caseSensitive.value !== false : true;
  const norm = (s: string) => (caseSensitive ? s : asciiLower(s));
  let kind: PathKind;
  let value = '';
  let regex: RegExp | undefined;
  if (set(m.prefix)) {
    kind = PathKind.Prefix;
    value = norm(m.prefix);
  } else if (set(m.path)) {
    kind = PathKind.Exact;
    value = norm(m.path);
  } else if (set(m.pathSeparatedPrefix)) {
    kind = PathKind.Separated;
    value = norm(m.pathSeparatedPrefix);
    if (value.endsWith('/') || value.includes('?') || value.includes('#')) {
      throw new RouteCompileError(`${path}.path_separated_prefix`, `${JSON.stringify(value)} must not end in / or hold ? or # (Envoy's rule)`);
    }
  } else if (set(m.safeRegex)) {
    kind = PathKind.Regex;
    // case_sensitive does not apply to safe_regex (Envoy); (?i) in the pattern does.
    regex = compileRegex(m.safeRegex.regex ?? '', `${path}.safe_regex`, true);
  } else {
    const other = m.connectMatcher ? 'connect_matcher' : m.pathMatchPolicy ? 'path_match_policy' : 'no path specifier';
    throw new RouteCompileError(path, `unsupported route match (${other}); the contract uses prefix, path, path_separated_prefix, safe_regex`);
  }
  const headers = (m.headers ?? []).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`));
  const query = (m.queryParameters ?? []).map((q, i) => {
    const p = `${path}.query_parameters[${i}]`;
    if (!q.name) throw new RouteCompileError(p, 'query parameter matcher without a name');
    if (set(q.stringMatch)) return new QueryMatch(q.name, compileStringMatcher(q.stringMatch, `${p}.string_match`), true);
    // present_match, or no specifier: the parameter's presence (Envoy ignores present_match: false).
    return new QueryMatch(q.name, undefined, true);
  });
  const frac = set(m.runtimeFraction) ? fraction(m.runtimeFraction.defaultValue, 0) : 1;
  const prefix = kind === PathKind.Regex ? literalPrefix(m.safeRegex?.regex ?? '') : '';
  return new RequestMatch(kind, value, caseSensitive, regex, headers, query, set(m.grpc), frac, prefix);
}

/**
 * The literal text every match of an RE2 pattern starts with: leading plain characters, up to the
 * first operator; none when the pattern has an alternation or flags anywhere (conservative), and
 * the last character is dropped when a quantifier follows it.
 */
export function literalPrefix(pattern: string): string {
  if (pattern.includes('|') || pattern.startsWith('(?')) return '';
  let i = 0;
  while (i < pattern.length && /[A-Za-z0-9/_\-]/.test(pattern[i]!) && pattern[i] !== '\\') i++;
  let lit = pattern.slice(0, i);
  const next = pattern[i];
  if (next === '?' || next === '*' || next === '{') lit = lit.slice(0, -1);
  return lit;
}
