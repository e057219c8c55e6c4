/**
 * header-rewrite: set, add and remove request and response headers, with values made from
 * templates such as `${header.x-user}@${authority}`.
 *
 * The rules of each phase are compiled once, at load, into one JavaScript function (generated source:
 * every config string goes in as a JSON literal, every variable as a fixed expression) that returns
 * the phase's outcome string (weft:plugin@0.2.0, the SDK's raw level): a request costs one guest
 * function and a few string concatenations, no loop, no host call for what the call brings. The
 * headers (and `:path`, `:method`, ...) a phase's templates read are named to the host, so their
 * values come with the call; `${source.*}` and a response rule's request variables are host calls.
 * Response rules that are all plain text are made from the request phase, so such a config costs one
 * guest call per request, not two.
 */
// host reads, for what the call does not bring (the SDK's http level is not used at the strings level)
import { authority, method, path, requestHeader, scheme, sourceAddress, sourcePrincipal } from 'weft:plugin/http@0.2.0';
import { ABSENT, config, defineRawFilter, log, SEP, type Phases } from '../../sdk/index.ts';

/**
 * A config error: logged (the host shows the guest's log, while a thrown error reaches it only as a
 * trap), then thrown, so the load fails or the call fails by the failStrategy.
 */
function configError(message: string): never {
  log.error(message);
  throw new Error(message);
}

interface Rules {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}
interface HeaderRewriteConfig {
  request?: Rules;
  response?: Rules;
}

/** a phase as generated code: its outcome function and the header names its call brings */
interface Phase {
  run: (values: string) => string;
  wanted: string[];
}

interface Compiled {
  request: Phase | undefined;
  response: Phase | undefined;
  phases: Phases;
}

/** what the generated code may call: host reads the call does not bring */
const HOST = {
  rh: (n: string) => requestHeader(n) ?? '',
  method,
  path,
  authority,
  scheme,
  sp: sourcePrincipal,
  sa: sourceAddress,
};
const PSEUDO: Record<string, string> = { method: ':method', path: ':path', authority: ':authority', scheme: ':scheme' };

/** compiles the templates of one phase: each variable becomes an expression of the generated code */
class PhaseBuilder {
  readonly wanted: string[] = [];
  constructor(readonly response: boolean) {}

  /** the expression for one variable */
  variable(v: string): string {
    if (v.startsWith('header.')) {
      const name = v.slice(7).toLowerCase();
      // a response rule sees the request as it is then, after every filter: read it then (host call)
      return this.response ? `H.rh(${JSON.stringify(name)})` : this.value(name);
    }
    if (v.startsWith('response.header.')) {
      if (!this.response) configError(`header-rewrite: \${${v}} is only known in response rules`);
      return this.value(v.slice(16).toLowerCase());
    }
    if (v === 'response.status') {
      if (!this.response) return "''";
      return this.value(':status');
    }
    if (v === 'source.principal') return 'H.sp()';
    if (v === 'source.address') return 'H.sa()';
    const pseudo = PSEUDO[v];
    if (pseudo === undefined) configError(`header-rewrite: unknown template variable \${${v}}`);
    return this.response ? `H.${v}()` : this.value(pseudo);
  }

  /** a value the call brings: v0, v1, ... (absent: '') */
  private value(name: string): string {
    let i = this.wanted.indexOf(name);
    if (i < 0) i = this.wanted.push(name) - 1;
    return `v${i}`;
  }

  /** `a ${x} b` -> an expression; plain text -> a JSON literal */
  template(t: string): { expr: string; constant: boolean } {
    const parts: string[] = [];
    let constant = true;
    let at = 0;
    for (;;) {
      const open = t.indexOf('${', at);
      if (open < 0) break;
      const close = t.indexOf('}', open + 2);
      if (close < 0) configError(`header-rewrite: unclosed \${ in template "${t}"`);
      if (open > at) parts.push(JSON.stringify(t.slice(at, open)));
      parts.push(this.variable(t.slice(open + 2, close).trim()));
      constant = false;
      at = close + 1;
    }
    if (at < t.length || parts.length === 0) parts.push(JSON.stringify(t.slice(at)));
    return { expr: parts.join(' + '), constant };
  }
}

/** the outcome entry letters: [set, add, remove] of each side */
const LETTERS = { request: ['q', 'a', 'x'], response: ['Q', 'A', 'X'] } as const;

/**
 * The entries of one side's rules as expressions, in the order they apply: removes, then sets, then
 * adds. Every template is rendered first, into a local, so templates see the headers as they came in
 * (a rule may rename a header: set `x-new: ${header.x-old}`, remove `x-old`).
 */
function sideEntries(rules: Rules, letters: readonly [string, string, string], b: PhaseBuilder, locals: string[]): { entries: string[]; constant: boolean } {
  const entries: string[] = [];
  let constant = true;
  for (const name of rules.remove ?? []) entries.push(JSON.stringify(`${letters[2]}${String(name).toLowerCase()}${SEP}`));
  const write = (letter: string, map: Record<string, string> | undefined) => {
    for (const name in map ?? {}) {
      const t = b.template(String(map![name]));
      const head = JSON.stringify(`${letter}${name.toLowerCase()}${SEP}`);
      if (t.constant) entries.push(`${head} + ${t.expr} + ${JSON.stringify(SEP)}`);
      else {
        constant = false;
        locals.push(t.expr);
        entries.push(`${head} + t${locals.length - 1} + ${JSON.stringify(SEP)}`);
      }
    }
  };
  write(letters[0], rules.set);
  write(letters[1], rules.add);
  return { entries, constant };
}

function empty(r: Rules | undefined): boolean {
  return !r || Object.keys(r.set ?? {}).length + Object.keys(r.add ?? {}).length + (r.remove ?? []).length === 0;
}

/** one phase's outcome function from its sides' rules (request rules, then response rules kept for the response) */
function compilePhase(response: boolean, sides: { rules: Rules; letters: readonly [string, string, string] }[]): Phase {
  const b = new PhaseBuilder(response);
  const locals: string[] = [];
  const entries: string[] = [];
  for (const s of sides) entries.push(...sideEntries(s.rules, s.letters, b, locals).entries);
  const lines: string[] = [];
  const n = b.wanted.length;
  if (n === 1) lines.push(`const v0 = values === ${JSON.stringify(ABSENT)} ? '' : values;`);
  else if (n > 1) {
    lines.push(`const p = values.split(${JSON.stringify(SEP)});`);
    for (let i = 0; i < n; i++) lines.push(`const v${i} = p[${i}] === undefined || p[${i}] === ${JSON.stringify(ABSENT)} ? '' : p[${i}];`);
  }
  locals.forEach((e, i) => lines.push(`const t${i} = ${e};`));
  lines.push(`return ${entries.length ? entries.join(' + ') : "''"};`);
  // eslint-disable-next-line no-new-func -- the code is made from JSON literals and fixed expressions only
  const run = new Function('H', `return function (values) {\n${lines.join('\n')}\n};`)(HOST) as (values: string) => string;
  return { run, wanted: b.wanted };
}

function load(): Compiled {
  const c = config<HeaderRewriteConfig>();
  const hasRequest = !empty(c.request);
  const hasResponse = !empty(c.response);
  const req = { rules: c.request ?? {}, letters: LETTERS.request };
  const res = { rules: c.response ?? {}, letters: LETTERS.response };
  if (hasResponse && constantRules(c.response!)) {
    // Response rules of constants only (the usual: a header added, `server` removed) do not depend on
    // the response: they go back with the request phase's outcome, the host makes them on the
    // response head (plugins/wit: response changes in a request phase), and no response call is needed.
    return { request: compilePhase(false, hasRequest ? [req, res] : [res]), response: undefined, phases: { requestHeaders: true, responseHeaders: false } };
  }
  return {
    request: hasRequest ? compilePhase(false, [req]) : undefined,
    response: hasResponse ? compilePhase(true, [res]) : undefined,
    phases: { requestHeaders: hasRequest, responseHeaders: hasResponse },
  };
}

/** whether every value of a side is plain text (removes always are); a bad template fails here too */
function constantRules(r: Rules): boolean {
  const b = new PhaseBuilder(true);
  for (const m of [r.set, r.add]) for (const name in m ?? {}) if (!b.template(String(m![name])).constant) return false;
  return true;
}

export const filter = defineRawFilter(() => {
  const k = load();
  return {
    phases: () => k.phases,
    headers: () => ({ request: k.request?.wanted ?? [], response: k.response?.wanted ?? [] }),
    onRequestHeaders: k.request?.run,
    onResponseHeaders: k.response?.run,
  };
});
