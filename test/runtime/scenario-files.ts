/**
 * The config directory the runtime scenario reads, as text (hosts read disks; core parses text).
 * Inline, because workerd has no file system: the mesh ConfigMap, a namespace of workloads and services,
 * and one file with a bad resource and an unsupported kind, so validation errors travel too.
 * SCENARIO_CHANGE is the same directory after an edit: one pod moved (a real change) and one good
 * Service broken (rejected; its last good version must keep serving).
 */
import type { SourceFile } from '../../core/ports/index.ts';

const bookinfo = `apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
spec:
  clusterIP: 10.96.0.20
  selector:
    app: reviews
  ports:
    - name: http
      port: 9080
      targetPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: bookinfo
spec:
  clusterIP: 10.96.0.21
  selector:
    app: ratings
  ports:
    - name: http
      port: 9080
      targetPort: http-alt
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: bookinfo
  labels:
    app: reviews
    version: v1
spec:
  nodeName: node-a
  serviceAccountName: bookinfo-reviews
  containers:
    - name: reviews
      image: reviews:v1
      ports:
        - containerPort: 9080
status:
  podIP: 10.244.0.11
---
apiVersion: v1
kind: Pod
metadata:
  name: ratings-v1
  namespace: bookinfo
  labels:
    app: ratings
spec:
  nodeName: node-b
  serviceAccountName: bookinfo-ratings
  containers:
    - name: ratings
      image: ratings:v1
      ports:
        - name: http-alt
          containerPort: 9081
status:
  podIP: 10.244.0.12
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: reviews-vm
  namespace: bookinfo
  labels:
    app: reviews
    version: v2
    weft.io/node: device-1
spec:
  address: 192.168.1.40
  serviceAccount: bookinfo-reviews
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-from-productpage
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
    - from:
        - source:
            principals:
              - example.org/ns/bookinfo/sa/bookinfo-productpage
`;

const bad = `apiVersion: v1
kind: Service
metadata:
  name: details
  namespace: bookinfo
spec:
  selector:
    app: details
  ports:
    - name: http
      port: 70000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: productpage
  namespace: bookinfo
spec: {}
`;

// Istio's habit (design.md 4): the mesh settings as the ConfigMap `istio` in istio-system.
const mesh = `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |
    trustDomain: example.org
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`;

export const SCENARIO_FILES: readonly SourceFile[] = [
  { path: 'istio-system/mesh.yaml', text: mesh },
  { path: 'bookinfo/workloads.yaml', text: bookinfo },
  { path: 'bookinfo/broken.yaml', text: bad },
];

const edited = bookinfo
  .replace('podIP: 10.244.0.12', 'podIP: 10.244.0.13')
  .replace('      port: 9080\n      targetPort: 9080', '      port: 0\n      targetPort: 9080');

export const SCENARIO_CHANGE: readonly SourceFile[] = SCENARIO_FILES.map((f) => (f.text === bookinfo ? { ...f, text: edited } : f));
if (!edited.includes('podIP: 10.244.0.13') || !edited.includes('port: 0')) {
  throw new Error('scenario-files: the edit did not apply');
}
