/**
 * The CustomResourceDefinitions Weft installs: names, scope, versions (served and storage), short names,
 * categories and annotations exactly as upstream's (Istio 1.29's crd-all.gen.yaml, Gateway API v1.4.1
 * standard channel, Inference Extension v1.1), so Weft's CRDs and upstream's can replace each other in a
 * cluster: same plural, same served versions, same storage version (a storage version upstream lacks
 * would make upstream's CRD fail to re-apply over `status.storedVersions`). Only the schema is Weft's own,
 * generated from the zod schemas it validates with (core/config/kinds.ts).
 */

export type CrdSet = 'istio' | 'gatewayApi' | 'inference';

export interface CrdVersion {
  name: string;
  storage?: boolean;
  /** Extra printer columns (Age is always added last). */
  columns?: { name: string; jsonPath: string; type: 'string' | 'date' | 'integer' }[];
}

export interface CrdEntry {
  set: CrdSet;
  group: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames?: string[];
  categories?: string[];
  annotations?: Record<string, string>;
  versions: CrdVersion[];
  /** Gateway API and Inference Extension CRDs have a status subresource on every version; Istio's too. */
  status: boolean;
  /** Which schema of core/config/kinds.ts (group of KIND_DEFS) validates it; defaults to `group`. */
  schemaGroup?: string;
}

const ISTIO_NET = (columns?: CrdVersion['columns']): CrdVersion[] => [{ name: 'v1', storage: true, columns }, { name: 'v1alpha3', columns }, { name: 'v1beta1', columns }];
const ISTIO_SEC = (columns?: CrdVersion['columns']): CrdVersion[] => [{ name: 'v1', storage: true, columns }, { name: 'v1beta1', columns }];
const istioCats = (g: string): string[] => ['istio-io', `${g.split('.')[0]}-istio-io`];
const ISTIO_ANN = { 'helm.sh/resource-policy': 'keep' };
const GW_ANN = {
  'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328',
  'gateway.networking.k8s.io/bundle-version': 'v1.4.1',
  'gateway.networking.k8s.io/channel': 'standard',
};
const GW = (columns?: CrdVersion['columns']): CrdVersion[] => [{ name: 'v1', storage: true, columns }, { name: 'v1beta1', columns }];
const HOSTNAMES = [{ name: 'Hostnames', jsonPath: '.spec.hostnames', type: 'string' as const }];

const istio = (group: string, kind: string, plural: string, versions: CrdVersion[], shortNames?: string[]): CrdEntry => ({
  set: 'istio', group, kind, plural, scope: 'Namespaced', versions, status: true, categories: istioCats(group), annotations: ISTIO_ANN, ...(shortNames ? { shortNames } : {}),
});
const gw = (kind: string, plural: string, versions: CrdVersion[], o: Partial<CrdEntry> = {}): CrdEntry => ({
  set: 'gatewayApi', group: 'gateway.networking.k8s.io', kind, plural, scope: 'Namespaced', versions, status: true, categories: ['gateway-api'], annotations: GW_ANN, ...o,
});

export const CRDS: readonly CrdEntry[] = [
  istio('networking.istio.io', 'VirtualService', 'virtualservices', ISTIO_NET([{ name: 'Gateways', jsonPath: '.spec.gateways', type: 'string' }, { name: 'Hosts', jsonPath: '.spec.hosts', type: 'string' }]), ['vs']),
  istio('networking.istio.io', 'DestinationRule', 'destinationrules', ISTIO_NET([{ name: 'Host', jsonPath: '.spec.host', type: 'string' }]), ['dr']),
  istio('networking.istio.io', 'Gateway', 'gateways', ISTIO_NET(), ['gw']),
  istio('networking.istio.io', 'ServiceEntry', 'serviceentries', ISTIO_NET([{ name: 'Hosts', jsonPath: '.spec.hosts', type: 'string' }, { name: 'Location', jsonPath: '.spec.location', type: 'string' }, { name: 'Resolution', jsonPath: '.spec.resolution', type: 'string' }]), ['se']),
  istio('networking.istio.io', 'WorkloadEntry', 'workloadentries', ISTIO_NET([{ name: 'Address', jsonPath: '.spec.address', type: 'string' }]), ['we']),
  istio('security.istio.io', 'AuthorizationPolicy', 'authorizationpolicies', ISTIO_SEC([{ name: 'Action', jsonPath: '.spec.action', type: 'string' }]), ['ap']),
  istio('security.istio.io', 'PeerAuthentication', 'peerauthentications', ISTIO_SEC([{ name: 'Mode', jsonPath: '.spec.mtls.mode', type: 'string' }]), ['pa']),
  istio('security.istio.io', 'RequestAuthentication', 'requestauthentications', ISTIO_SEC(), ['ra']),
  istio('extensions.istio.io', 'WasmPlugin', 'wasmplugins', [{ name: 'v1alpha1', storage: true }]),
  gw('GatewayClass', 'gatewayclasses', GW([{ name: 'Controller', jsonPath: '.spec.controllerName', type: 'string' }, { name: 'Accepted', jsonPath: '.status.conditions[?(@.type=="Accepted")].status', type: 'string' }, { name: 'Description', jsonPath: '.spec.description', type: 'string' }]), { scope: 'Cluster', shortNames: ['gc'] }),
  gw('Gateway', 'gateways', GW([{ name: 'Class', jsonPath: '.spec.gatewayClassName', type: 'string' }, { name: 'Address', jsonPath: '.status.addresses[*].value', type: 'string' }, { name: 'Programmed', jsonPath: '.status.conditions[?(@.type=="Programmed")].status', type: 'string' }]), { shortNames: ['gtw'] }),
  gw('HTTPRoute', 'httproutes', GW(HOSTNAMES)),
  // upstream's standard channel serves GRPCRoute as v1 only and ReferenceGrant as v1beta1 only (v1.4.1)
  gw('GRPCRoute', 'grpcroutes', [{ name: 'v1', storage: true, columns: HOSTNAMES }]),
  gw('ReferenceGrant', 'referencegrants', [{ name: 'v1beta1', storage: true }], { shortNames: ['refgrant'], status: false }),
  {
    set: 'inference', group: 'inference.networking.k8s.io', kind: 'InferencePool', plural: 'inferencepools', scope: 'Namespaced', shortNames: ['infpool'], status: true,
    annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api-inference-extension/pull/1173', 'inference.networking.k8s.io/bundle-version': 'v1.1.0' },
    versions: [{ name: 'v1', storage: true }],
  },
  {
    set: 'inference', group: 'inference.networking.x-k8s.io', kind: 'InferencePool', plural: 'inferencepools', scope: 'Namespaced', shortNames: ['xinfpool'], status: true,
    annotations: { 'api-approved.kubernetes.io': 'unapproved, experimental-only', 'inference.networking.k8s.io/bundle-version': 'v1.1.0' },
    versions: [{ name: 'v1alpha2', storage: true }],
  },
  {
    set: 'inference', group: 'inference.networking.x-k8s.io', kind: 'InferenceObjective', plural: 'inferenceobjectives', scope: 'Namespaced', status: true,
    annotations: { 'inference.networking.k8s.io/bundle-version': 'v1.1.0' },
    versions: [{ name: 'v1alpha2', storage: true, columns: [{ name: 'Inference Pool', jsonPath: '.spec.poolRef.name', type: 'string' }, { name: 'Priority', jsonPath: '.spec.priority', type: 'string' }] }],
  },
];
