/**
 * xDS type URLs Weft serves, and which of them a state-of-the-world client may watch by wildcard.
 * Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#resource-types
 */

const PREFIX = 'type.googleapis.com/';

export const TYPE_URL = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  secret: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
  /** Istio's workload API: one Address per workload (name: uid) and per service (`<ns>/<hostname>`). */
  address: `${PREFIX}istio.workload.Address`,
  /** Istio's L4 policy for node proxies (name: `<ns>/<name>`). */
  authorization: `${PREFIX}istio.security.Authorization`,
  /**
   * Istio's MeshConfig, pruned to what node proxies need beside the workload API (outbound traffic
   * policy, trust domain and aliases, root namespace); one resource, named `mesh` (MESH_CONFIG_NAME).
   */
  meshConfig: `${PREFIX}istio.mesh.v1alpha1.MeshConfig`,
  /**
   * Envoy's ECDS type: one per WasmPlugin delivered to a proxy (name `<ns>.<name>`), its typed_config
   * a TypedStruct of type PLUGIN_TYPE_URL holding the PluginBinding (core/xds/plugins.ts).
   */
  extensionConfig: `${PREFIX}envoy.config.core.v3.TypedExtensionConfig`,
} as const;

/** The inner type of a plugin's TypedStruct (a Struct with the PluginBinding fields, core/plugin/contract.ts). */
export const PLUGIN_TYPE_URL = 'type.weft.dev/weft.plugin.v1.WasmPlugin';

/** The name of the one MeshConfig resource. */
export const MESH_CONFIG_NAME = 'mesh';

/** Types embedded in Any inside the Envoy resources above. */
export const EMBEDDED_TYPE_URL = {
  httpConnectionManager: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  typedStruct: `${PREFIX}xds.type.v3.TypedStruct`,
} as const;

export type XdsTypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/**
 * Whether an empty resource_names list means "everything" (a wildcard watch). True for LDS, CDS and
 * the workload API (and the one MeshConfig, and the plugins a proxy is given); for RDS and EDS an empty list means the client watches nothing, and treating it
 * as a wildcard makes grpc-js-xds receive routes and endpoints it never asked for.
 */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster || typeUrl === TYPE_URL.address || typeUrl === TYPE_URL.authorization || typeUrl === TYPE_URL.meshConfig || typeUrl === TYPE_URL.extensionConfig;
}

/** Short label for metrics and logs (istiod's `type` label values where it has them). */
export function shortTypeName(typeUrl: string): string {
  switch (typeUrl) {
    case TYPE_URL.listener:
      return 'lds';
    case TYPE_URL.route:
      return 'rds';
    case TYPE_URL.cluster:
      return 'cds';
    case TYPE_URL.endpoint:
      return 'eds';
    case TYPE_URL.secret:
      return 'sds';
    case TYPE_URL.address:
      return 'wds';
    case TYPE_URL.authorization:
      return 'wads';
    case TYPE_URL.meshConfig:
      return 'mesh';
    case TYPE_URL.extensionConfig:
      return 'ecds';
    default:
      return typeUrl.startsWith(PREFIX) ? typeUrl.slice(PREFIX.length) : typeUrl;
  }
}

/**
 * Push order within one update: clusters and endpoints before the listeners and routes that name
 * them (a route to a cluster the client does not know yet is held back by grpc-js-xds), services
 * and policies before the workloads that refer to them.
 */
export const PUSH_ORDER: readonly string[] = [
  TYPE_URL.cluster,
  TYPE_URL.endpoint,
  // plugins before the listeners that name them in their HTTP filters (ECDS), and before workloads
  TYPE_URL.extensionConfig,
  TYPE_URL.listener,
  TYPE_URL.route,
  TYPE_URL.secret,
  // mesh settings first: REGISTRY_ONLY must hold before the workloads it applies to arrive
  TYPE_URL.meshConfig,
  TYPE_URL.authorization,
  TYPE_URL.address,
];
