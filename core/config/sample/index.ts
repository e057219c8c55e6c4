/**
 * The embedded sample mesh (`weft control` / `weft up` without `--config`): pure data, so every host
 * (Node, Deno, workerd) can serve it. Namespace `demo` in ambient mode, two services whose backends are
 * WorkloadEntries on loopback served by the node `local`, an Istio ingress Gateway with a VirtualService,
 * the Gateway API equivalent, an AuthorizationPolicy and a built-in rate-limit WasmPlugin.
 * Ports: ingress 8080 (Istio Gateway), 8081 (Gateway API Gateway); backends 127.0.0.1:18080 and :18081.
 */
import type { SourceFile } from '../../ports/index.ts';

const namespace = `# The demo namespace, enrolled in ambient mode: its workloads talk HBONE.
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels:
    istio.io/dataplane-mode: ambient
`;

const backend = (name: string, port: number, vip: string) => `# ${name}: a Service whose one backend is a process on loopback, served by the node proxy "local".
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${name}
  namespace: demo
---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: demo
  labels:
    app: ${name}
spec:
  clusterIP: ${vip}
  selector:
    app: ${name}
  ports:
  - name: http
    port: 80
    targetPort: ${port}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}-1
  namespace: demo
spec:
  address: 127.0.0.1
  serviceAccount: ${name}
  labels:
    app: ${name}
    version: v1
    weft.io/node: local
  ports:
    http: ${port}
`;

const istioIngress = `# Ingress the Istio way: a Gateway for the ingress gateway process and a VirtualService routing by path.
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ingress
  namespace: demo
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 8080
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ingress
  namespace: demo
spec:
  hosts:
  - "*"
  gateways:
  - ingress
  http:
  - name: echo
    match:
    - uri:
        prefix: /echo
    route:
    - destination:
        host: echo.demo.svc.cluster.local
        port:
          number: 80
  - name: hello
    match:
    - uri:
        prefix: /hello
    route:
    - destination:
        host: hello.demo.svc.cluster.local
        port:
          number: 80
`;

const gatewayApi = `# The same routes with Gateway API, on port 8081 (GatewayClass weft exists without being declared).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: demo
spec:
  gatewayClassName: weft
  listeners:
  - name: http
    port: 8081
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: demo
spec:
  parentRefs:
  - name: web
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /echo
    backendRefs:
    - name: echo
      port: 80
  - matches:
    - path:
        type: PathPrefix
        value: /hello
    backendRefs:
    - name: hello
      port: 80
`;

const policies = `# Deny anything coming from the (absent) quarantine namespace: an L4 policy every node proxy enforces.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-quarantine
  namespace: demo
spec:
  action: DENY
  rules:
  - from:
    - source:
        namespaces:
        - quarantine
---
# A built-in plugin: local rate limiting at the ingress gateway.
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: rate-limit
  namespace: demo
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: file:///builtin/rate-limit.wasm
  phase: AUTHZ
  failStrategy: FAIL_OPEN
  pluginConfig:
    requestsPerSecond: 100
    burst: 200
`;

export const SAMPLE_FILES: readonly SourceFile[] = Object.freeze([
  { path: 'sample/namespace.yaml', text: namespace },
  { path: 'sample/echo.yaml', text: backend('echo', 18080, '240.240.0.10') },
  { path: 'sample/hello.yaml', text: backend('hello', 18081, '240.240.0.11') },
  { path: 'sample/ingress-istio.yaml', text: istioIngress },
  { path: 'sample/ingress-gateway-api.yaml', text: gatewayApi },
  { path: 'sample/policies.yaml', text: policies },
]);
