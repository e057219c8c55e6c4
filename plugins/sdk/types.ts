/**
 * Short names for the WIT types (plugins/wit/weft-plugin.wit) and the shapes of the three exports a
 * plugin makes. wit.d.ts (generated) holds the ambient `weft:plugin/*` modules; it is a script file,
 * not a module, because a module file may not declare modules it cannot resolve.
 */
/// <reference path="./wit.d.ts" />

export type { Action, Phases, Level, Header, DirectResponse } from 'weft:plugin/types@0.2.0';
export type { Connection, Decision } from 'weft:plugin/connection-policy@0.2.0';
export type { Endpoint } from 'weft:plugin/picker@0.2.0';

import type { Action, Phases } from 'weft:plugin/types@0.2.0';
import type { Connection, Decision } from 'weft:plugin/connection-policy@0.2.0';
import type { Endpoint } from 'weft:plugin/picker@0.2.0';

/**
 * world http-filter: `export const filter: Filter` (made by `defineFilter`, which reads and writes
 * the strings; plugins/wit/weft-plugin.wit describes them)
 */
export interface Filter {
  /** read once per instance; the host calls only these phases */
  wantedPhases(): Phases;
  /** read once per instance, before any call: the request headers each request-phase call brings */
  requestHeadersWanted(): string[];
  /** read once per instance, after requestHeadersWanted */
  responseHeadersWanted(): string[];
  /** the wanted headers' values in, the outcome (changes and action) out */
  onRequestHeaders(headers: string): string;
  onRequestBody(headers: string, endOfStream: boolean): string;
  onResponseHeaders(headers: string): string;
  onResponseBody(headers: string, endOfStream: boolean): string;
}

/** world l4-policy: `export const connectionPolicy: ConnectionPolicy` */
export interface ConnectionPolicy {
  check(conn: Connection): Decision;
}

/** world endpoint-picker: `export const picker: Picker` */
export interface Picker {
  /** indices into candidates, best first; [] leaves the choice to the host's balancer */
  pick(candidates: Endpoint[]): Uint32Array | number[];
}
