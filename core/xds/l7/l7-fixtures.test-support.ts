/** YAML for the L7 tests: upstream conformance shapes (Gateway API) and Istio's bookinfo. */
import { analyzeFiles } from '../../config/analyze.ts';
import type { MeshSnapshot } from '../../config/snapshot.ts';

export function snapshotOf(...docs: string[]): MeshSnapshot {
  return analyzeFiles([{ path: 'l7.yaml', text: docs.join('---\n') }]).snapshot;
}

export const svc = (name: string, ns: string, ip: string, port = 8080, portName = 'http') => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { clusterIP: ${ip}, selector: { app: ${name} }, ports: [{ name: ${portName}, port: ${port} }] }
`;

export const pod = (name: string, ns: string, app: string, ip: string, labels = '') => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { app: ${app}${labels ? `, ${labels}` : ''} } }
spec: { nodeName: n1, serviceAccountName: ${app}, containers: [{ name: c, image: i }] }
status: { podIP: ${ip} }
`;

export const gateway = (name: string, ns = 'gateway-conformance-infra', extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${ns} }
spec:
  gatewayClassName: weft
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: { namespaces: { from: All } }
${extra}`;

export const infra = [
  `apiVersion: v1
kind: Namespace
metadata: { name: gateway-conformance-infra }
`,
  svc('infra-backend-v1', 'gateway-conformance-infra', '10.96.0.1'),
  svc('infra-backend-v2', 'gateway-conformance-infra', '10.96.0.2'),
  svc('infra-backend-v3', 'gateway-conformance-infra', '10.96.0.3'),
  pod('infra-backend-v1-a', 'gateway-conformance-infra', 'infra-backend-v1', '10.1.0.1'),
];
