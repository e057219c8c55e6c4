// @ts-nocheck -- decoded messages type repeated fields as nullable (`| null`); the assertions check them at run time.
/**
 * WasmPlugin selection (Istio's rules) and delivery: which L7 proxies get which http-filter and
 * endpoint-picker plugins (and in which order their listeners list them), which node proxies get
 * which l4-policy plugins with which workloads, and the "selects no proxy" warnings.
 */
import { describe, expect, it } from 'vitest';
import { analyzeFiles } from '../config/analyze.ts';
import { formatIssue } from '../config/issues.ts';
import { envoy } from './pb.ts';
import { XdsTranslator } from './translate.ts';
import { decodePluginBindings } from './plugins.ts';
import type { L7Proxy } from './l7/scope.ts';

const NS = 'demo';
const wasm = (name: string, spec: string, ns = NS, annotations = '') => `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: ${name}, namespace: ${ns}${annotations ? `, annotations: { ${annotations} }` : ''} }
spec:
  url: file:///plugins/${name}.wasm
${spec}`;
const entry = (name: string, app: string, node: string, ip: string, ns = NS) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: ${ns}, labels: { app: ${app}, weft.io/node: ${node} } }
spec: { address: ${ip}, serviceAccount: ${app} }
`;

const MESH = [
  `apiVersion: v1
kind: Namespace
metadata: { name: ${NS}, labels: { istio.io/dataplane-mode: ambient } }
`,
  `apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${NS}, labels: { istio.io/use-waypoint: wp } }
spec: { clusterIP: 10.96.0.5, selector: { app: web }, ports: [{ name: http, port: 8080 }] }
`,
  `apiVersion: v1
kind: Service
metadata: { name: api, namespace: ${NS}, labels: { istio.io/use-waypoint: wp } }
spec: { clusterIP: 10.96.0.6, selector: { app: api }, ports: [{ name: http, port: 9090 }] }
`,
  `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: wp, namespace: ${NS} }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`,
  `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: ${NS} }
spec:
  gatewayClassName: weft
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`,
  entry('web-a', 'web', 'node-a', '127.0.0.2'),
  entry('api-b', 'api', 'node-b', '127.0.0.3'),
  wasm('authn-gw', `  phase: AUTHN
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
`),
  wasm('stats-ns', `  phase: STATS
`),
  wasm('global', `  priority: 5
`, 'istio-system'),
  wasm('late', `  priority: 1
`, 'istio-system'),
  wasm('svc-web', `  phase: AUTHZ
  targetRef: { kind: Service, name: web }
`),
  wasm('by-label', `  phase: AUTHZ
  priority: 7
  selector: { matchLabels: { istio: ingressgateway } }
`),
  wasm('picker', `  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
`, NS, 'weft.dev/plugin-kind: endpoint-picker'),
  wasm('l4-web', `  type: NETWORK
  failStrategy: FAIL_RELOAD
  selector: { matchLabels: { app: web } }
`),
  wasm('l4-all', `  type: NETWORK
`, 'istio-system'),
  wasm('l4-ns', `  type: NETWORK
  match: [{ ports: [{ number: 9090 }] }]
`),
  wasm('l4-none', `  type: NETWORK
  selector: { matchLabels: { app: nothing } }
`),
];

function translate(docs = MESH) {
  const { snapshot, errors } = analyzeFiles([{ path: 'plugins.yaml', text: docs.join('---\n') }]);
  expect(errors.map(formatIssue)).toEqual([]);
  return { snapshot, res: new XdsTranslator().translate(snapshot) };
}

const GATEWAY: L7Proxy = { role: 'gateway', namespace: NS, name: 'gw', labels: { istio: 'ingressgateway', 'gateway.networking.k8s.io/gateway-name': 'gw' } };
const WAYPOINT: L7Proxy = { role: 'waypoint', namespace: NS, name: 'wp', labels: {} };
const HCM = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

function l7(proxy: L7Proxy) {
  const { res } = translate();
  const scope = res.l7!.scope(res.l7!.servedBy(proxy));
  const filtersOf = (name: string) => {
    const l = envoy.config.listener.v3.Listener.decode(scope.listeners.find((x) => x.name === name)!.bytes);
    return HCM.decode(l.filterChains[0].filters[0].typedConfig.value).httpFilters;
  };
  return { scope, bindings: decodePluginBindings(scope.plugins), filtersOf, listeners: scope.listeners.map((l) => l.name) };
}

describe('WasmPlugin selection for gateways and waypoints', () => {
  it('gives a gateway the plugins that target or select it, in filter order, listed before the router', () => {
    const { bindings, filtersOf, listeners } = l7(GATEWAY);
    expect(bindings.map((b) => `${b.name} ${b.kind}`)).toEqual([
      'demo.authn-gw http-filter',
      'demo.by-label http-filter',
      'demo.stats-ns http-filter',
      'istio-system.global http-filter',
      'istio-system.late http-filter',
      'demo.picker endpoint-picker',
    ]);
    const fs = filtersOf(listeners[0]!);
    expect(fs.map((f) => f.name)).toEqual(['demo.authn-gw', 'demo.by-label', 'demo.stats-ns', 'istio-system.global', 'istio-system.late', 'envoy.filters.http.router']);
    // ECDS over ADS, Envoy's ExtensionConfigSource
    expect(fs[0].configDiscovery.typeUrls).toEqual(['type.weft.dev/weft.plugin.v1.WasmPlugin']);
    expect(fs[0].configDiscovery.configSource.ads).toBeTruthy();
  });

  it('gives a waypoint the namespace and root plugins, and a Service-targeted one on that Service\'s listener only', () => {
    const { bindings, filtersOf } = l7(WAYPOINT);
    expect(bindings.map((b) => b.name)).toEqual(['demo.svc-web', 'demo.stats-ns', 'istio-system.global', 'istio-system.late']);
    expect(filtersOf('web.demo.svc.cluster.local:8080').map((f) => f.name)).toEqual(['demo.svc-web', 'demo.stats-ns', 'istio-system.global', 'istio-system.late', 'envoy.filters.http.router']);
    expect(filtersOf('api.demo.svc.cluster.local:9090').map((f) => f.name)).toEqual(['demo.stats-ns', 'istio-system.global', 'istio-system.late', 'envoy.filters.http.router']);
  });

  it('keeps a gateway of another namespace to the root namespace\'s plugins', () => {
    const { bindings } = l7({ role: 'gateway', namespace: 'other', name: 'x', labels: { 'gateway.networking.k8s.io/gateway-name': 'x' } });
    expect(bindings.map((b) => b.name)).toEqual(['istio-system.global', 'istio-system.late']);
  });
});

describe('WasmPlugin selection for node proxies', () => {
  it('gives each node the l4-policy plugins that select its workloads, with their UIDs', () => {
    const { res } = translate();
    const a = decodePluginBindings(res.nodePlugins!('node-a'));
    expect(a.map((b) => [b.name, b.workloads])).toEqual([
      ['demo.l4-ns', ['Kubernetes/networking.istio.io/WorkloadEntry/demo/web-a']],
      ['demo.l4-web', ['Kubernetes/networking.istio.io/WorkloadEntry/demo/web-a']],
      ['istio-system.l4-all', []],
    ]);
    expect(a.find((b) => b.name === 'demo.l4-web')).toMatchObject({ kind: 'l4-policy', failStrategy: 'FAIL_CLOSE', ports: [], config: '{}' });
    expect(a.find((b) => b.name === 'demo.l4-ns')!.ports).toEqual([9090]);
    const b = decodePluginBindings(res.nodePlugins!('node-b'));
    expect(b.map((x) => [x.name, x.workloads])).toEqual([
      ['demo.l4-ns', ['Kubernetes/networking.istio.io/WorkloadEntry/demo/api-b']],
      ['istio-system.l4-all', []],
    ]);
    // a node without workloads still runs the mesh-wide ones
    expect(decodePluginBindings(res.nodePlugins!('node-z')).map((x) => x.name)).toEqual(['istio-system.l4-all']);
  });

  it('has no node plugins, and no per-node work, when no WasmPlugin is NETWORK', () => {
    const { res } = translate(MESH.filter((d) => !d.includes('type: NETWORK')));
    expect(res.nodePlugins).toBeUndefined();
  });

  it('warns about a plugin that selects no proxy', () => {
    const { res } = translate();
    const w = res.warnings.map(formatIssue).filter((t) => t.includes('selects no proxy'));
    expect(w).toEqual([expect.stringContaining('WasmPlugin demo/l4-none selects no proxy: no workload matches it')]);
  });
});
