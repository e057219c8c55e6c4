/**
 * The validated spec types per kind, for consumers that read `MeshSnapshot.resources`
 * (`res.spec as VirtualServiceSpec`). Outputs of the schemas: defaults applied.
 */
export type { NamespaceSpec, ServiceSpec, PodSpec, PodStatus, SecretData, ConfigMapData, EndpointSliceData } from './schema/core-v1.ts';
export type { VirtualServiceSpec, VirtualServiceHTTPRoute } from './schema/istio-virtual-service.ts';
export type { DestinationRuleSpec, TrafficPolicy } from './schema/istio-destination-rule.ts';
export type { IstioGatewaySpec, ServiceEntrySpec, WorkloadEntrySpec } from './schema/istio-networking.ts';
export type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from './schema/istio-security.ts';
export type { WasmPluginSpec } from './schema/istio-extensions.ts';
export type { GatewayClassSpec, GatewaySpec, ReferenceGrantSpec, ParentReference } from './schema/gateway-api.ts';
export type { HTTPRouteSpec, HTTPRouteRule, GRPCRouteSpec } from './schema/gateway-api-routes.ts';
export type { InferencePoolSpec, InferenceObjectiveSpec } from './schema/inference.ts';
export type { MeshConfig } from './schema/mesh-config.ts';
export type { StringMatch } from './schema/common.ts';
