/**
 * Regular expressions in routes and matches are RE2 upstream (Envoy, Istio's Go validation). JavaScript
 * RegExp differs in a few places, so a pattern is checked in two steps: RE2-only syntax is translated
 * (`(?P<name>`, a leading `(?i)` flag group), then features RE2 refuses (lookaround, backreferences) are
 * rejected, then the rest must compile. `new RegExp` is not code generation, so this runs in workerd.
 */

export interface CompiledPattern {
  source: string;
  flags: string;
}

/** Translate an RE2 pattern to a JavaScript source and flags, or say why it is not valid RE2. */
export function re2ToJs(pattern: string): CompiledPattern | { error: string } {
  let source = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    if (lead[1]!.includes('U')) return { error: 'the U (ungreedy) flag is not supported' };
    flags = [...new Set(lead[1]!)].join('');
    source = source.slice(lead[0].length);
  }
  source = source.replace(/\(\?P</g, '(?<');
  if (/\(\?<?[=!]/.test(source)) return { error: 'lookahead and lookbehind are not supported (RE2 syntax)' };
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(source)) return { error: 'backreferences are not supported (RE2 syntax)' };
  try {
    new RegExp(source, flags + 'u');
  } catch (uErr) {
    // Some valid RE2 escapes (e.g. `\-` outside a class) are rejected by the u flag: retry without it.
    try {
      new RegExp(source, flags);
    } catch {
      return { error: (uErr as Error).message.replace(/^Invalid regular expression: /, '') };
    }
    return { source, flags };
  }
  return { source, flags: flags + 'u' };
}

/** undefined when the pattern is valid, else a message. */
export function checkRegex(pattern: string): string | undefined {
  const r = re2ToJs(pattern);
  return 'error' in r ? `not a valid regular expression: ${r.error}` : undefined;
}
