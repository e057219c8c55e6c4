/**
 * Path rewrites with Envoy's semantics (RouteEntryImplBase::currentUrlPathAfterRewriteWithMatchedPath):
 * - prefix_rewrite replaces the matched part of the path: the prefix for prefix and
 *   path_separated_prefix matches, the whole path for path and safe_regex matches, keeping what
 *   follows (the rest of the path and the query). `/foo` + rewrite `/bar`: `/foo/x?q` -> `/bar/x?q`;
 *   a separated prefix `/foo` with rewrite `/`: `/foo/x` -> `//x` (Envoy does that too; Gateway API's
 *   ReplacePrefixMatch `/` is the translator's to express with regex_rewrite).
 * - regex_rewrite replaces every match in the path (without the query, which is kept) with the
 *   substitution (`\1` groups).
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { set } from './proto.ts';
import { groupCount, RegexError, translateSubstitution } from './re2.ts';
import { compileRegex } from './string-matcher.ts';
import { RouteCompileError } from './types.ts';

export class PathRewrite {
  constructor(
    /** prefix_rewrite, when set (may be ''). */
    readonly prefix: string | undefined,
    readonly regex: RegExp | undefined,
    readonly substitution: string,
  ) {}

  /** The new target for `target`, whose path ends at `end` and whose matched prefix is `matched` long. */
  apply(target: string, end: number, matched: number): string {
    if (this.prefix !== undefined) return this.prefix + target.slice(matched);
    const re = this.regex!;
    re.lastIndex = 0;
    if (end === target.length) return target.replace(re, this.substitution);
    return target.slice(0, end).replace(re, this.substitution) + target.slice(end);
  }
}

export function compilePathRewrite(
  prefix: string | null | undefined,
  regex: envoy.type.matcher.v3.RegexMatchAndSubstitute.$Properties | null | undefined,
  path: string,
): PathRewrite | undefined {
  const hasPrefix = typeof prefix === 'string' && prefix !== '';
  if (hasPrefix && set(regex)) throw new RouteCompileError(path, 'prefix_rewrite and regex_rewrite are both set');
  if (hasPrefix) return new PathRewrite(prefix, undefined, '');
  if (!set(regex)) return undefined;
  const pattern = regex.pattern?.regex ?? '';
  const re = compileRegex(pattern, `${path}.regex_rewrite.pattern`, false, true);
  try {
    return new PathRewrite(undefined, re, translateSubstitution(regex.substitution ?? '', groupCount(re), pattern));
  } catch (e) {
    if (e instanceof RegexError) throw new RouteCompileError(`${path}.regex_rewrite.substitution`, e.message);
    throw e;
  }
}
