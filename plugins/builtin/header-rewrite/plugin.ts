/**
 * header-rewrite: set, add and remove request and response headers, with values made from
 * templates such as `${header.x-user}@${authority}`.
 *
 * Templates are compiled once, on the first call, into a list of parts (literal text and value
 * readers), so a request costs one host read per variable and a string join, no parsing. A value
 * is read from the host only when a template names it.
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
  /** scratch for the values of set then add, evaluated before any change */
  values: string[];
}

interface Compiled {
  request: Side | undefined;
  response: Side | undefined;
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
  return { set, add, remove, values: new Array<string>(set.length + add.length).fill('') };
}

let compiled: Compiled | undefined;

function load(): Compiled {
  const c = config<HeaderRewriteConfig>();
  const request = side(c.request, false);
  const response = side(c.response, true);
  return { request, response, phases: { requestHeaders: !!request, responseHeaders: !!response } };
}

function render(op: Op): string {
  if (op.constant !== undefined) return op.constant;
  const parts = op.parts;
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    out += typeof p === 'string' ? p : p();
  }
  return out;
}

/**
 * Every template is rendered before any header changes, so templates see the headers as they came
 * in (a rule may rename a header: set `x-new: ${header.x-old}`, remove `x-old`). Then remove, set,
 * add, in that order.
 */
function apply(
  s: Side,
  set: (name: string, value: string) => void,
  add: (name: string, value: string) => void,
  remove: (name: string) => void,
): void {
  const values = s.values;
  const nSet = s.set.length;
  for (let i = 0; i < nSet; i++) values[i] = render(s.set[i]!);
  for (let i = 0; i < s.add.length; i++) values[nSet + i] = render(s.add[i]!);
  for (let i = 0; i < s.remove.length; i++) remove(s.remove[i]!);
  for (let i = 0; i < nSet; i++) set(s.set[i]!.name, values[i]!);
  for (let i = 0; i < s.add.length; i++) add(s.add[i]!.name, values[nSet + i]!);
}

export const filter: Filter = {
  wantedPhases(): Phases {
    return (compiled ??= load()).phases;
  },
  onRequestHeaders(): Action {
    const c = (compiled ??= load());
    if (c.request) apply(c.request, setRequestHeader, appendRequestHeader, removeRequestHeader);
    return action.continue();
  },
  onResponseHeaders(): Action {
    const c = (compiled ??= load());
    if (c.response) apply(c.response, setResponseHeader, appendResponseHeader, removeResponseHeader);
    return action.continue();
  },
  onRequestBody: () => action.continue(),
  onResponseBody: () => action.continue(),
};
