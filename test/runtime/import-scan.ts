/**
 * The dependency rule's checker (design.md 2, conventions.md 1): core/ imports no Node module, no
 * host, and relies on no Node global, so it runs unchanged on Node, Deno and workerd.
 *
 * A small lexer blanks comments (and, for the global check, string contents) while keeping every
 * offset and newline, so matches report the true line; no TypeScript parser is needed and the
 * scanner itself is unit-tested on synthetic sources (core-imports.test.ts).
 */
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';

export interface Violation {
  file: string;
  line: number;
  rule: 'node-module' | 'host-import' | 'extension' | 'generated-import' | 'computed-import' | 'node-global';
  message: string;
}

export interface ScanOptions {
  /** Repository root: relative specifiers are resolved against it to find `hosts/`. */
  root: string;
  /** Unit tests beside the code run only under vitest on Node: they may use Node modules and globals. */
  isTest?: boolean;
}

/** Bare names of Node's builtins (the running Node's list plus the usual ones, whatever its version). */
const NODE_BUILTINS = new Set([
  ...builtinModules.filter((m) => !m.startsWith('_')),
  ...'assert async_hooks buffer child_process cluster console constants crypto dgram diagnostics_channel dns domain events fs http http2 https inspector module net os path perf_hooks process punycode querystring readline repl stream string_decoder sys timers tls trace_events tty url util v8 vm wasi worker_threads zlib'.split(' '),
]);

const REGEX_PREFIX_KEYWORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof']);

/**
 * Returns two views of `src`, each of the same length with newlines kept: `code` has comments
 * blanked, `bare` has comments, string, template and regex contents blanked as well.
 */
export function blank(src: string): { code: string; bare: string } {
  // Ranges to blank, in increasing order; `both`: in `code` too (comments), else in `bare` only.
  const wipes: [from: number, to: number, both: boolean][] = [];
  const wipe = (from: number, to: number, both: boolean): void => {
    if (to > from) wipes.push([from, to, both]);
  };
  const len = src.length;
  const at = (k: number): number => src.charCodeAt(k);
  const templateDepth: number[] = []; // brace depth at which each open `${` resumes its template
  let braces = 0;
  let prev = ''; // last significant token character (or keyword) before the cursor
  let i = 0;
  const scanTemplate = (start: number): number => {
    // From just after '`' or '}': to the closing '`' (returns the index after it) or after '${'.
    let k = start;
    while (k < len) {
      const c = at(k);
      if (c === BACKSLASH) k += 2;
      else if (c === BACKTICK) {
        wipe(start, k, false);
        return k + 1;
      } else if (c === DOLLAR && at(k + 1) === OPEN_BRACE) {
        wipe(start, k, false);
        templateDepth.push(braces);
        braces++;
        return k + 2;
      } else k++;
    }
    wipe(start, len, false);
    return len;
  };
  while (i < len) {
    const c = at(i);
    const n = at(i + 1);
    if (c === SLASH && n === SLASH) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? len : end;
      wipe(i, stop, true);
      i = stop;
    } else if (c === SLASH && n === STAR) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? len : end + 2;
      wipe(i, stop, true);
      i = stop;
    } else if (c === QUOTE || c === DQUOTE) {
      let k = i + 1;
      while (k < len && at(k) !== c && at(k) !== NEWLINE) k += at(k) === BACKSLASH ? 2 : 1;
      wipe(i + 1, Math.min(k, len), false);
      i = k + 1;
      prev = 'x';
    } else if (c === BACKTICK) {
      i = scanTemplate(i + 1);
      prev = 'x';
    } else if (c === CLOSE_BRACE && templateDepth.length && templateDepth[templateDepth.length - 1] === braces - 1) {
      templateDepth.pop();
      braces--;
      i = scanTemplate(i + 1);
      prev = 'x';
    } else if (c === SLASH && (prev === '' || REGEX_PREFIX.includes(prev) || REGEX_PREFIX_KEYWORDS.has(prev))) {
      let k = i + 1;
      let inClass = false;
      while (k < len && at(k) !== NEWLINE && (inClass || at(k) !== SLASH)) {
        const r = at(k);
        if (r === BACKSLASH) k++;
        else if (r === 91) inClass = true; // [
        else if (r === 93) inClass = false; // ]
        k++;
      }
      wipe(i + 1, Math.min(k, len), false);
      i = k + 1;
      prev = 'x';
    } else if (isIdent(c)) {
      let k = i + 1;
      while (k < len && isIdent(at(k))) k++;
      prev = src.slice(i, k);
      i = k;
    } else {
      if (c === OPEN_BRACE) braces++;
      else if (c === CLOSE_BRACE) braces--;
      if (c !== 32 && c !== 9 && c !== NEWLINE && c !== 13) prev = src[i]!;
      i++;
    }
  }
  let code = '';
  let bare = '';
  let done = 0;
  for (const [from, to, both] of wipes) {
    const kept = src.slice(done, from);
    const blanked = src.slice(from, to).replace(/[^\n]/g, ' ');
    code += kept + (both ? blanked : src.slice(from, to));
    bare += kept + blanked;
    done = to;
  }
  return { code: code + src.slice(done), bare: bare + src.slice(done) };
}

const [SLASH, STAR, BACKSLASH, BACKTICK, QUOTE, DQUOTE, DOLLAR, OPEN_BRACE, CLOSE_BRACE, NEWLINE] = [47, 42, 92, 96, 39, 34, 36, 123, 125, 10];
/** Characters after which `/` starts a regular expression rather than a division. */
const REGEX_PREFIX = '(,=:[!&|?{};+-*%<>~^';

function isIdent(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}

export interface ImportRef {
  specifier: string | null; // null: computed, not a string literal
  kind: 'static' | 'dynamic' | 'require' | 'reference';
  index: number;
}

/** Every module specifier in `src`: import/export ... from, side-effect imports, import(), require(), triple-slash references. */
export function findImports(src: string, views: { code: string } = blank(src)): ImportRef[] {
  const { code } = views;
  const refs: ImportRef[] = [];
  const add = (re: RegExp, kind: ImportRef['kind'], group: number, text = code): void => {
    for (const m of text.matchAll(re)) refs.push({ specifier: m[group] ?? null, kind, index: m.index });
  };
  add(/(?<![\w$.])(?:import|export)\b[^'"`;()=]*?\bfrom\s*(['"])([^'"\n]*)\1/g, 'static', 2);
  add(/(?<![\w$.])import\s*(['"])([^'"\n]*)\1/g, 'static', 2);
  add(/(?<![\w$.])import\s*\(\s*(?:(['"`])([^'"`\n$]*)\1\s*[,)])?/g, 'dynamic', 2);
  add(/(?<![\w$.])require\s*\(\s*(?:(['"`])([^'"`\n$]*)\1\s*\))?/g, 'require', 2);
  // `/// <reference types="node" />` lives in a comment, so it is read from the raw source.
  add(/^\/\/\/\s*<reference\s+(?:types|path)\s*=\s*(['"])([^'"\n]*)\1/gm, 'reference', 2, src);
  return refs.sort((a, b) => a.index - b.index);
}

/** Maps an offset to its 1-based line (binary search over the newline offsets). */
function lineIndex(src: string): (index: number) => number {
  const starts = [0];
  for (let k = src.indexOf('\n'); k >= 0; k = src.indexOf('\n', k + 1)) starts.push(k + 1);
  return (index) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

const GENERATED_RUNTIME = new Set(['protobufjs/minimal.js', 'protobufjs/minimal']);

/** Checks one file of core/. `file` is its path relative to `opts.root`, with `/` separators. */
export function scanSource(file: string, src: string, opts: ScanOptions): Violation[] {
  const out: Violation[] = [];
  const views = blank(src);
  const lineAt = lineIndex(src);
  const isJs = /\.[cm]?js$/.test(file);
  const isGenerated = file.split('/').includes('generated');
  const push = (index: number, rule: Violation['rule'], message: string): void => {
    out.push({ file, line: lineAt(index), rule, message });
  };
  for (const ref of findImports(src, views)) {
    const spec = ref.specifier;
    if (spec === null || spec === '') {
      // a unit test may load what it built at run time (a plugin's generated glue); it runs under vitest only
      if (opts.isTest) continue;
      push(ref.index, 'computed-import', `${ref.kind === 'require' ? 'require' : 'import'}() of a computed specifier cannot be checked; core imports only string literals`);
      continue;
    }
    if (isJs && isGenerated) {
      if (!GENERATED_RUNTIME.has(spec) && !/^\.\.?\/[^]*\.js$/.test(spec)) {
        push(ref.index, 'generated-import', `generated code may import only protobufjs/minimal.js and its sibling modules, not '${spec}'`);
      }
      continue;
    }
    const isRelative = spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/');
    const resolved = isRelative ? relative(opts.root, join(opts.root, dirname(file), spec)).split(sep).join('/') : spec;
    if (/(^|\/)hosts(\/|$)/.test(resolved)) {
      push(ref.index, 'host-import', `'${spec}' reaches into hosts/: core never imports a host (imports point hosts -> core)`);
      continue;
    }
    const bare = spec.replace(/^node:/, '').split('/')[0]!;
    const isNodeModule = spec.startsWith('node:') || (!isRelative && NODE_BUILTINS.has(bare)) || (ref.kind === 'reference' && spec === 'node');
    if (isNodeModule && !opts.isTest) {
      push(ref.index, 'node-module', `'${spec}' is a Node module: core uses web-standard APIs and asks hosts through core/ports`);
      continue;
    }
    if (isRelative && ref.kind !== 'reference' && !spec.endsWith('.ts') && !(spec.endsWith('.js') && resolved.split('/').includes('generated'))) {
      push(ref.index, 'extension', `relative import '${spec}' must name its file with the .ts extension (Deno runs the sources as they are)`);
    }
  }
  if (!opts.isTest) {
    const { code, bare } = views;
    // `x.process` is someone's property and `process:` an object key; `globalThis.process` always
    // counts. `process(` is a local function (Node's process is not callable); `Buffer(` is not.
    const member = /(?<![\w$.])(globalThis\s*\.\s*)?(?:(Buffer)\b\s*[.[(]|(process)\b\s*[.[]|(Buffer|process)\b)/g;
    for (const m of bare.matchAll(member)) {
      const name = m[2] ?? m[3] ?? m[4]!;
      if (m[4] && !m[1]) continue; // a bare mention (typeof process): too weak to fail on
      push(m.index, 'node-global', `Node global '${name}' used: core must not rely on process or Buffer (absent in workerd); take it through core/ports or use Uint8Array/TextEncoder`);
    }
    for (const m of code.matchAll(/(?<![\w$.])globalThis\s*\[\s*(['"`])(Buffer|process)\1\s*\]/g)) {
      push(m.index, 'node-global', `Node global '${m[2]}' used: core must not rely on process or Buffer (absent in workerd)`);
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

/** Bare references to `process`/`Buffer` not followed by a member access: reported as warnings only. */
export function weakGlobalMentions(file: string, src: string): Violation[] {
  const { bare } = blank(src);
  const lineAt = lineIndex(src);
  const out: Violation[] = [];
  for (const m of bare.matchAll(/(?<![\w$.])(Buffer|process)\b(?!\s*[.[(:])/g)) {
    out.push({ file, line: lineAt(m.index), rule: 'node-global', message: `mentions '${m[1]}'` });
  }
  return out;
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: [${v.rule}] ${v.message}`;
}
