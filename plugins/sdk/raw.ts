/**
 * The filter export at the level of weft:plugin@0.2.0's strings (plugins/wit/weft-plugin.wit,
 * `filter`), for filters on the hot path: a handler gets the wanted headers' values as the call's
 * argument and returns the outcome string itself, with no SDK code between the host and it.
 *
 * Why it exists: a guest is interpreted (QuickJS), and once the proxy's own work has left its caches
 * cold every JS function call in it costs ~0.2-0.4 us (benchmarks.md, issue 5 "Fourth pass"). So a
 * filter that runs on every request can precompute its outcome entries at load (the `outcome`
 * builders below) and do per call only what depends on the request. `defineFilter` with
 * `@weft/plugin-sdk/http` is the convenient level and what `weft plugin new` scaffolds; the
 * built-ins header-rewrite and ab-router use this one.
 *
 * A raw handler must not call the `@weft/plugin-sdk/http` writers (they would change the exchange
 * through the host at once, out of order with the returned outcome); reads through them are host calls.
 */
import type { Action, Filter, Phases } from './types.ts';

/** joins the values in a call's argument, and ends each field of an outcome entry */
export const SEP = '\u0000';
/** an absent header in a call's argument */
export const ABSENT = '\u0001';

export interface RawFilter {
  /** the phases this configuration needs (read once per instance, after config() can be read) */
  phases(): Phases;
  /** the headers whose values come with each call, in this order (`:path`, `:method`, `:authority`, `:scheme`; `:status` in `response`) */
  headers?(): { request?: string[]; response?: string[] };
  onRequestHeaders?(values: string): string;
  onRequestBody?(values: string, endOfStream: boolean): string;
  onResponseHeaders?(values: string): string;
  onResponseBody?(values: string, endOfStream: boolean): string;
}

const none = (): string => '';

/**
 * The `filter` export from raw handlers. `load` runs once per instance, when the host first asks
 * (after config() can be read); the handlers it returns then become the export's own functions, so
 * a call runs the handler itself, nothing of the SDK before it.
 *
 *   export const filter = defineRawFilter(() => {
 *     const entry = outcome.setResponse('x-served-by', config<{ name: string }>().name);
 *     return { phases: () => ({ requestHeaders: true }), onRequestHeaders: () => entry };
 *   });
 */
export function defineRawFilter(load: () => RawFilter): Filter {
  let f: RawFilter | undefined;
  let response: string[] = [];
  const ready = (): RawFilter => {
    if (f !== undefined) return f;
    const r = load();
    f = r;
    // the export object's functions become the handlers (the runtime looks them up per call)
    exp.onRequestHeaders = r.onRequestHeaders ?? none;
    exp.onRequestBody = r.onRequestBody ?? none;
    exp.onResponseHeaders = r.onResponseHeaders ?? none;
    exp.onResponseBody = r.onResponseBody ?? none;
    return r;
  };
  const exp: Filter = {
    wantedPhases: () => {
      const r = ready();
      const p = r.phases();
      return {
        requestHeaders: !!p.requestHeaders && !!r.onRequestHeaders,
        requestBody: !!p.requestBody && !!r.onRequestBody,
        responseHeaders: !!p.responseHeaders && !!r.onResponseHeaders,
        responseBody: !!p.responseBody && !!r.onResponseBody,
      };
    },
    requestHeadersWanted() {
      const h = ready().headers?.();
      response = (h?.response ?? []).map((n) => n.toLowerCase());
      return (h?.request ?? []).map((n) => n.toLowerCase());
    },
    responseHeadersWanted: () => response,
    // until load: through ready() (a runtime that kept these references still gets the handlers)
    onRequestHeaders: (v) => (ready().onRequestHeaders ?? none)(v),
    onRequestBody: (v, e) => (ready().onRequestBody ?? none)(v, e),
    onResponseHeaders: (v) => (ready().onResponseHeaders ?? none)(v),
    onResponseBody: (v, e) => (ready().onResponseBody ?? none)(v, e),
  };
  return exp;
}

/** A value from a call's argument (one wanted name: the argument itself): undefined when absent. */
export function present(v: string | undefined): string | undefined {
  return v === ABSENT ? undefined : v;
}

/**
 * Outcome entries, to concatenate (changes first, in order; then at most one of route, cluster,
 * respond). Made once at load where they do not depend on the request.
 */
export const outcome = {
  setRequest: (name: string, value: string): string => `q${name}${SEP}${value}${SEP}`,
  appendRequest: (name: string, value: string): string => `a${name}${SEP}${value}${SEP}`,
  removeRequest: (name: string): string => `x${name}${SEP}`,
  setResponse: (name: string, value: string): string => `Q${name}${SEP}${value}${SEP}`,
  appendResponse: (name: string, value: string): string => `A${name}${SEP}${value}${SEP}`,
  removeResponse: (name: string): string => `X${name}${SEP}`,
  route: (name: string): string => `r${name}${SEP}`,
  cluster: (name: string): string => `c${name}${SEP}`,
  /** must be the last entry */
  respond(status: number, body = '', headers: Record<string, string> = {}): string {
    let s = `d${status}${SEP}${Object.keys(headers).length}${SEP}`;
    for (const name in headers) s += `${name.toLowerCase()}${SEP}${headers[name]}${SEP}`;
    return s + body;
  },
  /** an SDK action as its outcome entry ('' for continue) */
  action(a: Action): string {
    switch (a.tag) {
      case 'continue':
        return '';
      case 'route':
        return outcome.route(a.val);
      case 'cluster':
        return outcome.cluster(a.val);
      case 'respond': {
        let s = `d${a.val.status}${SEP}${a.val.headers.length}${SEP}`;
        for (const h of a.val.headers) s += `${h.name.toLowerCase()}${SEP}${h.value}${SEP}`;
        return s + a.val.body;
      }
    }
  },
};
