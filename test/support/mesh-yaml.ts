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

/** A WorkloadEntry labelled `app: <app>` and hosted by `node` (label weft.io/node). */
export function workloadEntry(w: { name: string; namespace: string; app: string; node: string; address: string; serviceAccount: string }): string {
  const labels = `{ app: ${w.app}, weft.io/node: ${w.node} }`;
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${w.name}, namespace: ${w.namespace}, labels: ${labels} }
spec: { address: ${w.address}, serviceAccount: ${w.serviceAccount}, labels: ${labels} }
`;
}

/** A Service with a virtual IP selecting `app: <app>`, port 80 to `targetPort`. */
export function service(s: { name: string; namespace: string; app: string; clusterIP: string; targetPort: number }): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${s.name}, namespace: ${s.namespace} }
spec:
  clusterIP: ${s.clusterIP}
  selector: { app: ${s.app} }
  ports: [{ name: http, port: 80, targetPort: ${s.targetPort} }]
`;
}

/** Documents joined into one multi-document YAML file. */
export function yamlDocs(...docs: string[]): string {
  return docs.join('---\n');
}
