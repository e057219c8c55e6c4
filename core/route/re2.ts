/**
 * RE2 syntax (what Envoy's `safe_regex` speaks: https://github.com/google/re2/wiki/Syntax) ->
 * a JavaScript RegExp with the same meaning, or a RegexError at compile time naming what cannot be
 * translated. The output always uses the `u` flag (RE2 matches code points) and never the `m` flag:
 * RE2's `(?m)` anchors become lookarounds, so a full match can still anchor with ^...$.
 *
 * Differences handled: `.` excludes only \n (JS also excludes \r, U+2028/9); `\s` is [\t\n\f\r ]
 * (JS adds \v and Unicode spaces); `\A` `\z`; `\Q...\E`; `(?P<n>...)`; leading `(?i)` `(?s)` `(?m)`;
 * POSIX classes `[[:alpha:]]`; octal `\123`; `\x{10FFFF}`; `\pL` `\p{Greek}` (scripts need
 * `Script=` in JS); escaped punctuation JS `u` mode rejects (`\-`, `\:`); literal `{` not starting a
 * repetition; `]` first in a class. Refused: inline flags after the start or in groups, `(?U)`, `\C`,
 * `[[:^alpha:]]`, repetition counts over 1000, and whatever RE2 itself refuses (lookarounds,
 * backreferences `\1`, possessive quantifiers).
 */

export class RegexError extends Error {
  constructor(
    readonly pattern: string,
    message: string,
  ) {
    super(`regex ${JSON.stringify(pattern)}: ${message}`);
    this.name = 'RegexError';
  }
}

export interface TranslateOptions {
  /** Anchor as a full match (route and header matching); false for search/replace (regex_rewrite). */
  fullMatch: boolean;
  /** Add the `i` flag (a StringMatcher's ignore_case). */
  ignoreCase?: boolean;
  /** Add the `g` flag (replace all, regex_rewrite). */
  global?: boolean;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** General categories JS accepts bare in \p{..}; anything else RE2 names is a script. */
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Any'.split(' '),
);

/** Characters that must stay escaped in JS (outside and inside classes). */
const SYNTAX = new Set('\\^$.|?*+()[]{}/');

/** One literal code point as JS u-mode source (`-` needs its escape only inside a class). */
function lit(cp: number, inClass = false): string {
  const ch = String.fromCodePoint(cp);
  if (SYNTAX.has(ch) || (inClass && ch === '-')) return `\\${ch}`;
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp > 0xffff) return `\\u{${cp.toString(16)}}`;
  return ch;
}

export function translateRe2(pattern: string, opts: TranslateOptions): RegExp {
  let i = 0;
  const n = pattern.length;
  let flags = 'u';
  let dotAll = false;
  let multiline = false;
  const fail = (msg: string): never => {
    throw new RegexError(pattern, msg);
  };
  // Leading flag groups: (?i) (?s) (?m) (?is) ...
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(i));
    if (!m) break;
    for (const f of m[1]!) {
      if (f === 'i') {
        if (!flags.includes('i')) flags += 'i';
      } else if (f === 's') dotAll = true;
      else if (f === 'm') multiline = true;
      else if (f === 'U') fail('the ungreedy flag (?U) has no JavaScript equivalent');
      else fail(`unknown flag (?${f})`);
    }
    i += m[0].length;
  }
  if (opts.ignoreCase && !flags.includes('i')) flags += 'i';
  let out = '';
  let depth = 0;
  // Whether the previous token can take a quantifier.
  let quantifiable = false;

  const readEscape = (inClass: boolean): string => {
    // pattern[i] is the character after the backslash.
    if (i >= n) fail('trailing backslash');
    const c = pattern[i]!;
    i++;
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'b':
      case 'B':
        if (inClass && (c === 'b' || c === 'B')) fail(`\\${c} inside a character class`);
        return `\\${c}`;
      case 's':
        return inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]';
      case 'S':
        // Inside a class JS's \S is the closest (it differs only for \v and Unicode spaces).
        return inClass ? '\\S' : '[^\\t\\n\\f\\r ]';
      case 'A':
        if (inClass) fail('\\A inside a character class');
        return multiline ? '(?<![\\s\\S])' : '^';
      case 'z':
        if (inClass) fail('\\z inside a character class');
        return multiline ? '(?![\\s\\S])' : '$';
      case 'C':
        return fail('\\C (any byte) has no JavaScript equivalent');
      case 'Q': {
        const end = pattern.indexOf('\\E', i);
        const text = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        i = end < 0 ? n : end + 2;
        let s = '';
        for (const ch of text) s += lit(ch.codePointAt(0)!, inClass);
        return s;
      }
      case 'E':
        return '';
      case 'a':
        return '\\x07';
      case 'f':
        return '\\f';
      case 't':
        return '\\t';
      case 'n':
        return '\\n';
      case 'r':
        return '\\r';
      case 'v':
        return '\\v';
      case 'x': {
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          if (end < 0) fail('unterminated \\x{');
          const hex = pattern.slice(i + 1, end);
          if (!/^[0-9a-fA-F]{1,6}$/.test(hex) || parseInt(hex, 16) > 0x10ffff) fail(`bad escape \\x{${hex}}`);
          i = end + 1;
          return lit(parseInt(hex, 16), inClass);
        }
        const hex = pattern.slice(i, i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail('bad \\x escape');
        i += 2;
        return lit(parseInt(hex, 16), inClass);
      }
      case 'p':
      case 'P': {
        let name: string;
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          if (end < 0) fail('unterminated \\p{');
          name = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          if (i >= n) fail('bad \\p');
          name = pattern[i]!;
          i++;
        }
        let neg = c === 'P';
        if (name.startsWith('^')) {
          neg = !neg;
          name = name.slice(1);
        }
        if (!/^[A-Za-z_]+$/.test(name)) fail(`bad Unicode class \\p{${name}}`);
        const prop = CATEGORIES.has(name) ? name : `Script=${name}`;
        const s = `\\${neg ? 'P' : 'p'}{${prop}}`;
        try {
          new RegExp(s, 'u');
        } catch {
          fail(`unknown Unicode class ${name}`);
        }
        return s;
      }
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      // RE2: \0 and \1-\7 followed by more octal digits are octal; a lone \1-\9 is a backreference.
      const m = /^[0-7]{1,3}/.exec(pattern.slice(i - 1))!;
      if (c !== '0' && m[0].length === 1) fail(`backreference \\${c} (RE2 has none)`);
      i += m[0].length - 1;
      return lit(parseInt(m[0], 8), inClass);
    }
    if (c === '8' || c === '9') fail(`backreference \\${c} (RE2 has none)`);
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !/[0-9A-Za-z]/.test(c)) return lit(cp, inClass);
    return fail(`unknown escape \\${c}`);
  };

  const readClass = (): string => {
    // pattern[i] is just past '['.
    let s = '[';
    if (pattern[i] === '^') {
      s += '^';
      i++;
    }
    let first = true;
    for (;;) {
      if (i >= n) fail('missing ]');
      const c = pattern[i]!;
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end < 0) fail('bad POSIX class');
        let name = pattern.slice(i + 2, end);
        if (name.startsWith('^')) fail(`negated POSIX class [:${name}:] inside a class has no JavaScript equivalent`);
        const body = POSIX[name];
        if (body === undefined) fail(`unknown POSIX class [:${name}:]`);
        s += body;
        i = end + 2;
        continue;
      }
      if (c === '\\') {
        i++;
        s += readEscape(true);
        continue;
      }
      const cp = pattern.codePointAt(i)!;
      i += cp > 0xffff ? 2 : 1;
      // '-' between two class atoms is a range; at the ends it is literal. Escaping the literal
      // cases is what JS's u mode needs; a range dash stays as is.
      if (c === '-' && pattern[i] !== ']' && s.length > 1 && !s.endsWith('[^')) s += '-';
      else s += lit(cp, true);
    }
    return s + ']';
  };

  while (i < n) {
    const c = pattern[i]!;
    switch (c) {
      case '\\': {
        i++;
        const e = readEscape(false);
        out += e;
        quantifiable = !/^(\^|\$|\\b|\\B|\(\?<!|\(\?!)/.test(e) && e !== '';
        continue;
      }
      case '[':
        i++;
        out += readClass();
        quantifiable = true;
        continue;
      case '(': {
        i++;
        if (pattern[i] === '?') {
          const rest = pattern.slice(i + 1);
          if (rest.startsWith(':')) {
            out += '(?:';
            i += 2;
          } else if (rest.startsWith('P<') || rest.startsWith('<')) {
            const skip = rest.startsWith('P<') ? 2 : 1;
            const m = /^([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest.slice(skip));
            if (!m) fail('bad named group');
            out += `(?<${m![1]}>`;
            i += 1 + skip + m![0].length;
          } else if (/^[=!]|^<[=!]/.test(rest)) {
            fail('lookaround assertions are not RE2 syntax');
          } else {
            fail('inline flags are supported only at the start of the pattern');
          }
        } else {
          out += '(';
        }
        depth++;
        quantifiable = false;
        continue;
      }
      case ')':
        if (depth === 0) fail('unmatched )');
        depth--;
        out += ')';
        i++;
        quantifiable = true;
        continue;
      case '|':
        out += '|';
        i++;
        quantifiable = false;
        continue;
      case '.':
        out += dotAll ? '[\\s\\S]' : '[^\\n]';
        i++;
        quantifiable = true;
        continue;
      case '^':
        out += multiline ? '(?<=^|\\n)' : '^';
        i++;
        quantifiable = false;
        continue;
      case '$':
        out += multiline ? '(?=\\n|$)' : '$';
        i++;
        quantifiable = false;
        continue;
      case '*':
      case '+':
      case '?': {
        if (!quantifiable) fail(`missing argument to repetition operator ${c}`);
        out += c;
        i++;
        if (pattern[i] === '?') {
          out += '?';
          i++;
        } else if (pattern[i] === '+') fail('possessive quantifiers are not RE2 syntax');
        if (pattern[i] === '*' || pattern[i] === '+' || (pattern[i] === '?' && out.endsWith('??'))) fail('bad repetition operator');
        quantifiable = false;
        continue;
      }
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
        if (!m) {
          // RE2: a brace that does not start a repetition is a literal.
          out += '\\{';
          i++;
          quantifiable = true;
          continue;
        }
        if (!quantifiable) fail(`missing argument to repetition operator ${m[0]}`);
        const lo = Number(m[1]);
        const hi = m[3] ? Number(m[3]) : lo;
        if (lo > 1000 || hi > 1000) fail('repetition count over 1000');
        if (m[3] && hi < lo) fail(`bad repetition operator ${m[0]}`);
        out += m[0];
        i += m[0].length;
        if (pattern[i] === '?') {
          out += '?';
          i++;
        }
        quantifiable = false;
        continue;
      }
      default: {
        const cp = pattern.codePointAt(i)!;
        i += cp > 0xffff ? 2 : 1;
        out += lit(cp);
        quantifiable = true;
      }
    }
  }
  if (depth !== 0) fail('missing )');
  const source = opts.fullMatch ? `^(?:${out})$` : out;
  if (opts.global) flags += 'g';
  try {
    return new RegExp(source, flags);
  } catch (e) {
    return fail(`no JavaScript equivalent (${(e as Error).message})`);
  }
}

/**
 * RE2's substitution (`\0`-`\9` name groups, `\\` is a backslash) -> a String.prototype.replace
 * replacement string (`$&`, `$1`, `$$`). Refers to a group the pattern does not have: error.
 */
export function translateSubstitution(sub: string, groups: number, pattern: string): string {
  let out = '';
  for (let i = 0; i < sub.length; i++) {
    const c = sub[i]!;
    if (c === '$') out += '$$';
    else if (c === '\\') {
      const d = sub[i + 1];
      if (d === undefined) throw new RegexError(pattern, 'substitution ends in a backslash');
      if (d === '\\') out += '\\';
      else if (d >= '0' && d <= '9') {
        const k = Number(d);
        if (k > groups) throw new RegexError(pattern, `substitution refers to group \\${k}, the pattern has ${groups}`);
        // Two-digit form: JS reads `$1` followed by `2` as group 12 when the pattern has one.
        out += k === 0 ? '$&' : `$0${k}`;
      } else throw new RegexError(pattern, `bad substitution escape \\${d}`);
      i++;
    } else out += c;
  }
  return out;
}

/** Capture groups in a compiled RegExp (named groups count too). */
export function groupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;
}
