/**
 * @weft/plugin-sdk: helpers compiled INTO a plugin (esbuild bundles them with the plugin's code).
 *
 * Two rules shape this file:
 * - Top-level code runs at BUILD time (the component is a snapshot taken after the module ran), where
 *   host imports do not exist. So nothing here calls the host at module level: `config()` reads and
 *   parses on its first call, `counter(name)` only remembers the name.
 * - Every call crosses a boundary that costs microseconds, so results that do not vary are constant
 *   objects made once (`action.continue()` returns the same object each time).
 *
 * Only `weft:plugin/host` is imported here: every world has it, while `weft:plugin/http` is absent
 * from the l4-policy world (filters and pickers import `@weft/plugin-sdk/http`).
 *
 * The engines differ at the boundary, and these wrappers hide it (measured): a QuickJS guest must
 * pass u64/s64 as Numbers (a BigInt argument traps), gets Numbers back and `null` for an absent
 * option; StarlingMonkey takes Numbers or BigInts, gives BigInts back and `undefined`. So the SDK
 * passes Numbers, converts what comes back with Number(), and turns null into undefined.
 */
/// <reference path="./wit.d.ts" />
import {
  config as hostConfig,
  counterAdd,
  histogramRecord,
  kvGet,
  kvIncrement,
  kvSet,
  log as hostLog,
  monotonicNow,
} from 'weft:plugin/host@0.2.0';
import { CONTINUE, filterExport } from './outcome.ts';
import type { Action, Connection, Decision, Endpoint, Filter, ConnectionPolicy, Picker, Phases, Header } from './types.ts';

export type * from './types.ts';
export { defineRawFilter, outcome, present, SEP, ABSENT, type RawFilter } from './raw.ts';

// ---- config ----

let configValue: unknown;
let configRead = false;

/** The WasmPlugin's pluginConfig, parsed on the first call and kept ({} when none). */
export function config<T = Record<string, unknown>>(): T {
  if (!configRead) {
    const text = hostConfig();
    configValue = text ? JSON.parse(text) : {};
    configRead = true;
  }
  return configValue as T;
}

// ---- filter actions ----

const NO_HEADERS: Header[] = [];

export const action = {
  /** go on to the next filter, then the route (a constant: no allocation) */
  continue(): Action {
    return CONTINUE;
  },
  /** answer now with this status, body and headers; no later filter or upstream sees the request */
  respond(status: number, body = '', headers?: Record<string, string> | Header[]): Action {
    return { tag: 'respond', val: { status, body, headers: toHeaders(headers) } };
  },
  /** use the route of this name (a VirtualService http route's or HTTPRoute rule's `name`) */
  route(name: string): Action {
    return { tag: 'route', val: name };
  },
  /** send to this cluster (`outbound|<port>|<subset>|<host>`), bypassing the route's backends */
  cluster(name: string): Action {
    return { tag: 'cluster', val: name };
  },
};

function toHeaders(headers: Record<string, string> | Header[] | undefined): Header[] {
  if (!headers) return NO_HEADERS;
  if (Array.isArray(headers)) return headers;
  const out: Header[] = [];
  for (const name in headers) out.push({ name, value: headers[name]! });
  return out;
}

export interface FilterHandlers {
  onRequestHeaders?(): Action;
  onRequestBody?(endOfStream: boolean): Action;
  onResponseHeaders?(): Action;
  onResponseBody?(endOfStream: boolean): Action;
  /**
   * The phases this configuration needs, when fewer than the handlers given (a rule set with no
   * response rules: no response phase). Called once per loaded version, after `config()` can be
   * read; a phase without a handler stays off.
   */
  phases?(): Phases;
  /**
   * The headers the handlers read, named once per loaded version (after `config()` can be read):
   * their values come with each call, so `requestHeader(name)` costs no host call. `request` may
   * name `:path`, `:method`, `:authority` and `:scheme`; `response` may name `:status`. A header
   * not named here still reads, through a host call.
   */
  headers?(): { request?: string[]; response?: string[] };
}


/**
 * A complete `filter` export from the handlers given: absent phases continue, and `wantedPhases`
 * names only the given ones (narrowed by `phases()` when given), so the host never calls (or
 * buffers a body for) the others: a call costs microseconds even when it does nothing.
 *
 *   export const filter = defineFilter({ onRequestHeaders() { ...; return action.continue(); } });
 */
export function defineFilter(handlers: FilterHandlers): Filter {
  const given: Phases = {
    requestHeaders: !!handlers.onRequestHeaders,
    requestBody: !!handlers.onRequestBody,
    responseHeaders: !!handlers.onResponseHeaders,
    responseBody: !!handlers.onResponseBody,
  };
  const narrow = handlers.phases;
  return filterExport(
    handlers,
    narrow
      ? () => {
          const p = narrow();
          return {
            requestHeaders: given.requestHeaders && !!p.requestHeaders,
            requestBody: given.requestBody && !!p.requestBody,
            responseHeaders: given.responseHeaders && !!p.responseHeaders,
            responseBody: given.responseBody && !!p.responseBody,
          };
        }
      : () => given,
  );
}

// ---- l4 policy ----

const ALLOW: Decision = { tag: 'allow' };

export const decision = {
  /** let the connection through (a constant) */
  allow(): Decision {
    return ALLOW;
  },
  /** refuse the connection; the reason is logged and counted by the node proxy */
  deny(reason: string): Decision {
    return { tag: 'deny', val: reason };
  },
};

/** The `connectionPolicy` export: `export const connectionPolicy = defineL4Policy((conn) => decision.allow())` */
export function defineL4Policy(check: (conn: Connection) => Decision): ConnectionPolicy {
  return { check };
}

// ---- endpoint picker ----

/** The `picker` export: return candidates' indices, best first ([] leaves the choice to the balancer). */
export function definePicker(pick: (candidates: Endpoint[]) => Uint32Array | number[]): Picker {
  return { pick };
}

/** A candidate's metric by name (undefined when the host has none); a linear scan of a short list. */
export function metric(e: Endpoint, name: string): number | undefined {
  for (const [k, v] of e.metrics) if (k === name) return v;
  return undefined;
}

/** A candidate's label by name. */
export function label(e: Endpoint, name: string): string | undefined {
  for (const [k, v] of e.labels) if (k === name) return v;
  return undefined;
}

// ---- log, metrics, clock, key-value ----

export const log = {
  debug(message: string): void {
    hostLog('debug', message);
  },
  info(message: string): void {
    hostLog('info', message);
  },
  warn(message: string): void {
    hostLog('warn', message);
  },
  error(message: string): void {
    hostLog('error', message);
  },
};

export interface Counter {
  add(n?: number): void;
}

/** `weft_plugin_<name>_total{plugin=...}`; safe to make at top level (it calls the host only in add). */
export function counter(name: string): Counter {
  return {
    add(n = 1) {
      counterAdd(name, n);
    },
  };
}

export interface Histogram {
  record(value: number): void;
}

/** `weft_plugin_<name>{plugin=...}` */
export function histogram(name: string): Histogram {
  return {
    record(value) {
      histogramRecord(name, value);
    },
  };
}

/** Monotonic clock in nanoseconds (arbitrary start); a Number, exact to 2^53 ns (104 days of uptime). */
export function nowNs(): number {
  return Number(monotonicNow());
}

/** Monotonic clock in milliseconds (arbitrary start). */
export function nowMs(): number {
  return Number(monotonicNow()) / 1e6;
}

/** The key-value store shared by every instance of this plugin in the process. ttlMs 0: no expiry. */
export const kv = {
  get(key: string): string | undefined {
    return kvGet(key) ?? undefined;
  },
  set(key: string, value: string, ttlMs = 0): void {
    kvSet(key, value, ttlMs);
  },
  /** adds delta (absent counts as 0) and returns the new value, atomically across instances */
  increment(key: string, delta = 1, ttlMs = 0): number {
    return Number(kvIncrement(key, delta, ttlMs));
  },
};
