import { describe, expect, it } from 'vitest';
import { analyzeFiles } from './analyze.ts';
import { formatIssue } from './issues.ts';

const FILES = {
  'ns.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: ambient
    istio.io/use-waypoint: waypoint
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
`,
  'waypoint.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: shop
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
`,
  'cart.yaml': `apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  clusterIP: 10.96.0.20
  selector: {app: cart}
  ports:
  - {name: http, port: 80, targetPort: web}
  - {name: admin, port: 9000, targetPort: 9901}
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-7d9f-abcde
  namespace: shop
  labels: {app: cart, version: v2, pod-template-hash: 7d9f}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: cart-7d9f, controller: true}
spec:
  nodeName: node-a
  serviceAccountName: cart
  containers:
  - name: app
    image: cart:2
    ports: [{name: web, containerPort: 8080}]
status:
  podIP: 10.0.1.5
  podIPs: [{ip: 10.0.1.5}, {ip: "fd00::5"}]
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-old
  namespace: shop
  labels: {app: cart, istio.io/dataplane-mode: none}
spec:
  nodeName: node-b
  containers: [{name: app}]
status:
  podIP: 10.0.1.6
  conditions: [{type: Ready, status: "False"}]
`,
  'sensor.yaml': `apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: sensor-1
  namespace: legacy
spec:
  address: 192.168.7.10
  serviceAccount: sensor
  labels: {app: sensor, weft.io/node: pi-1}
  ports: {metrics: 9100}
  locality: eu/west-1/a
---
apiVersion: v1
kind: Service
metadata: {name: sensor, namespace: legacy}
spec:
  selector: {app: sensor}
  ports: [{name: metrics, port: 80, targetPort: 9999}]
`,
  'slices.yaml': `apiVersion: v1
kind: Service
metadata: {name: db, namespace: legacy}
spec:
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: legacy
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 15432}]
endpoints:
- addresses: [10.1.0.7]
  conditions: {ready: true}
- addresses: [10.1.0.8]
  conditions: {ready: false}
`,
  'external.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: shop}
spec:
  hosts: [pay.example.com, pay-backup.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: https, protocol: HTTPS}]
  endpoints:
  - address: 203.0.113.9
`,
  'mesh.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    trustDomain: corp.example
`,
};

const files = (o: Record<string, string>) => Object.entries(o).map(([path, text]) => ({ path, text }));

describe('snapshot building', () => {
  const { snapshot, errors, warnings } = analyzeFiles(files(FILES));

  it('accepts the config without errors', () => {
    expect(errors.map(formatIssue)).toEqual([]);
  });

  it('builds workloads from Pods', () => {
    const w = snapshot.workloads.find((x) => x.name === 'cart-7d9f-abcde')!;
    expect(w).toMatchObject({
      uid: 'Kubernetes//Pod/shop/cart-7d9f-abcde',
      kind: 'Pod',
      node: 'node-a',
      addresses: ['10.0.1.5', 'fd00::5'],
      serviceAccount: 'cart',
      identity: 'spiffe://corp.example/ns/shop/sa/cart',
      canonicalName: 'cart',
      canonicalRevision: 'v2',
      workloadName: 'cart',
      tunnelProtocol: 'HBONE',
      namedPorts: { web: 8080 },
      healthy: true,
      services: ['shop/cart.shop.svc.cluster.local'],
    });
    const old = snapshot.workloads.find((x) => x.name === 'cart-old')!;
    expect(old).toMatchObject({ serviceAccount: 'default', tunnelProtocol: 'NONE', healthy: false, workloadName: 'cart-old' });
  });

  it('builds workloads from WorkloadEntries, with the node from weft.io/node', () => {
    const w = snapshot.workloads.find((x) => x.name === 'sensor-1')!;
    expect(w).toMatchObject({
      uid: 'Kubernetes/networking.istio.io/WorkloadEntry/legacy/sensor-1',
      kind: 'WorkloadEntry',
      node: 'pi-1',
      addresses: ['192.168.7.10'],
      identity: 'spiffe://corp.example/ns/legacy/sa/sensor',
      tunnelProtocol: 'NONE',
      locality: { region: 'eu', zone: 'west-1', subzone: 'a' },
    });
  });

  it('resolves named and numeric targetPorts per workload', () => {
    const cart = snapshot.services.find((s) => s.name === 'cart')!;
    expect(cart).toMatchObject({ key: 'shop/cart.shop.svc.cluster.local', hostname: 'cart.shop.svc.cluster.local', addresses: ['10.96.0.20'] });
    expect(cart.endpoints).toEqual([
      { workloadUid: 'Kubernetes//Pod/shop/cart-7d9f-abcde', address: '10.0.1.5', ports: { 80: 8080, 9000: 9901 }, healthy: true },
      // The old pod has no container port named web: it serves only the numeric one.
      { workloadUid: 'Kubernetes//Pod/shop/cart-old', address: '10.0.1.6', ports: { 9000: 9901 }, healthy: false },
    ]);
    // A WorkloadEntry's ports map names service ports, as in Istio.
    expect(snapshot.services.find((s) => s.name === 'sensor')!.endpoints[0]!.ports).toEqual({ 80: 9100 });
  });

  it('takes endpoints from EndpointSlices when the Service has no selector', () => {
    const db = snapshot.services.find((s) => s.name === 'db')!;
    expect(db.selector).toBeUndefined();
    expect(db.endpoints.map((e) => [e.address, e.ports[5432], e.healthy])).toEqual([
      ['10.1.0.7', 15432, true],
      ['10.1.0.8', 15432, false],
    ]);
  });

  it('makes one service per ServiceEntry host', () => {
    const se = snapshot.services.filter((s) => s.source === 'ServiceEntry');
    expect(se.map((s) => s.key)).toEqual(['shop/pay-backup.example.com', 'shop/pay.example.com']);
    expect(se[0]).toMatchObject({ location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ name: 'https', port: 443, targetPort: 443, protocol: 'TCP', appProtocol: 'https' }] });
    expect(se[0]!.endpoints[0]!.address).toBe('203.0.113.9');
  });

  it('attaches the namespace waypoint to services, not to workloads (waypoint-for defaults to service)', () => {
    expect(snapshot.services.find((s) => s.name === 'cart')!.waypoint).toEqual({ namespace: 'shop', name: 'waypoint' });
    expect(snapshot.workloads.find((x) => x.name === 'cart-7d9f-abcde')!.waypoint).toBeUndefined();
    expect(snapshot.services.find((s) => s.name === 'sensor')!.waypoint).toBeUndefined();
  });

  it('lists namespaces with their labels, implied ones included', () => {
    expect([...snapshot.namespaces.keys()]).toEqual(['istio-system', 'legacy', 'shop']);
    expect(snapshot.namespaces.get('shop')!.labels['kubernetes.io/metadata.name']).toBe('shop');
  });

  it('is deterministic whatever the file order', () => {
    const reversed = analyzeFiles(files(FILES).reverse()).snapshot;
    expect(JSON.stringify(reversed.services)).toBe(JSON.stringify(snapshot.services));
    expect(JSON.stringify(reversed.workloads)).toBe(JSON.stringify(snapshot.workloads));
    expect(snapshot.services.map((s) => s.key)).toEqual([...snapshot.services.map((s) => s.key)].sort());
  });

  it('warns about a waypoint label naming a missing Gateway, at the label', () => {
    const { warnings: w } = analyzeFiles(files({
      'svc.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels:\n    istio.io/use-waypoint: wp\nspec:\n  selector: {app: a}\n',
    }));
    expect(w.map(formatIssue)).toContain('svc.yaml:6: Service default/a: metadata.labels["istio.io/use-waypoint"]: waypoint Gateway default/wp does not exist');
    expect(warnings.filter((x) => /waypoint/.test(x.message))).toEqual([]);
  });

  it('gives a pod its own waypoint when the Gateway serves workloads', () => {
    const { snapshot: s } = analyzeFiles(files({
      'wp.yaml': FILES['waypoint.yaml'].replace('  namespace: shop\n', '  namespace: shop\n  labels: {istio.io/waypoint-for: all}\n'),
      'ns.yaml': FILES['ns.yaml'],
      'pod.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  nodeName: n\n  containers: [{name: c}]\nstatus: {podIP: 10.0.0.9}\n',
    }));
    expect(s.workloads[0]!.waypoint).toEqual({ namespace: 'shop', name: 'waypoint' });
  });

  it('reports a pod without an address and leaves it out', () => {
    const { snapshot: s, warnings: w } = analyzeFiles(files({ 'p.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n' }));
    expect(s.workloads).toEqual([]);
    expect(w.map(formatIssue)).toContain('p.yaml:1: Pod default/p: status.podIP: is not set: the pod is not a workload until it has an address');
  });

  it('reads InferencePool v1alpha2 into the v1 shape', () => {
    const { snapshot: s, errors: e } = analyzeFiles(files({
      'pool.yaml': `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: {name: llm}
spec:
  selector: {app: vllm}
  targetPortNumber: 8000
  extensionRef: {name: epp}
---
apiVersion: v1
kind: Service
metadata: {name: epp}
spec:
  selector: {app: epp}
  ports: [{port: 9002}]
`,
    }));
    expect(e).toEqual([]);
    expect(s.resources.get('InferencePool')![0]!.spec).toEqual({
      selector: { matchLabels: { app: 'vllm' } },
      targetPorts: [{ number: 8000 }],
      endpointPickerRef: { group: '', kind: 'Service', name: 'epp', port: { number: 9002 }, failureMode: 'FailClose' },
    });
  });

  it('applies upstream defaults', () => {
    const { snapshot: s } = analyzeFiles(files({
      'r.yaml': 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n',
      'p.yaml': 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {}\n',
    }));
    expect(s.resources.get('HTTPRoute')![0]!.spec).toEqual({
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }],
    });
    expect((s.resources.get('AuthorizationPolicy')![0]!.spec as { action: string }).action).toBe('ALLOW');
  });
});
