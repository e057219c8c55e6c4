/**
 * Small builders for the mesh YAML the integration tests write into a config directory, so each
 * test states only what differs (names, addresses, nodes) and the manifests stay valid resources.
 */

/** A namespace enrolled in ambient. */
export function ambientNamespace(name: string): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: ${name}, labels: { istio.io/dataplane-mode: ambient } }
`;
}

/** A namespace, not enrolled in anything. */
export function namespace(name: string): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: ${name} }
`;
}

/**
 * A WorkloadEntry labelled `app: <app>` (then `labels`, e.g. a version) and hosted by `node` (label
 * weft.io/node), with its service account when given.
 */
export function workloadEntry(w: { name: string; namespace: string; app: string; node: string; address: string; serviceAccount?: string; labels?: Record<string, string> }): string {
  const extra = Object.entries(w.labels ?? {}).map(([k, v]) => `${k}: ${v}, `).join('');
  const labels = `{ app: ${w.app}, ${extra}weft.io/node: ${w.node} }`;
  const sa = w.serviceAccount ? `serviceAccount: ${w.serviceAccount}, ` : '';
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${w.name}, namespace: ${w.namespace}, labels: ${labels} }
spec: { address: ${w.address}, ${sa}labels: ${labels} }
`;
}

/** A Service with a virtual IP selecting `app: <app>`, `port` (80) to `targetPort`. */
export function service(s: { name: string; namespace: string; app: string; clusterIP: string; port?: number; targetPort: number }): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${s.name}, namespace: ${s.namespace} }
spec:
  clusterIP: ${s.clusterIP}
  selector: { app: ${s.app} }
  ports: [{ name: http, port: ${s.port ?? 80}, targetPort: ${s.targetPort} }]
`;
}

/** A Gateway API Gateway (class istio) with one HTTP listener `http` on `port`. */
export function httpGateway(g: { name: string; namespace: string; port: number }): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${g.name}, namespace: ${g.namespace} }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: ${g.port}, protocol: HTTP }]
`;
}

/** An HTTPRoute on Gateway `gateway` sending everything to Service `backend` port 80. */
export function httpRouteAll(r: { name: string; namespace: string; gateway: string; backend: string }): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${r.name}, namespace: ${r.namespace} }
spec:
  parentRefs: [{ name: ${r.gateway} }]
  rules: [{ backendRefs: [{ name: ${r.backend}, port: 80 }] }]
`;
}

/** Documents joined into one multi-document YAML file. */
export function yamlDocs(...docs: string[]): string {
  return docs.join('---\n');
}
