/**
 * The fake API server's resource tables (test/support/fake-kube-apiserver.ts): the built-in kinds it
 * serves from the start, the custom resources Weft reads (served once their CRD is created), and the
 * CustomResourceDefinition of one.
 */
export interface ResourceDef {
  group: string;
  versions: string[];
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Served through a CustomResourceDefinition (removed with it). */
  crd?: boolean;
}

/** Kinds built into the API server that Weft and its manifests use. */
export const BUILTIN: ResourceDef[] = [
  ['', 'v1', 'Namespace', 'namespaces', false],
  ['', 'v1', 'Service', 'services', true],
  ['', 'v1', 'Pod', 'pods', true],
  ['', 'v1', 'Secret', 'secrets', true],
  ['', 'v1', 'ServiceAccount', 'serviceaccounts', true],
  ['', 'v1', 'ConfigMap', 'configmaps', true],
  ['', 'v1', 'Endpoints', 'endpoints', true],
  ['', 'v1', 'Node', 'nodes', false],
  ['discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true],
  ['apps', 'v1', 'Deployment', 'deployments', true],
  ['apps', 'v1', 'DaemonSet', 'daemonsets', true],
  ['apps', 'v1', 'StatefulSet', 'statefulsets', true],
  ['apps', 'v1', 'ReplicaSet', 'replicasets', true],
  ['batch', 'v1', 'Job', 'jobs', true],
  ['policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true],
  ['autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true],
  ['networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true],
  ['coordination.k8s.io', 'v1', 'Lease', 'leases', true],
  ['rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true],
  ['rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true],
  ['rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false],
  ['rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false],
  ['admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
  ['admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false],
  ['apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false],
].map(([group, version, kind, plural, namespaced]) => ({ group, versions: [version], kind, plural, namespaced } as ResourceDef));

/** The custom resources Weft reads (core/config/kinds.ts), for `installCrds`; served only once installed. */
export const WEFT_CRDS: readonly ResourceDef[] = [
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'VirtualService', 'virtualservices', true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'DestinationRule', 'destinationrules', true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'Gateway', 'gateways', true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'ServiceEntry', 'serviceentries', true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'WorkloadEntry', 'workloadentries', true],
  ['security.istio.io', ['v1', 'v1beta1'], 'AuthorizationPolicy', 'authorizationpolicies', true],
  ['security.istio.io', ['v1', 'v1beta1'], 'PeerAuthentication', 'peerauthentications', true],
  ['security.istio.io', ['v1', 'v1beta1'], 'RequestAuthentication', 'requestauthentications', true],
  ['extensions.istio.io', ['v1alpha1'], 'WasmPlugin', 'wasmplugins', true],
  ['gateway.networking.k8s.io', ['v1', 'v1beta1'], 'GatewayClass', 'gatewayclasses', false],
  ['gateway.networking.k8s.io', ['v1', 'v1beta1'], 'Gateway', 'gateways', true],
  ['gateway.networking.k8s.io', ['v1', 'v1beta1'], 'HTTPRoute', 'httproutes', true],
  ['gateway.networking.k8s.io', ['v1'], 'GRPCRoute', 'grpcroutes', true],
  ['gateway.networking.k8s.io', ['v1beta1'], 'ReferenceGrant', 'referencegrants', true],
  ['inference.networking.k8s.io', ['v1'], 'InferencePool', 'inferencepools', true],
  ['inference.networking.x-k8s.io', ['v1alpha2'], 'InferencePool', 'inferencepools', true],
  ['inference.networking.x-k8s.io', ['v1alpha2'], 'InferenceObjective', 'inferenceobjectives', true],
].map(([group, versions, kind, plural, namespaced]) => ({ group, versions, kind, plural, namespaced, crd: true } as ResourceDef));


/** A CustomResourceDefinition for a custom resource (schema-less: preserve unknown fields). */
export function crdObject(d: ResourceDef): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${d.plural}.${d.group}` },
    spec: {
      group: d.group,
      scope: d.namespaced ? 'Namespaced' : 'Cluster',
      names: { kind: d.kind, plural: d.plural, singular: d.kind.toLowerCase(), listKind: `${d.kind}List` },
      versions: d.versions.map((name, i) => ({
        name, served: true, storage: i === 0, subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      })),
    },
  };
}
