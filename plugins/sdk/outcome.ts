/**
 * The guest's side of a weft:plugin@0.2.0 filter call (plugins/wit/weft-plugin.wit, `filter`): the
 * wanted headers' values the call brought, and the outcome string its header changes and action
 * become. The host's side is core/plugin/filter-outcome.ts (the same format; the two are checked
 * against each other in outcome.test.ts). `@weft/plugin-sdk/http` re-exports the readers and
 * writers below; `defineFilter` wraps the handlers with `filterExport`.
 *
 * Why buffer the changes: each host call costs the guest ~0.8 us once the proxy's work has left its
 * caches cold, so a filter's changes go back together in its result. Reads see the changes already
 * made in the call (a header set and then read gives the value set), as they did through the host.
 *
 * Written for the interpreter: QuickJS runs this per call, where a JS function call, a property
 * lookup or a loop is what costs. So the state is module variables (one instance runs one call at a
 * time), a change is appended to the outcome string as it is made (no list, no final loop), and
 * each reader and writer is one function. This module imports nothing from the host, so an
 * l4-policy (whose world has no `http`) can use the SDK: http.ts hands in the host's functions.
 */
import type { Action, Filter, Phases } from './types.ts';
import type { FilterHandlers } from './index.ts';
import { outcome } from './raw.ts';

const SEP = '\u0000';
const ABSENT = '\u0001';

/** the constant `continue` (action.continue() returns it) */
export const CONTINUE: Action = { tag: 'continue' };

/** the host's `http` functions, for reads not brought by the call and for calls outside a filter call (http.ts sets them) */
export interface HostHttp {
  requestHeader(name: string): string | null | undefined;
  responseHeader(name: string): string | null | undefined;
  responseStatus(): number;
  path(): string;
  method(): string;
  authority(): string;
  scheme(): string;
  setRequestHeader(name: string, value: string): void;
  appendRequestHeader(name: string, value: string): void;
  removeRequestHeader(name: string): void;
  setResponseHeader(name: string, value: string): void;
  appendResponseHeader(name: string, value: string): void;
  removeResponseHeader(name: string): void;
}
let host: HostHttp | undefined;
export function setHostHttp(h: HostHttp): void {
  host = h;
}

// ---- the call running

/** names given at load (lower case) */
let requestNames: string[] = [];
let responseNames: string[] = [];
/** the one request name when one was given (the usual): its read is a compare, no list search */
let onlyRequest: string | undefined;
/** a filter call is running (changes are kept); false: an endpoint picker's call, changes go to the host */
let inCall = false;
/** the call is a response phase (its values are response headers) */
let response = false;
let values = '';
let split: string[] | undefined;
/** the changes so far, as outcome entries */
let out = '';


const continueHandler = (): Action => CONTINUE;

/**
 * The `filter` export over the handlers (index.ts's defineFilter adds the phases). The four phase
 * functions repeat their few lines on purpose: a shared helper would be one more interpreted call
 * per request.
 */
export function filterExport(h: FilterHandlers, wantedPhases: () => Phases): Filter {
  const onRequestHeaders = h.onRequestHeaders ?? continueHandler;
  const onRequestBody = h.onRequestBody ?? continueHandler;
  const onResponseHeaders = h.onResponseHeaders ?? continueHandler;
  const onResponseBody = h.onResponseBody ?? continueHandler;
  const named = h.headers;
  return {
    wantedPhases,
    // the host asks for the request names first, once per instance
    requestHeadersWanted() {
      const w = named?.();
      requestNames = (w?.request ?? []).map((n) => n.toLowerCase());
      responseNames = (w?.response ?? []).map((n) => n.toLowerCase());
      onlyRequest = requestNames.length === 1 ? requestNames[0] : undefined;
      return requestNames.slice();
    },
    responseHeadersWanted: () => responseNames.slice(),
    onRequestHeaders(v) {
      values = v;
      split = undefined;
      response = false;
      inCall = true;
      out = '';
      const a = onRequestHeaders();
      inCall = false;
      return a === CONTINUE ? out : finish(a);
    },
    onRequestBody(v, endOfStream) {
      values = v;
      split = undefined;
      response = false;
      inCall = true;
      out = '';
      const a = onRequestBody(endOfStream);
      inCall = false;
      return a === CONTINUE ? out : finish(a);
    },
    onResponseHeaders(v) {
      values = v;
      split = undefined;
      response = true;
      inCall = true;
      out = '';
      const a = onResponseHeaders();
      inCall = false;
      return a === CONTINUE ? out : finish(a);
    },
    onResponseBody(v, endOfStream) {
      values = v;
      split = undefined;
      response = true;
      inCall = true;
      out = '';
      const a = onResponseBody(endOfStream);
      inCall = false;
      return a === CONTINUE ? out : finish(a);
    },
  };
}

/** the outcome: the changes, then the action (raw.ts writes the action's entry) */
function finish(a: Action): string {
  return out + outcome.action(a);
}

// ---- reads

/** a request header by (case-insensitive) name, or `:path`, `:method`, `:authority`, `:scheme`; undefined when absent */
export function requestHeader(name: string): string | undefined {
  // the common case: the one named header, no change made yet
  if (name === onlyRequest && out === '' && inCall && !response) return values === ABSENT ? undefined : values;
  if (inCall && !response && out === '') {
    const i = requestNames.indexOf(name);
    if (i >= 0) {
      const v = requestNames.length === 1 ? values : (split ??= values.split(SEP))[i];
      return v === ABSENT ? undefined : v;
    }
  }
  return readRequest(name.toLowerCase());
}

function readRequest(n: string): string | undefined {
  let base: string | undefined;
  const i = inCall && !response ? requestNames.indexOf(n) : -1;
  if (i >= 0) {
    const v = requestNames.length === 1 ? values : (split ??= values.split(SEP))[i];
    base = v === ABSENT ? undefined : v;
  } else base = hostRequest(n);
  return out === '' ? base : changed(false, n, base);
}

function hostRequest(n: string): string | undefined {
  const h = host!;
  switch (n) {
    case ':path':
      return h.path();
    case ':method':
      return h.method();
    case ':authority':
      return h.authority();
    case ':scheme':
      return h.scheme();
  }
  return h.requestHeader(n) ?? undefined;
}

/** a response header by name (response phases; undefined before); undefined when absent */
export function responseHeader(name: string): string | undefined {
  const n = name.toLowerCase();
  let base: string | undefined;
  const i = inCall && response ? responseNames.indexOf(n) : -1;
  if (i >= 0) {
    const v = responseNames.length === 1 ? values : (split ??= values.split(SEP))[i];
    base = v === ABSENT ? undefined : v;
  } else base = host!.responseHeader(n) ?? undefined;
  return out === '' ? base : changed(true, n, base);
}

/** the response status (0 before the response) */
export function responseStatus(): number {
  const i = inCall && response ? responseNames.indexOf(':status') : -1;
  if (i < 0) return host!.responseStatus();
  return Number(responseNames.length === 1 ? values : (split ??= values.split(SEP))[i]);
}

/**
 * `name` (lower case) as this call's changes left it, over `base` (its value before the call), read
 * back from the outcome string; only reads after writes come here.
 */
function changed(responseSide: boolean, name: string, base: string | undefined): string | undefined {
  const set = responseSide ? 'Q' : 'q';
  const append = responseSide ? 'A' : 'a';
  const remove = responseSide ? 'X' : 'x';
  let v = base;
  let i = 0;
  while (i < out.length) {
    const l = out[i]!;
    const e1 = out.indexOf(SEP, i + 1);
    const matches = out.slice(i + 1, e1).toLowerCase() === name;
    if (l === 'x' || l === 'X') {
      if (l === remove && matches) v = undefined;
      i = e1 + 1;
      continue;
    }
    const e2 = out.indexOf(SEP, e1 + 1);
    if (matches) {
      if (l === set) v = out.slice(e1 + 1, e2);
      // the first value is what a read by name gives; an appended one shows only where none was
      else if (l === append && v === undefined) v = out.slice(e1 + 1, e2);
    }
    i = e2 + 1;
  }
  return v;
}

// ---- changes: kept in the outcome during a filter call, made by the host at once otherwise

export function setRequestHeader(name: string, value: string): void {
  if (inCall) out = out + 'q' + name + SEP + value + SEP;
  else host!.setRequestHeader(name, value);
}
export function appendRequestHeader(name: string, value: string): void {
  if (inCall) out = out + 'a' + name + SEP + value + SEP;
  else host!.appendRequestHeader(name, value);
}
export function removeRequestHeader(name: string): void {
  if (inCall) out = out + 'x' + name + SEP;
  else host!.removeRequestHeader(name);
}
/** in a request phase: kept for the response (made when it arrives, at this filter's place) */
export function setResponseHeader(name: string, value: string): void {
  if (inCall) out = out + 'Q' + name + SEP + value + SEP;
  else host!.setResponseHeader(name, value);
}
export function appendResponseHeader(name: string, value: string): void {
  if (inCall) out = out + 'A' + name + SEP + value + SEP;
  else host!.appendResponseHeader(name, value);
}
export function removeResponseHeader(name: string): void {
  if (inCall) out = out + 'X' + name + SEP;
  else host!.removeResponseHeader(name);
}
