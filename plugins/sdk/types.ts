/**
 * Short names for the WIT types (plugins/wit/weft-plugin.wit) and the shapes of the three exports a
 * plugin makes. wit.d.ts (generated) holds the ambient `weft:plugin/*` modules; it is a script file,
 * not a module, because a module file may not declare modules it cannot resolve.
 */
/// <reference path="./wit.d.ts" />

export type { Action, Phases, Level, Header, DirectResponse } from 'weft:plugin/types@0.1.0';
export type { Connection, Decision } from 'weft:plugin/connection-policy@0.1.0';
export type { Endpoint } from 'weft:plugin/picker@0.1.0';

import type { Action, Phases } from 'weft:plugin/types@0.1.0';
import type { Connection, Decision } from 'weft:plugin/connection-policy@0.1.0';
import type { Endpoint } from 'weft:plugin/picker@0.1.0';

/** world http-filter: `export const filter: Filter` */
export interface Filter {
  /** read once per instance; the host calls only these phases */
  wantedPhases(): Phases;
  onRequestHeaders(): Action;
  onRequestBody(endOfStream: boolean): Action;
  onResponseHeaders(): Action;
  onResponseBody(endOfStream: boolean): Action;
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
