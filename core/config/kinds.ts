/**
 * The kinds Weft reads (design.md 4), each with its API group, the versions read with one schema, its
 * scope, and the key it is filed under in MeshSnapshot.resources: the bare kind. Two kinds share the
 * name Gateway (Istio's and Gateway API's): both are filed under `Gateway` and told apart by apiVersion
 * (`isIstioGateway`); their identities (`group/Kind/ns/name`) differ, so they never collide.
 */
import * as z from './schema/zod.ts';
import { configMapResource, endpointSliceResource, NamespaceResource, podResource, secretResource, ServiceAccountResource, ServiceResource } from './schema/core-v1.ts';
import { VirtualServiceSpec } from './schema/istio-virtual-service.ts';
import { destinationRuleSpec } from './schema/istio-destination-rule.ts';
import { IstioGatewaySpec, serviceEntrySpec, WorkloadEntrySpec } from './schema/istio-networking.ts';
import { AuthorizationPolicySpec, peerAuthenticationSpec, requestAuthenticationSpec } from './schema/istio-security.ts';
import { WasmPluginSpec } from './schema/istio-extensions.ts';
import { gatewayClassSpec, GatewaySpec, referenceGrantSpec } from './schema/gateway-api.ts';
import { grpcRouteSpec, HTTPRouteSpec } from './schema/gateway-api-routes.ts';
import { InferenceObjectiveSpec, InferencePoolSpec, InferencePoolV1alpha2Spec } from './schema/inference.ts';
import { resourceShape } from './schema/meta.ts';

/** Keys of MeshSnapshot.resources. */
export const KIND_KEYS = {
  Namespace: 'Namespace',
  Service: 'Service',
  Pod: 'Pod',
  ServiceAccount: 'ServiceAccount',
  Secret: 'Secret',
  ConfigMap: 'ConfigMap',
  EndpointSlice: 'EndpointSlice',
  VirtualService: 'VirtualService',
  DestinationRule: 'DestinationRule',
  ServiceEntry: 'ServiceEntry',
  WorkloadEntry: 'WorkloadEntry',
  AuthorizationPolicy: 'AuthorizationPolicy',
  PeerAuthentication: 'PeerAuthentication',
  RequestAuthentication: 'RequestAuthentication',
  WasmPlugin: 'WasmPlugin',
  GatewayClass: 'GatewayClass',
  Gateway: 'Gateway',
  HTTPRoute: 'HTTPRoute',
  GRPCRoute: 'GRPCRoute',
  ReferenceGrant: 'ReferenceGrant',
  InferencePool: 'InferencePool',
  InferenceObjective: 'InferenceObjective',
} as const;
export type KindKey = (typeof KIND_KEYS)[keyof typeof KIND_KEYS];

export interface KindDef {
  key: KindKey;
  /** `group/Kind`, unique per kind (`networking.istio.io/Gateway`, `/Service`). */
  gk: string;
  kind: string;
  group: string;
  versions: readonly string[];
  namespaced: boolean;
  /** Whole-object schema (apiVersion, kind, metadata, spec...). */
  schema: z.ZodType;
}

const ISTIO_NET = ['v1alpha3', 'v1beta1', 'v1'];
const ISTIO_SEC = ['v1beta1', 'v1'];
const GW = ['v1', 'v1beta1'];

/**
 * `schema` is built on first use (a getter): a kind's whole-object schema, and for the kinds whose
 * schema modules defer it (schema/lazy.ts) its own schemas, cost nothing until a resource of that kind
 * is validated.
 */
const def = (key: KindKey, kind: string, group: string, versions: readonly string[], build: () => z.ZodType, namespaced = true): KindDef => {
  let schema: z.ZodType | undefined;
  return {
    key, gk: `${group}/${kind}`, kind, group, versions, namespaced,
    get schema() {
      return (schema ??= build());
    },
  };
};

export const KIND_DEFS: readonly KindDef[] = [
  def('Namespace', 'Namespace', '', ['v1'], () => NamespaceResource, false),
  def('Service', 'Service', '', ['v1'], () => ServiceResource),
  def('Pod', 'Pod', '', ['v1'], () => podResource()),
  def('ServiceAccount', 'ServiceAccount', '', ['v1'], () => ServiceAccountResource),
  def('Secret', 'Secret', '', ['v1'], () => secretResource()),
  def('ConfigMap', 'ConfigMap', '', ['v1'], () => configMapResource()),
  def('EndpointSlice', 'EndpointSlice', 'discovery.k8s.io', ['v1'], () => endpointSliceResource()),
  def('VirtualService', 'VirtualService', 'networking.istio.io', ISTIO_NET, () => resourceShape(VirtualServiceSpec)),
  def('DestinationRule', 'DestinationRule', 'networking.istio.io', ISTIO_NET, () => resourceShape(destinationRuleSpec())),
  def('Gateway', 'Gateway', 'networking.istio.io', ISTIO_NET, () => resourceShape(IstioGatewaySpec)),
  def('ServiceEntry', 'ServiceEntry', 'networking.istio.io', ISTIO_NET, () => resourceShape(serviceEntrySpec())),
  def('WorkloadEntry', 'WorkloadEntry', 'networking.istio.io', ISTIO_NET, () => resourceShape(WorkloadEntrySpec)),
  def('AuthorizationPolicy', 'AuthorizationPolicy', 'security.istio.io', ISTIO_SEC, () => resourceShape(AuthorizationPolicySpec)),
  def('PeerAuthentication', 'PeerAuthentication', 'security.istio.io', ISTIO_SEC, () => resourceShape(peerAuthenticationSpec())),
  def('RequestAuthentication', 'RequestAuthentication', 'security.istio.io', ISTIO_SEC, () => resourceShape(requestAuthenticationSpec())),
  def('WasmPlugin', 'WasmPlugin', 'extensions.istio.io', ['v1alpha1'], () => resourceShape(WasmPluginSpec)),
  def('GatewayClass', 'GatewayClass', 'gateway.networking.k8s.io', GW, () => resourceShape(gatewayClassSpec()), false),
  def('Gateway', 'Gateway', 'gateway.networking.k8s.io', GW, () => resourceShape(GatewaySpec)),
  def('HTTPRoute', 'HTTPRoute', 'gateway.networking.k8s.io', GW, () => resourceShape(HTTPRouteSpec)),
  def('GRPCRoute', 'GRPCRoute', 'gateway.networking.k8s.io', GW, () => resourceShape(grpcRouteSpec())),
  def('ReferenceGrant', 'ReferenceGrant', 'gateway.networking.k8s.io', GW, () => resourceShape(referenceGrantSpec())),
  def('InferencePool', 'InferencePool', 'inference.networking.k8s.io', ['v1'], () => resourceShape(InferencePoolSpec)),
  // The older group of InferencePool: same key, converted to the v1 shape by its own schema.
  def('InferencePool', 'InferencePool', 'inference.networking.x-k8s.io', ['v1alpha2'], () => resourceShape(InferencePoolV1alpha2Spec)),
  def('InferenceObjective', 'InferenceObjective', 'inference.networking.x-k8s.io', ['v1alpha2'], () => resourceShape(InferenceObjectiveSpec)),
];

/** Kinds that exist upstream but that Weft does not use: reported with advice, never silently dropped. */
export const NOT_USED: Readonly<Record<string, string>> = {
  'apps/Deployment': 'is not used outside Kubernetes: declare Pods (status.podIP, spec.nodeName) or WorkloadEntries labelled weft.io/node instead',
  'apps/StatefulSet': 'is not used outside Kubernetes: declare Pods (status.podIP, spec.nodeName) or WorkloadEntries labelled weft.io/node instead',
  'apps/DaemonSet': 'is not used outside Kubernetes: declare Pods (status.podIP, spec.nodeName) or WorkloadEntries labelled weft.io/node instead',
  'apps/ReplicaSet': 'is not used outside Kubernetes: declare Pods (status.podIP, spec.nodeName) or WorkloadEntries labelled weft.io/node instead',
  'batch/Job': 'is not used outside Kubernetes: declare Pods or WorkloadEntries labelled weft.io/node instead',
  'batch/CronJob': 'is not used outside Kubernetes: declare Pods or WorkloadEntries labelled weft.io/node instead',
  '/ReplicationController': 'is not used outside Kubernetes: declare Pods or WorkloadEntries labelled weft.io/node instead',
  '/Endpoints': 'is not read by Weft: use discovery.k8s.io/v1 EndpointSlice',
  'networking.istio.io/Sidecar': 'is not used: Weft has no sidecars (ambient mode)',
  'networking.istio.io/EnvoyFilter': 'is not supported by Weft (there is no Envoy to patch): use a WasmPlugin',
  'networking.istio.io/WorkloadGroup': 'is not supported by Weft yet: declare WorkloadEntries',
  'networking.istio.io/ProxyConfig': 'is not supported by Weft yet',
  'telemetry.istio.io/Telemetry': 'is not supported by Weft yet',
  'gateway.networking.k8s.io/BackendTLSPolicy': 'is not supported by Weft yet',
  'gateway.networking.k8s.io/TLSRoute': 'is not supported by Weft yet (experimental channel)',
  'gateway.networking.k8s.io/TCPRoute': 'is not supported by Weft yet (experimental channel)',
  'gateway.networking.k8s.io/UDPRoute': 'is not supported by Weft yet (experimental channel)',
  'networking.k8s.io/Ingress': 'is not supported by Weft: use a Gateway and HTTPRoute',
  'networking.k8s.io/NetworkPolicy': 'is not used by Weft: use an AuthorizationPolicy',
};

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export type KindLookup =
  | { found: 'ok'; def: KindDef; schema: z.ZodType }
  | { found: 'version'; def: KindDef; served: readonly string[] }
  | { found: 'not-used'; advice: string }
  | { found: 'unknown' };

export function lookupKind(apiVersion: string, kind: string): KindLookup {
  const { group, version } = splitApiVersion(apiVersion);
  const defs = KIND_DEFS.filter((d) => d.kind === kind && d.group === group);
  for (const d of defs) {
    if (d.versions.includes(version)) return { found: 'ok', def: d, schema: d.schema };
  }
  if (defs.length > 0) return { found: 'version', def: defs[0]!, served: defs.flatMap((d) => d.versions.map((v) => (group ? `${group}/${v}` : v))) };
  const advice = NOT_USED[`${group}/${kind}`];
  return advice ? { found: 'not-used', advice } : { found: 'unknown' };
}

/** Istio's networking.istio.io Gateway, as opposed to Gateway API's (both are filed under `Gateway`). */
export function isIstioGateway(r: { apiVersion: string }): boolean {
  return r.apiVersion.startsWith('networking.istio.io/');
}
