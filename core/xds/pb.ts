/**
 * The one import of the generated static protobuf module (scripts/gen-protos.mjs builds it from
 * Weft's istio/workload protos and the Envoy protos shipped in @grpc/grpc-js-xds). Static code only:
 * no reflection, so it runs in workerd. Field names are camelCase.
 */
export { envoy, google, istio, xds } from './generated/xds-pb.js';
import type { envoy, istio } from './generated/xds-pb.js';

export type AddressProto = istio.workload.Address.$Properties;
export type WorkloadProto = istio.workload.Workload.$Properties;
export type ServiceProto = istio.workload.Service.$Properties;
export type AuthorizationProto = istio.security.Authorization.$Properties;
export type MeshConfigProto = istio.mesh.v1alpha1.MeshConfig.$Properties;
export type MatchProto = istio.security.Match.$Properties;
export type StringMatchProto = istio.security.StringMatch.$Properties;
export type ListenerProto = envoy.config.listener.v3.Listener.$Properties;
export type RouteConfigurationProto = envoy.config.route.v3.RouteConfiguration.$Properties;
export type ClusterProto = envoy.config.cluster.v3.Cluster.$Properties;
export type ClusterLoadAssignmentProto = envoy.config.endpoint.v3.ClusterLoadAssignment.$Properties;
export type HttpConnectionManagerProto = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.$Properties;
export type NodeProto = envoy.config.core.v3.Node.$Properties;
export type RouteProto = envoy.config.route.v3.Route.$Properties;
export type RouteMatchProto = envoy.config.route.v3.RouteMatch.$Properties;
export type RouteActionProto = envoy.config.route.v3.RouteAction.$Properties;
export type RedirectActionProto = envoy.config.route.v3.RedirectAction.$Properties;
export type VirtualHostProto = envoy.config.route.v3.VirtualHost.$Properties;
export type HeaderMatcherProto = envoy.config.route.v3.HeaderMatcher.$Properties;
export type StringMatcherProto = envoy.type.matcher.v3.StringMatcher.$Properties;
export type FilterChainProto = envoy.config.listener.v3.FilterChain.$Properties;
export type SecretProto = envoy.extensions.transport_sockets.tls.v3.Secret.$Properties;
export type HTTPFaultProto = envoy.extensions.filters.http.fault.v3.HTTPFault.$Properties;
export type CorsPolicyProto = envoy.extensions.filters.http.cors.v3.CorsPolicy.$Properties;
