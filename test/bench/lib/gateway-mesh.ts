/**
 * The mesh config the gateway benches share (test/bench/l7, test/bench/plugins): namespace bench,
 * the origin as a Service backed by a WorkloadEntry on loopback, a Gateway of class weft on
 * `gatewayPort`, and an HTTPRoute whose rules are `rules` (YAML list items indented four spaces);
 * `extra` is appended (further documents, each starting with `---`).
 */
export const ONE_RULE = '    - backendRefs: [{ name: origin, port: 80 }]';

export function gatewayMesh(originPort: number, gatewayPort: number, rules = ONE_RULE, extra = ''): string {
  return `apiVersion: v1
kind: Namespace
metadata: { name: bench }
---
apiVersion: v1
kind: Service
metadata: { name: origin, namespace: bench }
spec: { clusterIP: 240.240.9.1, selector: { app: origin }, ports: [{ name: http, port: 80, targetPort: ${originPort} }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: origin, namespace: bench, labels: { app: origin, weft.io/node: bench } }
spec: { address: 127.0.0.1, labels: { app: origin, weft.io/node: bench } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: bench }
spec: { gatewayClassName: weft, listeners: [{ name: http, port: ${gatewayPort}, protocol: HTTP }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: origin, namespace: bench }
spec:
  parentRefs: [{ name: edge }]
  rules:
${rules}
${extra}`;
}
