/**
 * The one import of the generated static protobuf module (scripts/gen-protos.mjs builds it from
 * Weft's istio/workload protos and the Envoy protos shipped in @grpc/grpc-js-xds). Static code only:
 * no reflection, so it runs in workerd. Field names are camelCase.
 */
export { envoy, google, istio } from './generated/xds-pb.js';
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
