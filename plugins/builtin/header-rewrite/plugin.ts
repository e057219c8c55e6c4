/**
 * header-rewrite: set, add and remove request and response headers, with values made from
 * templates such as `${header.x-user}@${authority}`.
 *
 * Templates are compiled once, on the first call, into a list of parts (literal text and value
 * readers), so a request costs one host read per variable and a string join, no parsing. A value
 * is read from the host only when a template names it. Response rules that are all plain text are
 * made from the request phase, so such a config costs one guest call per request, not two.
 */
import {
  appendRequestHeader,
  appendResponseHeader,
  authority,
  method,
  path,
  removeRequestHeader,
  removeResponseHeader,
  requestHeader,
  responseHeader,
  responseStatus,
  scheme,
  setRequestHeader,
  setResponseHeader,
  sourceAddress,
  sourcePrincipal,
} from 'weft:plugin/http@0.1.0';
import { action, config, log, type Action, type Filter, type Phases } from '../../sdk/index.ts';

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

/** one piece of a template: literal text, or a reader of a value of the exchange */
type Part = string | (() => string);

interface Op {
  name: string;
  /** set when the template is plain text: no work per call */
  constant: string | undefined;
  parts: Part[];
}

interface Side {
  set: Op[];
  add: Op[];
  remove: string[];
}

/** the work of one phase, made once from the config: a call runs only this closure */
type Apply = () => void;

interface Compiled {
  request: Apply | undefined;
  response: Apply | undefined;
  phases: Phases;
}

const readers: Record<string, () => string> = {
  method,
  path,
  authority,
  scheme,
  'source.principal': sourcePrincipal,
  'source.address': sourceAddress,
  'response.status': () => {
    const s = responseStatus();
    return s === 0 ? '' : String(s);
  },
};

function reader(variable: string, response: boolean): () => string {
  if (variable.startsWith('header.')) {
    const name = variable.slice(7).toLowerCase();
    return () => requestHeader(name) ?? '';
  }
  if (variable.startsWith('response.header.')) {
    if (!response) configError(`header-rewrite: \${${variable}} is only known in response rules`);
    const name = variable.slice(16).toLowerCase();
    return () => responseHeader(name) ?? '';
  }
  const r = readers[variable];
  if (!r) configError(`header-rewrite: unknown template variable \${${variable}}`);
  return r;
}

/** `a ${x} b` -> ['a ', readX, ' b']; a `$` not followed by `{` is text */
function compileTemplate(template: string, response: boolean): Part[] {
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('${', at);
    if (open < 0) break;
    const close = template.indexOf('}', open + 2);
    if (close < 0) configError(`header-rewrite: unclosed \${ in template "${template}"`);
    if (open > at) parts.push(template.slice(at, open));
    parts.push(reader(template.slice(open + 2, close).trim(), response));
    at = close + 1;
  }
  if (at < template.length) parts.push(template.slice(at));
  return parts;
}

function ops(map: Record<string, string> | undefined, response: boolean): Op[] {
  const out: Op[] = [];
  for (const name in map ?? {}) {
    const parts = compileTemplate(String(map![name]), response);
    const constant = parts.length === 0 ? '' : parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : undefined;
    out.push({ name: name.toLowerCase(), constant, parts });
  }
  return out;
}

function side(rules: Rules | undefined, response: boolean): Side | undefined {
  if (!rules) return undefined;
  const set = ops(rules.set, response);
  const add = ops(rules.add, response);
  const remove = (rules.remove ?? []).map((n) => String(n).toLowerCase());
  if (set.length + add.length + remove.length === 0) return undefined;
  return { set, add, remove };
}

let compiled: Compiled | undefined;

function load(): Compiled {
  const c = config<HeaderRewriteConfig>();
  const request = side(c.request, false);
  const response = side(c.response, true);
  const req = request && compileSide(request, setRequestHeader, appendRequestHeader, removeRequestHeader);
  const res = response && compileSide(response, setResponseHeader, appendResponseHeader, removeResponseHeader);
  if (res !== undefined && constantSide(response!)) {
    // Response rules of constants only (the usual: a header added, `server` removed) do not depend on
    // the response: they are asked for in the request phase, the host makes them on the response
    // head (plugins/wit: response functions in a request phase), and no response call is needed.
    return {
      request: req === undefined ? res : () => (req(), res()),
      response: undefined,
      phases: { requestHeaders: true, responseHeaders: false },
    };
  }
  return { request: req, response: res, phases: { requestHeaders: !!request, responseHeaders: !!response } };
}

/** whether every value of a side is plain text (removes always are) */
function constantSide(s: Side): boolean {
  for (const op of s.set) if (op.constant === undefined) return false;
  for (const op of s.add) if (op.constant === undefined) return false;
  return true;
}

/**
 * A template as one function. The usual shapes get a closure of their own (a lone variable is its
 * reader, `text${var}` one concatenation), so a call runs a few bytecodes instead of a loop over
 * parts: the guest is interpreted, and its work per request is what a plugin costs (benchmarks.md,
 * "Per-request cost, second pass").
 */
function renderer(op: Op): () => string {
  const constant = op.constant;
  if (constant !== undefined) return () => constant;
  const parts = op.parts;
  if (parts.length === 1) return parts[0] as () => string;
  if (parts.length === 2) {
    const [a, b] = parts;
    if (typeof a === 'string') return () => a + (b as () => string)();
    if (typeof b === 'string') return () => a!() + b;
  }
  return () => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      out += typeof p === 'string' ? p : p();
    }
    return out;
  };
}

const noop: Apply = () => {};

/**
 * Every template is rendered before any header changes, so templates see the headers as they came
 * in (a rule may rename a header: set `x-new: ${header.x-old}`, remove `x-old`). Then remove, set,
 * add, in that order. One rule alone (the common case) needs no scratch: it renders, then writes.
 */
function compileSide(
  s: Side,
  set: (name: string, value: string) => void,
  add: (name: string, value: string) => void,
  remove: (name: string) => void,
): Apply {
  const writes: { name: string; write: (name: string, value: string) => void; render: () => string; constant: boolean }[] = [];
  for (const op of s.set) writes.push({ name: op.name, write: set, render: renderer(op), constant: op.constant !== undefined });
  for (const op of s.add) writes.push({ name: op.name, write: add, render: renderer(op), constant: op.constant !== undefined });
  const removes = s.remove;
  if (writes.length + removes.length === 0) return noop;
  if (writes.length === 1 && removes.length === 0) {
    const { name, write, render } = writes[0]!;
    return () => write(name, render());
  }
  if (writes.length === 0 && removes.length === 1) {
    const name = removes[0]!;
    return () => remove(name);
  }
  // constants are rendered once, here; only templates are rendered per call, into `values`
  const nowRead = writes.filter((w) => !w.constant);
  const values = new Array<string>(nowRead.length).fill('');
  const valueOf = writes.map((w) => (w.constant ? -1 : nowRead.indexOf(w)));
  const fixed = writes.map((w) => (w.constant ? w.render() : ''));
  return () => {
    for (let i = 0; i < nowRead.length; i++) values[i] = nowRead[i]!.render();
    for (let i = 0; i < removes.length; i++) remove(removes[i]!);
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      const k = valueOf[i]!;
      w.write(w.name, k < 0 ? fixed[i]! : values[k]!);
    }
  };
}

// the same constant as the SDK's action.continue(), without the call
const CONTINUE = action.continue();

export const filter: Filter = {
  wantedPhases(): Phases {
    return (compiled ??= load()).phases;
  },
  onRequestHeaders(): Action {
    const apply = (compiled ??= load()).request;
    if (apply !== undefined) apply();
    return CONTINUE;
  },
  onResponseHeaders(): Action {
    const apply = (compiled ??= load()).response;
    if (apply !== undefined) apply();
    return CONTINUE;
  },
  onRequestBody: () => CONTINUE,
  onResponseBody: () => CONTINUE,
};
