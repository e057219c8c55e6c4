/**
 * Malformed inputs: each case is a small file and the one issue it must produce, asserted on every
 * part a user relies on: file, line, resource (kind, namespace, name), field path and message.
 */
import { describe, expect, it } from 'vitest';
import { analyzeFiles } from './analyze.ts';
import { formatIssue, type ConfigIssue } from './issues.ts';

interface Case {
  name: string;
  yaml: string;
  severity: 'error' | 'warning';
  line: number;
  /** `Kind ns/name`, or undefined for issues that belong to the file only (YAML syntax). */
  resource?: string;
  path: string;
  message: RegExp;
  /** Other files analyzed with it (references, duplicates). */
  extra?: Record<string, string>;
  file?: string;
}

const vs = (http: string) => `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
${http}`;

const svc = (name: string, ns = 'default', port = 80) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}}]
`;

const CASES: Case[] = [
  {
    name: 'YAML syntax error',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [a\n  namespace: x\n',
    severity: 'error', line: 5, path: '', message: /YAML syntax error/,
  },
  {
    name: 'duplicate YAML key',
    yaml: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n',
    severity: 'error', line: 5, path: '', message: /YAML syntax error: Map keys must be unique/,
  },
  {
    name: 'VirtualService weight out of range',
    yaml: vs('  - route:\n    - destination: {host: reviews}\n      weight: 50\n    - destination: {host: reviews}\n      weight: 200\n'),
    severity: 'error', line: 13, resource: 'VirtualService default/reviews', path: 'spec.http[0].route[1].weight', message: /^must be 0\.\.100$/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'wrong type: weight as a string',
    yaml: vs('  - route:\n    - destination: {host: reviews}\n      weight: "50"\n'),
    severity: 'error', line: 11, resource: 'VirtualService default/reviews', path: 'spec.http[0].route[0].weight', message: /must be a number \(got "50"\)/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'bad duration',
    yaml: vs('  - timeout: 10 seconds\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 9, resource: 'VirtualService default/reviews', path: 'spec.http[0].timeout', message: /is not a duration/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'duration below 1ms',
    yaml: vs('  - timeout: 100us\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 9, resource: 'VirtualService default/reviews', path: 'spec.http[0].timeout', message: /at least 1ms/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'bad regex in a uri match',
    yaml: vs('  - match:\n    - uri:\n        regex: "/v[0-9+"\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 11, resource: 'VirtualService default/reviews', path: 'spec.http[0].match[0].uri.regex', message: /not a valid regular expression/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'RE2 lookahead in a regex',
    yaml: vs('  - match:\n    - uri:\n        regex: "/(?!admin)"\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 11, resource: 'VirtualService default/reviews', path: 'spec.http[0].match[0].uri.regex', message: /lookahead/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'missing destination host',
    yaml: vs('  - route:\n    - destination: {subset: v1}\n'),
    severity: 'error', line: 10, resource: 'VirtualService default/reviews', path: 'spec.http[0].route[0].destination.host', message: /^is required$/,
  },
  {
    name: 'route and redirect together',
    yaml: vs('  - redirect: {uri: /x}\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 9, resource: 'VirtualService default/reviews', path: 'spec.http[0]', message: /only one of route, redirect/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'bad retryOn policy',
    yaml: vs('  - retries: {attempts: 3, retryOn: "5xx,sometimes"}\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'error', line: 9, resource: 'VirtualService default/reviews', path: 'spec.http[0].retries.retryOn', message: /"sometimes" is not a retryOn policy/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'port out of range',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - name: http\n    port: 70000\n',
    severity: 'error', line: 8, resource: 'Service default/web', path: 'spec.ports[0].port', message: /^must be 1\.\.65535$/,
  },
  {
    name: 'Service port protocol enum',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n    protocol: HTTP\n',
    severity: 'error', line: 8, resource: 'Service default/web', path: 'spec.ports[0].protocol', message: /must be one of TCP, UDP, SCTP/,
  },
  {
    name: 'Service name is not a DNS-1035 label',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: 1web\nspec: {}\n',
    severity: 'error', line: 4, resource: 'Service default/1web', path: 'metadata.name', message: /DNS-1035/,
  },
  {
    name: 'missing metadata.name',
    yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: prod\ndata: {}\n',
    severity: 'error', line: 3, resource: 'ConfigMap prod/(no name)', path: 'metadata.name', message: /^is required$/,
  },
  {
    name: 'label value that is not a string',
    yaml: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    tier: 3\n',
    severity: 'error', line: 6, resource: 'Namespace shop', path: 'metadata.labels.tier', message: /must be a string \(got 3\)/,
  },
  {
    name: 'bad label key',
    yaml: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    "bad key!": x\n',
    severity: 'error', line: 6, resource: 'Namespace shop', path: 'metadata.labels["bad key!"]', message: /qualified name/,
  },
  {
    name: 'AuthorizationPolicy action enum',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: prod}\nspec:\n  action: PERMIT\n',
    severity: 'error', line: 5, resource: 'AuthorizationPolicy prod/p', path: 'spec.action', message: /must be one of ALLOW, DENY, AUDIT, CUSTOM/,
  },
  {
    name: 'bad CIDR in ipBlocks',
    yaml: 'apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: prod}\nspec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.0/8", "10.1.0.0/33"]\n',
    severity: 'error', line: 8, resource: 'AuthorizationPolicy prod/p', path: 'spec.rules[0].from[0].source.ipBlocks[1]', message: /"10\.1\.0\.0\/33" is not an IP address or CIDR block/,
  },
  {
    name: 'unknown condition key',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: prod}\nspec:\n  rules:\n  - when:\n    - key: request.colour\n      values: [red]\n',
    severity: 'error', line: 7, resource: 'AuthorizationPolicy prod/p', path: 'spec.rules[0].when[0].key', message: /is not a condition key/,
  },
  {
    name: 'CUSTOM action without provider',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: prod}\nspec:\n  action: CUSTOM\n',
    severity: 'error', line: 4, resource: 'AuthorizationPolicy prod/p', path: 'spec.provider', message: /is required when action is CUSTOM/,
  },
  {
    name: 'PeerAuthentication mode enum',
    yaml: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls:\n    mode: STRICTEST\n',
    severity: 'error', line: 6, resource: 'PeerAuthentication istio-system/default', path: 'spec.mtls.mode', message: /must be one of UNSET, DISABLE, PERMISSIVE, STRICT/,
  },
  {
    name: 'DestinationRule without host',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  subsets: [{name: v1, labels: {version: v1}}]\n',
    severity: 'error', line: 4, resource: 'DestinationRule default/dr', path: 'spec.host', message: /^is required$/,
  },
  {
    name: 'DestinationRule loadBalancer enum',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n',
    severity: 'error', line: 8, resource: 'DestinationRule default/dr', path: 'spec.trafficPolicy.loadBalancer.simple', message: /must be one of UNSPECIFIED, LEAST_CONN/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'outlierDetection percent out of range',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: reviews\n  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 150\n',
    severity: 'error', line: 8, resource: 'DestinationRule default/dr', path: 'spec.trafficPolicy.outlierDetection.maxEjectionPercent', message: /^must be 0\.\.100$/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'HTTPRoute backendRef to a Service without port',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - name: web\n',
    severity: 'error', line: 7, resource: 'HTTPRoute default/r', path: 'spec.rules[0].backendRefs[0].port', message: /is required for a Service reference/,
    extra: { 's.yaml': svc('web') },
  },
  {
    name: 'HTTPRoute path match type enum',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - matches:\n    - path: {type: Prefix, value: /api}\n',
    severity: 'error', line: 7, resource: 'HTTPRoute default/r', path: 'spec.rules[0].matches[0].path.type', message: /must be one of Exact, PathPrefix, RegularExpression/,
  },
  {
    name: 'HTTPRoute filter type without its field',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - filters:\n    - type: RequestHeaderModifier\n',
    severity: 'error', line: 7, resource: 'HTTPRoute default/r', path: 'spec.rules[0].filters[0].requestHeaderModifier', message: /must be specified for type RequestHeaderModifier/,
  },
  {
    name: 'HTTPRoute weight out of range',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - name: web\n      port: 80\n      weight: -1\n',
    severity: 'error', line: 9, resource: 'HTTPRoute default/r', path: 'spec.rules[0].backendRefs[0].weight', message: /^must be 0\.\.1000000$/,
    extra: { 's.yaml': svc('web') },
  },
  {
    name: 'Gateway API timeout with a fraction',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - timeouts:\n      request: 1.5s\n',
    severity: 'error', line: 7, resource: 'HTTPRoute default/r', path: 'spec.rules[0].timeouts.request', message: /not a Gateway API duration/,
  },
  {
    name: 'bad header name',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - matches:\n    - headers:\n      - name: "x user"\n        value: a\n',
    severity: 'error', line: 8, resource: 'HTTPRoute default/r', path: 'spec.rules[0].matches[0].headers[0].name', message: /valid HTTP header name/,
  },
  {
    name: 'Gateway without listeners',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  gatewayClassName: weft\n  listeners: []\n',
    severity: 'error', line: 6, resource: 'Gateway default/gw', path: 'spec.listeners', message: /at least one listener/,
  },
  {
    name: 'Istio Gateway HTTPS server without tls',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n',
    severity: 'error', line: 6, resource: 'Gateway default/gw', path: 'spec.servers[0].tls', message: /is required for protocol HTTPS/,
  },
  {
    name: 'ServiceEntry CIDR with DNS resolution',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext}\nspec:\n  hosts: [api.example.com]\n  addresses: [10.0.0.0/24]\n  resolution: DNS\n',
    severity: 'error', line: 6, resource: 'ServiceEntry default/ext', path: 'spec.addresses', message: /CIDR addresses are allowed only with resolution NONE or STATIC/,
  },
  {
    name: 'WorkloadEntry port out of range',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w, labels: {weft.io/node: n1}}\nspec:\n  address: 127.0.0.1\n  ports:\n    http: 0\n',
    severity: 'error', line: 7, resource: 'WorkloadEntry default/w', path: 'spec.ports.http', message: /^must be 1\.\.65535$/,
  },
  {
    name: 'Pod IP that is not an IP',
    yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\nstatus:\n  podIP: 10.0.0.300\n',
    severity: 'error', line: 7, resource: 'Pod default/p', path: 'status.podIP', message: /is not an IP address/,
  },
  {
    name: 'TLS Secret without tls.key',
    yaml: 'apiVersion: v1\nkind: Secret\nmetadata: {name: cert}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: Zm9v\n',
    severity: 'error', line: 5, resource: 'Secret default/cert', path: 'data["tls.key"]', message: /is required for a Secret of type kubernetes\.io\/tls/,
  },
  {
    name: 'WasmPlugin sha256 pattern',
    yaml: 'apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec:\n  url: https://example.com/p.wasm\n  sha256: ABC\n',
    severity: 'error', line: 6, resource: 'WasmPlugin default/p', path: 'spec.sha256', message: /64 lower-case hex digits/,
  },
  {
    name: 'InferencePool without targetPorts',
    yaml: 'apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\nmetadata: {name: pool}\nspec:\n  selector: {matchLabels: {app: vllm}}\n  endpointPickerRef: {name: epp, port: {number: 9002}}\n',
    severity: 'error', line: 4, resource: 'InferencePool default/pool', path: 'spec.targetPorts', message: /^is required$/,
  },
  {
    name: 'mesh ConfigMap with a bad outbound traffic policy',
    yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n    trustDomain: example.org\n    outboundTrafficPolicy:\n      mode: DENY_ALL\n',
    severity: 'error', line: 8, resource: 'ConfigMap istio-system/istio', path: 'data.mesh.outboundTrafficPolicy.mode', message: /must be one of ALLOW_ANY, REGISTRY_ONLY/,
  },
  {
    name: 'duplicate names',
    yaml: svc('web'),
    extra: { 'b.yaml': svc('web') },
    file: 'b.yaml',
    severity: 'error', line: 3, resource: 'Service default/web', path: 'metadata.name', message: /duplicate: Service default\/web is also defined at a\.yaml:3/,
  },
  // Warnings: the resource is still accepted.
  {
    name: 'unknown field',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: reviews\n  trafficPolcy: {}\n',
    severity: 'warning', line: 6, resource: 'DestinationRule default/dr', path: 'spec.trafficPolcy', message: /unknown field; ignored/,
    extra: { 's.yaml': svc('reviews') },
  },
  {
    name: 'unknown kind',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: prod}\n',
    severity: 'warning', line: 2, resource: 'Widget prod/w', path: 'kind', message: /unknown kind Widget \(apiVersion example\.com\/v1\); ignored/,
  },
  {
    name: 'unknown apiVersion of a known kind',
    yaml: 'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: v}\n',
    severity: 'warning', line: 1, resource: 'VirtualService default/v', path: 'apiVersion', message: /not a version Weft reads/,
  },
  {
    name: 'Deployment outside Kubernetes',
    yaml: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec: {}\n',
    severity: 'warning', line: 1, resource: 'Deployment prod/web', path: '', message: /not used outside Kubernetes: declare Pods .* or WorkloadEntries labelled weft\.io\/node/,
  },
  {
    name: 'dangling backendRef',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - name: foo\n      port: 80\n',
    severity: 'warning', line: 7, resource: 'HTTPRoute default/r', path: 'spec.rules[0].backendRefs[0]', message: /^BackendNotFound: Service default\/foo does not exist$/,
  },
  {
    name: 'parentRef to a missing Gateway',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - name: gw\n',
    severity: 'warning', line: 6, resource: 'HTTPRoute default/r', path: 'spec.parentRefs[0]', message: /Gateway default\/gw does not exist/,
  },
  {
    name: 'cross-namespace backendRef without ReferenceGrant',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - name: web\n      namespace: other\n      port: 80\n',
    severity: 'warning', line: 8, resource: 'HTTPRoute default/r', path: 'spec.rules[0].backendRefs[0].namespace', message: /RefNotPermitted: .*ReferenceGrant in namespace other/,
    extra: { 's.yaml': svc('web', 'other') },
  },
  {
    name: 'VirtualService destination host to a missing Service',
    yaml: vs('  - route:\n    - destination: {host: ratings}\n'),
    severity: 'warning', line: 10, resource: 'VirtualService default/reviews', path: 'spec.http[0].route[0].destination.host', message: /host ratings does not match any Service or ServiceEntry/,
  },
  {
    name: 'DestinationRule host missing',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: nowhere.default.svc.cluster.local\n',
    severity: 'warning', line: 5, resource: 'DestinationRule default/dr', path: 'spec.host', message: /does not match any Service or ServiceEntry/,
  },
  {
    name: 'field Weft does not support yet',
    yaml: vs('  - mirror: {host: reviews}\n    route:\n    - destination: {host: reviews}\n'),
    severity: 'warning', line: 9, resource: 'VirtualService default/reviews', path: 'spec.http[0].mirror', message: /not supported by Weft yet/,
    extra: { 's.yaml': svc('reviews') },
  },
];

function analyze(c: Case) {
  const files = [{ path: 'a.yaml', text: c.yaml }, ...Object.entries(c.extra ?? {}).map(([path, text]) => ({ path, text }))];
  return analyzeFiles(files).snapshot.issues;
}

const refText = (i: ConfigIssue) => (i.resource ? `${i.resource.kind} ${i.resource.namespace ? `${i.resource.namespace}/` : ''}${i.resource.name}` : undefined);

describe('malformed inputs', () => {
  it('has at least 30 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  for (const c of CASES) {
    it(c.name, () => {
      const issues = analyze(c);
      const hit = issues.find((i) => i.severity === c.severity && i.path === c.path && c.message.test(i.message));
      expect(hit, `expected a ${c.severity} at ${c.path} matching ${c.message}; got:\n${issues.map(formatIssue).join('\n')}`).toBeDefined();
      expect(hit!.file).toBe(c.file ?? 'a.yaml');
      expect(hit!.line).toBe(c.line);
      expect(refText(hit!)).toBe(c.resource);
      const text = formatIssue(hit!);
      expect(text).toContain(`${c.file ?? 'a.yaml'}:${c.line}: `);
      if (c.resource) expect(text).toContain(`${c.resource}: `);
      if (c.path) expect(text).toContain(`${c.path}: `);
      if (c.severity === 'error' && c.resource && c.path !== 'metadata.name' && !c.name.startsWith('YAML')) {
        // The rejected resource is not served; warnings never reject.
        expect(issues.filter((i) => i.severity === 'error')).not.toHaveLength(0);
      }
    });
  }

  it('keeps a resource with only warnings', () => {
    const r = analyzeFiles([{ path: 'a.yaml', text: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: reviews\n  colour: blue\n' }]);
    expect(r.errors).toEqual([]);
    expect(r.snapshot.resources.get('DestinationRule')?.map((x) => x.metadata.name)).toEqual(['dr']);
  });

  it('formats the example of the issue exactly', () => {
    const [issue] = analyze(CASES[2]!).filter((i) => i.severity === 'error');
    expect(formatIssue(issue!)).toBe('a.yaml:13: VirtualService default/reviews: spec.http[0].route[1].weight: must be 0..100');
  });
});
