/**
 * Decoded protobuf messages (the static module's objects) -> JSON for people and scripts: what
 * `/config_dump` and `weft proxy-config ... -o json` print. Field names are protobufjs's camelCase
 * (the proto3 JSON names); 64-bit integers become numbers, bytes base64, an `Any` whose type Weft
 * knows is decoded in place with `@type` (as Envoy's config dump shows typed_config), others keep
 * `@type` and their base64 value. Enums stay numbers: the static module keeps no field-to-enum
 * table. Never used on a data path.
 */
import { envoy } from './pb.ts';
import { base64Encode } from '../identity/pem.ts';

const PREFIX = 'type.googleapis.com/';

/** Embedded types decoded for display, by type URL. */
const EMBEDDED: Record<string, (b: Uint8Array) => object> = {
  [`${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`]: (b) => envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.decode(b),
  [`${PREFIX}envoy.extensions.filters.http.router.v3.Router`]: (b) => envoy.extensions.filters.http.router.v3.Router.decode(b),
  [`${PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`]: (b) => envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext.decode(b),
  [`${PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`]: (b) => envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.decode(b),
  [`${PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`]: (b) => envoy.extensions.filters.http.fault.v3.HTTPFault.decode(b),
  [`${PREFIX}envoy.extensions.filters.http.cors.v3.CorsPolicy`]: (b) => envoy.extensions.filters.http.cors.v3.CorsPolicy.decode(b),
  [`${PREFIX}envoy.config.route.v3.FilterConfig`]: (b) => envoy.config.route.v3.FilterConfig.decode(b),
  [`${PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`]: (b) => envoy.extensions.upstreams.http.v3.HttpProtocolOptions.decode(b),
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isLong(v: object): v is { low: number; high: number; unsigned?: boolean } {
  return 'low' in v && 'high' in v && typeof (v as { low: unknown }).low === 'number' && Object.keys(v).length <= 3;
}

/** A decoded message (or any value inside one) as JSON. */
export function protoToJson(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v instanceof Uint8Array) return base64Encode(v);
  if (Array.isArray(v)) return v.map(protoToJson);
  if (typeof v === 'object') {
    if (isLong(v)) return v.high * 2 ** 32 + (v.low >>> 0);
    const o = v as Record<string, unknown>;
    if (typeof o['typeUrl'] === 'string' && (o['value'] instanceof Uint8Array || o['value'] === undefined) && Object.keys(o).every((k) => k === 'typeUrl' || k === 'value')) {
      const typeUrl = o['typeUrl'];
      const decode = EMBEDDED[typeUrl];
      const value = (o['value'] as Uint8Array | undefined) ?? new Uint8Array(0);
      if (decode) {
        try {
          return { '@type': typeUrl, ...(protoToJson(decode(value)) as Record<string, Json>) };
        } catch {
          // shown as bytes below
        }
      }
      return { '@type': typeUrl, value: base64Encode(value) };
    }
    const out: Record<string, Json> = {};
    for (const key of Object.keys(o)) {
      const x = o[key];
      if (x === undefined || typeof x === 'function') continue;
      if (Array.isArray(x) && x.length === 0) continue;
      out[key] = protoToJson(x);
    }
    return out;
  }
  return null;
}
