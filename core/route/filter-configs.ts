/**
 * typed_per_filter_config (map of filter name -> Any), decoded once: each entry may be wrapped in
 * envoy.config.route.v3.FilterConfig {config, is_optional, disabled} (the contract wraps them so a
 * client that does not know the filter ignores it). Fault and CORS are compiled here; every other
 * filter's config stays an Any for its own filter (RBAC per route, ...) to decode.
 */
import { envoy } from '../xds/pb.ts';
import type { google } from '../xds/generated/xds-pb.js';
import { compileCors } from './cors.ts';
import type { Cors } from './cors.ts';
import { compileFault } from './fault.ts';
import type { Fault } from './fault.ts';
import { RouteCompileError } from './types.ts';

type AnyProto = google.protobuf.Any.$Properties;

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';
const PREFIX = 'type.googleapis.com/';
const FILTER_CONFIG = `${PREFIX}envoy.config.route.v3.FilterConfig`;
const HTTP_FAULT = `${PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`;
const CORS_POLICY = `${PREFIX}envoy.extensions.filters.http.cors.v3.CorsPolicy`;

export interface FilterConfigs {
  readonly fault: Fault | undefined;
  readonly cors: Cors | undefined;
  /** Filter name -> its config (unwrapped from FilterConfig); disabled filters map to null. */
  readonly other: ReadonlyMap<string, AnyProto | null>;
}

export const NO_FILTER_CONFIGS: FilterConfigs = { fault: undefined, cors: undefined, other: new Map() };

function bytes(a: AnyProto): Uint8Array {
  return a.value ?? new Uint8Array(0);
}

export function compileFilterConfigs(map: { [k: string]: AnyProto } | null | undefined, path: string): FilterConfigs {
  if (!map || Object.keys(map).length === 0) return NO_FILTER_CONFIGS;
  let fault: Fault | undefined;
  let cors: Cors | undefined;
  const other = new Map<string, AnyProto | null>();
  for (const [name, any] of Object.entries(map)) {
    const p = `${path}[${JSON.stringify(name)}]`;
    let inner: AnyProto | null = any;
    let optional = false;
    try {
      if (any.typeUrl === FILTER_CONFIG) {
        const fc = envoy.config.route.v3.FilterConfig.decode(bytes(any));
        optional = fc.isOptional === true;
        inner = fc.disabled ? null : (fc.config ?? null);
      }
      if (inner === null) {
        other.set(name, null);
        continue;
      }
      if (inner.typeUrl === HTTP_FAULT) fault = compileFault(envoy.extensions.filters.http.fault.v3.HTTPFault.decode(bytes(inner)), `${p}.fault`);
      else if (inner.typeUrl === CORS_POLICY) cors = compileCors(envoy.extensions.filters.http.cors.v3.CorsPolicy.decode(bytes(inner)), `${p}.cors`);
      else other.set(name, inner);
    } catch (e) {
      if (e instanceof RouteCompileError) throw e;
      if (optional) continue;
      throw new RouteCompileError(p, `cannot decode ${inner?.typeUrl ?? any.typeUrl}: ${(e as Error).message}`);
    }
  }
  return { fault, cors, other };
}

/** The most specific level's configs win filter by filter (Envoy's mostSpecificPerFilterConfig). */
export function mergeFilterConfigs(specific: FilterConfigs, general: FilterConfigs): FilterConfigs {
  if (general === NO_FILTER_CONFIGS) return specific;
  if (specific === NO_FILTER_CONFIGS) return general;
  const other = new Map(general.other);
  for (const [k, v] of specific.other) other.set(k, v);
  // A filter disabled at the specific level turns the general level's config off too.
  const fault = specific.other.get(FAULT_FILTER) === null ? undefined : (specific.fault ?? general.fault);
  const cors = specific.other.get(CORS_FILTER) === null ? undefined : (specific.cors ?? general.cors);
  return { fault, cors, other };
}

