/**
 * xDS resources as proto3 JSON, for REST-JSON xDS (the edge host, design.md 4, and `weft edge
 * snapshot`): a resource's bytes <-> the JSON of an `Any` (`{"@type": typeUrl, ...fields}`), the
 * form Envoy's REST xDS puts in DiscoveryResponse.resources. Runtime-neutral (core/xds/proto3-json.ts:
 * static codecs and data tables only).
 */
import { codecFor, knowsType, messageFromJson, messageToJson, typeNameOf } from './proto3-json.ts';
import type { Json } from './proto3-json.ts';
import { MESH_CONFIG_NAME, TYPE_URL } from './type-urls.ts';

export type { Json } from './proto3-json.ts';
export { messageFromJson, messageToJson } from './proto3-json.ts';

export type ResourceJson = Record<string, unknown> & { '@type': string };

/** One resource's encoded bytes -> its proto3 JSON with `@type`. Throws for a type Weft has no codec for. */
export function resourceToJson(typeUrl: string, bytes: Uint8Array): ResourceJson {
  const typeName = typeNameOf(typeUrl);
  const codec = knowsType(typeName) ? codecFor(typeName) : undefined;
  if (!codec) throw new Error(`no proto3 JSON codec for ${typeUrl}`);
  return { '@type': typeUrl, ...(messageToJson(typeName, codec.decode(bytes)) as Record<string, Json>) };
}

/** A resource's proto3 JSON (with `@type`) -> its type URL, its xDS name and its encoded bytes. Throws with the field path on bad input. */
export function resourceFromJson(obj: unknown): { typeUrl: string; name: string; bytes: Uint8Array } {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('a resource must be a JSON object');
  const typeUrl = (obj as Record<string, unknown>)['@type'];
  if (typeof typeUrl !== 'string' || !typeUrl.includes('/')) throw new Error('a resource needs "@type" (a type URL)');
  const typeName = typeNameOf(typeUrl);
  const codec = knowsType(typeName) ? codecFor(typeName) : undefined;
  if (!codec) throw new Error(`no proto3 JSON codec for ${typeUrl}`);
  const { '@type': _, ...fields } = obj as Record<string, unknown>;
  const message = messageFromJson(typeName, fields);
  return { typeUrl, name: resourceName(typeUrl, message), bytes: codec.encode(message).finish() };
}

/** The xDS name of a resource (what resource_names and delta responses use), from its fields. */
export function resourceName(typeUrl: string, m: Record<string, unknown>): string {
  switch (typeUrl) {
    case TYPE_URL.endpoint:
      return String(m['clusterName'] ?? '');
    case TYPE_URL.address: {
      // Istio's workload API: a workload by its uid, a service by `<namespace>/<hostname>`.
      const w = m['workload'] as Record<string, unknown> | undefined;
      if (w) return String(w['uid'] ?? '');
      const s = m['service'] as Record<string, unknown> | undefined;
      return s ? `${String(s['namespace'] ?? '')}/${String(s['hostname'] ?? '')}` : '';
    }
    case TYPE_URL.meshConfig:
      return MESH_CONFIG_NAME;
    case TYPE_URL.authorization:
      return `${String(m['namespace'] ?? '')}/${String(m['name'] ?? '')}`;
    default:
      return String(m['name'] ?? '');
  }
}
