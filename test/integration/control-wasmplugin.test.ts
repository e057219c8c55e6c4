/**
 * WasmPlugin delivery by the built `weft control` (design.md 6): each proxy subscribes to the ECDS
 * type (envoy.config.core.v3.TypedExtensionConfig) on its delta ADS stream, over TLS with its join
 * token, and receives only the plugins that select it: a gateway its http filters (also listed in
 * its listeners' HTTP filters, before the router), a node proxy the l4 policies of its workloads
 * with their UIDs. An edit of a WasmPlugin file reaches the proxies it selects and no other; a NACK
 * of a plugin shows in /debug/status beside the proxies that ACKed it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaXdsClient } from '../../hosts/node/xds/delta-client.ts';
import type { XdsUpdate } from '../../hosts/node/xds/delta-client.ts';
import { TYPE_URL } from '../../core/xds/type-urls.ts';
import { decodePluginBindings } from '../../core/xds/plugins.ts';
import { envoy } from '../../core/xds/pb.ts';
import { startControl, weftSync, eventually, type ControlProcess } from '../support/weft-process.ts';

const CONTROL_ID = 'spiffe://cluster.local/ns/weft-system/sa/weft-control';
const ECDS = TYPE_URL.extensionConfig;
const HCM = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

const entry = (name: string, app: string, node: string, ip: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: demo, labels: { app: ${app}, weft.io/node: ${node} } }
spec: { address: ${ip}, serviceAccount: ${app} }
`;
const gateway = (name: string, ip: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: demo }
spec:
  gatewayClassName: weft
  addresses: [{ type: IPAddress, value: ${ip} }]
  listeners: [{ name: http, port: 8080, protocol: HTTP }]
`;
const authPlugin = (limit: number) => `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: auth, namespace: demo }
spec:
  url: file:///plugins/auth.wasm
  phase: AUTHN
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  pluginConfig: { limit: ${limit} }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: stats, namespace: demo }
spec:
  url: file:///plugins/stats.wasm
  phase: STATS
  selector: { matchLabels: { gateway.networking.k8s.io/gateway-name: gw } }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: other-only, namespace: demo }
spec:
  url: file:///plugins/other.wasm
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: other }]
`;
const l4Plugins = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: l4-web, namespace: demo }
spec:
  type: NETWORK
  url: file:///plugins/l4.wasm
  selector: { matchLabels: { app: web } }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: l4-api, namespace: demo }
spec:
  type: NETWORK
  url: file:///plugins/l4.wasm
  selector: { matchLabels: { app: api } }
`;

const FILES: Record<string, string> = {
  'mesh.yaml': `apiVersion: v1
kind: Namespace
metadata: { name: demo, labels: { istio.io/dataplane-mode: ambient } }
---
${entry('web-a', 'web', 'node-a', '127.0.0.2')}---
${entry('api-b', 'api', 'node-b', '127.0.0.3')}---
${gateway('gw', '127.0.0.21')}---
${gateway('other', '127.0.0.22')}`,
  'http-plugins.yaml': authPlugin(10),
  'l4-plugins.yaml': l4Plugins,
};

let dir: string;
let cp: ControlProcess;
const clients: DeltaXdsClient[] = [];
const config = (file: string) => join(dir, 'config', file);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-wasmplugin-it-'));
  mkdirSync(join(dir, 'config'));
  for (const [name, text] of Object.entries(FILES)) writeFileSync(config(name), text);
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function token(...args: string[]): string {
  const r = weftSync(['token', 'create', ...args, '--state', join(dir, 'state')]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function client(o: { token: string; node: { id: string; metadata: Record<string, unknown> }; types: string[]; validate?: (u: XdsUpdate) => string | undefined }): DeltaXdsClient {
  const c = new DeltaXdsClient({
    address: cp.secure,
    tls: { rootCert: readFileSync(join(dir, 'state', 'root-cert.pem')), serverIdentity: CONTROL_ID },
    token: o.token,
    node: o.node,
    subscriptions: o.types.map((typeUrl) => ({ typeUrl })),
    backoff: { initialMs: 50, maxMs: 200 },
    ...(o.validate ? { validate: o.validate } : {}),
  });
  clients.push(c);
  return c.start();
}

const gatewayClient = (validate?: (u: XdsUpdate) => string | undefined) =>
  client({
    token: token('--gateway', 'demo/gw'),
    node: { id: 'router~127.0.0.21~gw.demo~demo.svc.cluster.local', metadata: { WEFT_ROLE: 'gateway', NAMESPACE: 'demo', NAME: 'gw', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'gw' } } },
    types: [ECDS, TYPE_URL.listener],
    ...(validate ? { validate } : {}),
  });
const nodeClient = (node: string) =>
  client({ token: token('--node', node), node: { id: `ztunnel~127.0.0.1~${node}`, metadata: { NODE_NAME: node } }, types: [ECDS] });

const bindings = (c: DeltaXdsClient) => decodePluginBindings(c.resources(ECDS).values());

async function status(): Promise<any> {
  const res = await fetch(`${cp.http}/debug/status`);
  expect(res.status).toBe(200);
  return res.json();
}

describe('weft control: WasmPlugin delivery', () => {
  it('gives a gateway only the http filters that select it, listed in its listener before the router', async () => {
    const c = gatewayClient();
    await eventually(() => c.resources(ECDS).size === 2 && c.resources(TYPE_URL.listener).size > 0, 10_000, 'the gateway\'s plugins and listener');
    expect(bindings(c).map((b) => [b.name, b.kind, b.phase, b.config])).toEqual([
      ['demo.auth', 'http-filter', 'AUTHN', '{"limit":10}'],
      ['demo.stats', 'http-filter', 'STATS', '{}'],
    ]);
    const l = envoy.config.listener.v3.Listener.decode(c.resources(TYPE_URL.listener).get('127.0.0.21_8080')!.bytes);
    const filters = HCM.decode(l.filterChains![0]!.filters![0]!.typedConfig!.value!).httpFilters;
    expect(filters.map((f) => f.name)).toEqual(['demo.auth', 'demo.stats', 'envoy.filters.http.router']);
    expect(filters[0]!.configDiscovery!.typeUrls).toEqual(['type.weft.dev/weft.plugin.v1.WasmPlugin']);
  });

  it('gives a node proxy only the l4 policies of its own workloads, with their UIDs', async () => {
    const a = nodeClient('node-a');
    const b = nodeClient('node-b');
    await eventually(() => a.resources(ECDS).size === 1 && b.resources(ECDS).size === 1, 10_000, 'the nodes\' plugins');
    expect(bindings(a).map((x) => [x.name, x.kind, x.workloads])).toEqual([['demo.l4-web', 'l4-policy', ['Kubernetes/networking.istio.io/WorkloadEntry/demo/web-a']]]);
    expect(bindings(b).map((x) => [x.name, x.workloads])).toEqual([['demo.l4-api', ['Kubernetes/networking.istio.io/WorkloadEntry/demo/api-b']]]);
  });

  it('pushes an edited WasmPlugin to the proxies it selects, and nothing to the others', async () => {
    const gw = gatewayClient();
    const node = nodeClient('node-a');
    await eventually(() => gw.resources(ECDS).size === 2 && node.resources(ECDS).size === 1, 10_000, 'initial plugins');
    const nodeUpdates: XdsUpdate[] = [];
    node.on('update', (u: XdsUpdate) => u.typeUrl === ECDS && nodeUpdates.push(u));
    const pushed = new Promise<XdsUpdate>((resolve) => gw.on('update', (u: XdsUpdate) => u.typeUrl === ECDS && resolve(u)));
    writeFileSync(config('http-plugins.yaml'), authPlugin(20));
    const u = await pushed;
    expect(u.resources.map((r) => r.name)).toEqual(['demo.auth']);
    expect(bindings(gw).find((b) => b.name === 'demo.auth')!.config).toBe('{"limit":20}');
    await new Promise((r) => setTimeout(r, 500));
    expect(nodeUpdates).toEqual([]);
  });

  it('shows in /debug/status where each plugin is applied, with a proxy\'s NACK and its message', async () => {
    const ok = gatewayClient();
    const refusing = gatewayClient((u) => (u.typeUrl === ECDS && u.resources.length ? 'plugin demo.auth: cannot load file:///plugins/auth.wasm: not a component' : undefined));
    const nacked = new Promise((resolve) => refusing.once('nack', resolve));
    const node = nodeClient('node-b');
    await eventually(() => ok.resources(ECDS).size === 2 && node.resources(ECDS).size === 1, 10_000, 'plugins delivered');
    await nacked;
    const st = await eventually(async () => {
      const s = await status();
      const auth = s.plugins.find((p: any) => p.name === 'demo.auth');
      return auth?.proxies.some((p: any) => p.status === 'NACKED') && auth.proxies.some((p: any) => p.status === 'ACKED') ? s : undefined;
    }, 5000, 'the NACK in /debug/status');
    const auth = st.plugins.find((p: any) => p.name === 'demo.auth');
    expect(auth).toMatchObject({ namespace: 'demo', wasmPlugin: 'auth', kind: 'http-filter' });
    expect(auth.proxies.find((p: any) => p.status === 'NACKED')).toMatchObject({ proxyType: 'gateway', name: 'demo/gw', error: 'plugin demo.auth: cannot load file:///plugins/auth.wasm: not a component' });
    // the NACK names demo.auth: demo.stats, in the same response, is applied on every gateway
    const stats = st.plugins.find((p: any) => p.name === 'demo.stats');
    expect(stats.proxies.filter((p: any) => p.proxyType === 'gateway').map((p: any) => p.status)).toEqual(stats.proxies.filter((p: any) => p.proxyType === 'gateway').map(() => 'ACKED'));
    expect(stats.proxies.length).toBeGreaterThanOrEqual(2);
    // the l4 plugin is applied on node-b only, and nothing selects other-only here
    const l4 = st.plugins.find((p: any) => p.name === 'demo.l4-api');
    expect(l4.proxies.map((p: any) => [p.name, p.status])).toContainEqual(['node-b', 'ACKED']);
    expect(l4.proxies.every((p: any) => p.name === 'node-b')).toBe(true);
    expect(st.plugins.find((p: any) => p.name === 'demo.other-only').proxies).toEqual([]);
  });

  it('weft analyze warns about a WasmPlugin that selects no proxy', () => {
    const other = join(dir, 'analyze');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'mesh.yaml'), FILES['mesh.yaml']!);
    writeFileSync(join(other, 'x.yaml'), l4Plugins.replace('app: api', 'app: nothing').replace('l4-api', 'x'));
    const r = weftSync(['analyze', other]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Warning .*x\.yaml:\d+: WasmPlugin demo\/x: spec\.selector: WasmPlugin demo\/x selects no proxy: no workload matches it/);
    expect(r.stdout).not.toMatch(/l4-web selects no proxy/);
  });
});
