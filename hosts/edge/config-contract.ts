/**
 * What the edge host runs from, and what the control plane's REST-JSON xDS gives it (design.md 4):
 * the same Envoy v3 resources a Node gateway receives over ADS, as proto3 JSON. The edge host either
 * polls them (`POST /v3/discovery:<type>` on the control plane's 15014, DiscoveryRequest in,
 * DiscoveryResponse out, bearer token) or reads them from a bundled snapshot for offline deploys.
 *
 * This file is the contract between the REST xDS side (control plane + poll client) and the edge
 * app (Hono): neither imports the other's internals.
 */

/** The REST paths' last segments, Envoy's names; `workloads` is Istio's workload API. */
export const REST_XDS_TYPES = {
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  extension_configs: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',
  workloads: 'type.googleapis.com/istio.workload.Address',
} as const;
export type RestXdsType = keyof typeof REST_XDS_TYPES;

/** A proto3-JSON DiscoveryRequest as the edge host sends it (field names in lowerCamelCase). */
export interface DiscoveryRequestJson {
  versionInfo?: string;
  node: { id: string; cluster?: string; metadata?: Record<string, unknown> };
  resourceNames?: string[];
  typeUrl: string;
  responseNonce?: string;
  errorDetail?: { code: number; message: string };
}

/** A proto3-JSON DiscoveryResponse; each resource carries its `@type`. */
export interface DiscoveryResponseJson {
  versionInfo: string;
  resources: Array<Record<string, unknown> & { '@type': string }>;
  typeUrl: string;
  nonce: string;
}

/**
 * A bundled snapshot: every response an edge gateway would poll, frozen at build time
 * (`weft edge snapshot`), so an edge deploy runs with no control plane. Plugins named by the
 * extension configs are carried by sha256; the deploy bundles their prepared modules beside it.
 */
export interface EdgeSnapshot {
  format: 'weft.edge.snapshot/v1';
  /** The gateway this snapshot was made for: namespace/name, as a gateway's join token names it. */
  gateway: { namespace: string; name: string };
  createdAt: string;
  responses: Partial<Record<RestXdsType, DiscoveryResponseJson>>;
}

/** Where an edge host's config comes from: a poller or a snapshot; both hand over the whole set on each change. */
export interface EdgeConfigSource {
  /** Calls `onChange` with the full current set whenever any type's version changes (and once at start). */
  start(onChange: (responses: Partial<Record<RestXdsType, DiscoveryResponseJson>>) => void): void;
  stop(): void;
}
