/**
 * core/xds: MeshSnapshot -> xDS resources (Envoy v3 for proxyless gRPC and L7 proxies, Istio's
 * workload API for node proxies), the framing of discovery responses, and the codecs clients use.
 * Pure: no I/O; hosts/node/xds serves it over gRPC.
 */
export { TYPE_URL, MESH_CONFIG_NAME, EMBEDDED_TYPE_URL, PLUGIN_TYPE_URL, isWildcardType, shortTypeName, PUSH_ORDER } from './type-urls.ts';
export { encodePluginBinding, decodePluginBinding, decodePluginBindings, pluginResource, comparePluginOrder } from './plugins.ts';
export { PluginSelection, PLUGIN_KIND_ANNOTATION, pluginBindingOf, pluginKindOf } from './plugins-select.ts';
export type { XdsTypeUrl } from './type-urls.ts';
export { XdsTranslator, DEFAULT_ROOT_NAMESPACE, formatWarnings } from './translate.ts';
export type { XdsResources, TypeChanges } from './translate.ts';
export { EncodedResource } from './encoded-resource.ts';
export type { ResourceMap } from './encoded-resource.ts';
export { frameDiscoveryResponse, frameDeltaDiscoveryResponse } from './wire.ts';
export { readDeltaDiscoveryResponse } from './wire-reader.ts';
export type { DeltaResponseView, DeltaResourceView } from './wire-reader.ts';
export { translateAuthorizationPolicy, selectorMatches } from './authorization.ts';
export { translatePeerAuthentications, convertPeerAuthentication, peerAuthenticationKeys, staticStrictPolicy, STATIC_STRICT_POLICY_NAME, CONVERTED_PEER_AUTHENTICATION_PREFIX } from './peer-authentication.ts';
export type { PeerAuthenticationRef, PeerAuthenticationTranslation } from './peer-authentication.ts';
export type { AuthorizationPolicySpec, AuthorizationTranslation } from './authorization.ts';
export { meshConfigResource, meshConfigProto, meshSettingsFromProto } from './mesh-config.ts';
export type { MeshConfigFields } from './mesh-config.ts';
export { serviceAddress, workloadAddress, workloadServicePorts, HBONE_PORT } from './workload-api.ts';
export { apiListener, routeConfiguration, edsCluster, loadAssignment, clusterName, listenerName, virtualHostDomains } from './envoy-resources.ts';
export * from './codec.ts';
export { parseIp, parseCidr, formatIp, isIP } from '../net/ip.ts';
export { contentHash } from './hash.ts';
