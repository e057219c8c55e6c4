/**
 * What an EdgeConfigSource hands over (proto3-JSON DiscoveryResponses, config-contract.ts) -> the
 * decoded resources the edge model compiles. JSON is read once per config version through the
 * static codecs (core/xds/rest-json.ts: JSON -> resource bytes), then decoded exactly as the Node
 * gateway decodes what ADS gives it, so both compile the same messages. Never on a request path.
 */
import { decodeResource } from '../../core/xds/codec.ts';
import { decodePluginBinding } from '../../core/xds/plugins.ts';
import { resourceFromJson } from '../../core/xds/rest-json.ts';
import { TYPE_URL } from '../../core/xds/type-urls.ts';
import type { DiscoveryResponseJson, RestXdsType } from './config-contract.ts';
import type { EdgeResources } from './edge-model.ts';

export interface EncodedEntry {
  typeUrl: string;
  name: string;
  bytes: Uint8Array;
}

export type EdgeResponses = Partial<Record<RestXdsType, DiscoveryResponseJson>>;

/** The version of a whole set: each type's versionInfo, in a fixed order. */
export function versionOf(responses: EdgeResponses): string {
  const types: RestXdsType[] = ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs'];
  return types.map((t) => responses[t]?.versionInfo ?? '-').join('/');
}

/** Decoded resources from encoded ones (resource bytes as ADS carries them). Bad ones are reported in `errors`. */
export function resourcesFromEncoded(version: string, entries: Iterable<EncodedEntry>): { resources: EdgeResources; errors: string[] } {
  const r: EdgeResources = { version, listeners: [], routes: [], clusters: [], endpoints: [], plugins: [] };
  const errors: string[] = [];
  for (const e of entries) {
    try {
      switch (e.typeUrl) {
        case TYPE_URL.listener:
          r.listeners.push({ name: e.name, message: decodeResource(e.typeUrl, e.bytes) });
          break;
        case TYPE_URL.route:
          r.routes.push({ name: e.name, message: decodeResource(e.typeUrl, e.bytes) });
          break;
        case TYPE_URL.cluster:
          r.clusters.push(decodeResource(e.typeUrl, e.bytes) as EdgeResources['clusters'][number]);
          break;
        case TYPE_URL.endpoint:
          r.endpoints.push(decodeResource(e.typeUrl, e.bytes) as EdgeResources['endpoints'][number]);
          break;
        case TYPE_URL.extensionConfig:
          r.plugins.push(decodePluginBinding(e.bytes));
          break;
        default:
          break; // workloads and anything else: not an edge gateway's
      }
    } catch (err) {
      errors.push(`${e.typeUrl} ${e.name}: ${(err as Error).message}`);
    }
  }
  return { resources: r, errors };
}

/** Decoded resources from a source's DiscoveryResponses. */
export function resourcesFromResponses(responses: EdgeResponses): { resources: EdgeResources; errors: string[] } {
  const entries: EncodedEntry[] = [];
  const errors: string[] = [];
  for (const res of Object.values(responses)) {
    if (res === undefined) continue;
    for (const obj of res.resources) {
      try {
        entries.push(resourceFromJson(obj));
      } catch (err) {
        errors.push(`${obj['@type']}: ${(err as Error).message}`);
      }
    }
  }
  const out = resourcesFromEncoded(versionOf(responses), entries);
  out.errors.unshift(...errors);
  return out;
}
