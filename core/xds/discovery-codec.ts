/**
 * The part of the xDS codec an xDS client needs whatever it watches: encoding a delta request and
 * the google.protobuf.Struct <-> JSON mapping (node metadata), on the small workload-pb module
 * (pb-workload.ts), so a node proxy's client never loads the Envoy types. codec.ts re-exports the
 * Struct helpers and adds the resource decoders.
 */
import { envoy, google } from './pb-workload.ts';

export const encodeDeltaDiscoveryRequest = (req: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties): Uint8Array =>
  envoy.service.discovery.v3.DeltaDiscoveryRequest.encode(req).finish();

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** google.protobuf.Struct (as decoded) -> plain JSON. */
export function structToJson(struct: google.protobuf.Struct.$Properties | null | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(struct?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: google.protobuf.Value.$Properties): JsonValue {
  if (v.structValue != null) return structToJson(v.structValue);
  if (v.listValue != null) return (v.listValue.values ?? []).map(valueToJson);
  if (v.stringValue != null) return v.stringValue;
  if (v.numberValue != null) return v.numberValue;
  if (v.boolValue != null) return v.boolValue;
  return null;
}

/** Plain JSON -> google.protobuf.Struct properties (for node metadata). */
export function jsonToStruct(obj: Readonly<Record<string, unknown>>): google.protobuf.Struct.$Properties {
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, jsonToValue(v)])) };
}

function jsonToValue(v: unknown): google.protobuf.Value.$Properties {
  if (v === null || v === undefined) return { nullValue: google.protobuf.NullValue.NULL_VALUE };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}
