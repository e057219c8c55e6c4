/**
 * REST-JSON xDS on 15014, against an in-process control plane (real token authority, translator,
 * ADS views and HTTP server) serving a gateway with a TLS listener.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { L7Translation } from '../../../core/xds/l7/translate-l7.ts';
import { resourceFromJson } from '../../../core/xds/rest-json.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { REST_XDS_TYPES, type DiscoveryResponseJson } from '../../edge/config-contract.ts';
import { ControlPlane } from './control-plane.ts';
import { RestXds } from './rest-xds.ts';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';

const NS = 'web';
const YAML = `apiVersion: v1
kind: Namespace
metadata: { name: ${NS}, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${NS} }
spec: { clusterIP: 10.96.0.10, selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-1, namespace: ${NS}, labels: { app: echo, weft.io/node: n1 } }
spec: { address: 127.0.0.1, serviceAccount: echo }
---
apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: ${NS} }
type: kubernetes.io/tls
data: { tls.crt: Q0VSVElGSUNBVEUtREFUQQ==, tls.key: UFJJVkFURS1LRVktREFUQQ== }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: public, namespace: ${NS} }
spec:
  gatewayClassName: weft
  listeners:
  - { name: http, port: 8080, protocol: HTTP }
  - { name: https, port: 8443, protocol: HTTPS, hostname: secure.example.com, tls: { mode: Terminate, certificateRefs: [{ name: cert }] } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: other, namespace: ${NS} }
spec:
  gatewayClassName: weft
  listeners: [{ name: http, port: 9090, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: ${NS} }
spec:
  parentRefs: [{ name: public }]
  rules: [{ backendRefs: [{ name: echo, port: 80 }] }]
`;

let cp: ControlPlane;
let state: string;
let base: string;
let gatewayToken: string;
let otherToken: string;
let nodeToken: string;

beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), 'weft-rest-xds-'));
  cp = await ControlPlane.start({ files: [{ path: 'mesh.yaml', text: YAML }], stateDir: state, listen: '127.0.0.1', xdsListen: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, debounceMs: 5, log: () => {} });
  base = `http://127.0.0.1:${cp.ports.http}`;
  gatewayToken = cp.createToken({ kind: 'gateway', namespace: NS, name: 'public' });
  otherToken = cp.createToken({ kind: 'gateway', namespace: NS, name: 'other' });
  nodeToken = cp.createToken({ kind: 'node', node: 'n1' });
  // The first translation is pushed after the debounce.
  for (let i = 0; i < 100 && (await poll('listeners', gatewayToken)).status === 503; i++) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await cp?.stop();
  rmSync(state, { recursive: true, force: true });
});

async function poll(type: string, token: string | undefined, body: unknown = { node: { id: 'edge-1' } }, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json?: DiscoveryResponseJson }> {
  const res = await fetch(`${base}/v3/discovery:${type}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, ...(res.status === 200 ? { json: JSON.parse(text) as DiscoveryResponseJson } : {}) };
}

describe('REST-JSON xDS (POST /v3/discovery:<type> on 15014)', () => {
  it('refuses requests without a token or with a bad one (401)', async () => {
    expect((await poll('listeners', undefined)).status).toBe(401);
    const bad = await poll('listeners', `${gatewayToken.slice(0, -4)}AAAA`);
    expect(bad.status).toBe(401);
    expect(bad.text).toMatch(/join token refused/);
    expect((await poll('listeners', 'not-a-token')).status).toBe(401);
  });

  it('answers 400 for an unknown type or a bad body, 404 for an unknown path, 405 for GET', async () => {
    const unknown = await poll('secrets', gatewayToken);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toMatch(/unknown xDS type "secrets": one of listeners, routes, clusters, endpoints, extension_configs, workloads/);
    expect((await poll('listeners', gatewayToken, '{not json')).status).toBe(400);
    const field = await poll('listeners', gatewayToken, { node: { id: 'x' }, versionInfo: 3 });
    expect(field.status).toBe(400);
    expect(field.text).toMatch(/DiscoveryRequest\.versionInfo: expected a string/);
    const extra = await poll('listeners', gatewayToken, { nodes: {} });
    expect(extra.text).toMatch(/has no field "nodes"/);
    const mismatch = await poll('listeners', gatewayToken, { typeUrl: TYPE_URL.cluster });
    expect(mismatch.status).toBe(400);
    expect(mismatch.text).toMatch(/is not listeners'/);
    expect((await fetch(`${base}/v3/discoveryy`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${base}/v3/discovery:listeners`)).status).toBe(405);
  });

  it('bounds the body at 1 MB (413)', async () => {
    const big = JSON.stringify({ node: { id: 'x'.repeat(1.1 * 2 ** 20) } });
    expect((await poll('listeners', gatewayToken, big)).status).toBe(413);
    // A chunked body (no content-length) that grows past the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v3/discovery:listeners`, { method: 'POST', headers: { authorization: `Bearer ${gatewayToken}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 20; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
  });

  it('gives a gateway the listeners, routes, clusters and endpoints of its ADS view, versioned, with 304 when unchanged', async () => {
    const l7 = new L7Translation(cp.snapshot);
    const adsListeners = l7.scope(l7.servedBy({ role: 'gateway', namespace: NS, name: 'public', labels: { 'gateway.networking.k8s.io/gateway-name': 'public' } })).listeners.map((l) => l.name).sort();
    const listeners = await poll('listeners', gatewayToken);
    expect(listeners.status).toBe(200);
    expect(listeners.json!.typeUrl).toBe(REST_XDS_TYPES.listeners);
    expect(listeners.json!.resources.map((r) => r['name'])).toEqual(adsListeners);
    expect(adsListeners).toEqual(['0.0.0.0_8080', '0.0.0.0_8443']);
    for (const r of listeners.json!.resources) expect(resourceFromJson(r).typeUrl).toBe(TYPE_URL.listener);
    // The other gateway sees its own listener only.
    expect((await poll('listeners', otherToken)).json!.resources.map((r) => r['name'])).toEqual(['0.0.0.0_9090']);

    const routes = (await poll('routes', gatewayToken)).json!;
    expect(routes.resources.map((r) => r['name']).sort()).toEqual(expect.arrayContaining(['http.8080']));
    expect(routes.resources.some((r) => String(r['name']).endsWith('.svc.cluster.local:80')), 'mesh routes no listener names').toBe(false);
    const clusters = (await poll('clusters', gatewayToken)).json!;
    expect(clusters.resources.map((r) => r['name'])).toContain('outbound|80||echo.web.svc.cluster.local');
    const endpoints = (await poll('endpoints', gatewayToken)).json!;
    expect(JSON.stringify(endpoints.resources)).toContain('127.0.0.1');
    const named = (await poll('endpoints', gatewayToken, { node: { id: 'e' }, resourceNames: ['outbound|80||echo.web.svc.cluster.local', 'nope'] })).json!;
    expect(named.resources.map((r) => r['clusterName'])).toEqual(['outbound|80||echo.web.svc.cluster.local']);

    const again = await poll('listeners', gatewayToken, { node: { id: 'edge-1' }, versionInfo: listeners.json!.versionInfo });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const stale = await poll('listeners', gatewayToken, { node: { id: 'edge-1' }, versionInfo: 'old' });
    expect(stale.status).toBe(200);
    expect(stale.json!.versionInfo).toBe(listeners.json!.versionInfo);
  });

  it('never serves Secrets or key material, and says so in /debug/status', async () => {
    for (const type of ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs']) {
      const r = await poll(type, gatewayToken);
      expect(r.status, type).toBe(200);
      expect(r.text).not.toMatch(/UFJJVkFURS1LRVktREFUQQ|PRIVATE-KEY-DATA|Q0VSVElGSUNBVEUtREFUQQ/);
      expect(r.text).not.toContain(TYPE_URL.secret);
    }
    const status = (await (await fetch(`${base}/debug/status`)).json()) as { warnings: { text: string }[] };
    expect(status.warnings.map((w) => w.text).join('\n')).toMatch(/Gateway web\/public: REST xDS \(edge host\): listener 0\.0\.0\.0_8443 names the TLS Secret kubernetes:\/\/web\/cert, served without key material/);
  });

  it('serves workloads to node proxies only, and checks the node a token claims', async () => {
    const denied = await poll('workloads', gatewayToken);
    expect(denied.status).toBe(403);
    const w = await poll('workloads', nodeToken, { node: { id: 'n1-proxy' } });
    expect(w.status).toBe(200);
    expect(w.json!.resources.some((r) => (r['workload'] as { name?: string } | undefined)?.name === 'echo-1')).toBe(true);
    const spoof = await poll('listeners', gatewayToken, { node: { id: 'x', metadata: { WEFT_ROLE: 'gateway', NAMESPACE: NS, NAME: 'other' } } });
    expect(spoof.status).toBe(403);
    expect(spoof.text).toMatch(/gateway web\/other is not what the join token names \(gateway web\/public\)/);
    expect((await poll('listeners', nodeToken, { node: { id: 'x', metadata: { NODE_NAME: 'n2' } } })).status).toBe(403);
  });

  it('lists REST pollers in /debug/syncz with type, version and last poll', async () => {
    const before = Date.now();
    const got = (await poll('clusters', gatewayToken, { node: { id: 'edge-syncz' } })).json!;
    const syncz = (await (await fetch(`${base}/debug/syncz`)).json()) as { id: string; protocol: string; caller: { name: string }; node: { id: string }; types: Record<string, { sentVersion: string; lastPoll: string; polls: number }> }[];
    const mine = syncz.find((e) => e.protocol === 'rest' && e.node.id === 'edge-syncz')!;
    expect(mine.caller.name).toBe(`${NS}/public`);
    expect(mine.types[TYPE_URL.cluster]!.sentVersion).toBe(got.versionInfo);
    expect(Date.parse(mine.types[TYPE_URL.cluster]!.lastPoll)).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('RestXds body reading', () => {
  it('answers 408 and closes when the body does not arrive in time', async () => {
    const rest = new RestXds({ authenticate: () => ({ kind: 'gateway', name: 'web/public' }), admitNode: () => undefined, view: () => undefined, readTimeoutMs: 150 });
    const server = createServer((req, res) => void rest.handle(req, res, req.url ?? ''));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const t0 = Date.now();
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => sock.write('POST /v3/discovery:listeners HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\ncontent-length: 100\r\n\r\n{"node"'));
        let got = '';
        sock.on('data', (c) => (got += c.toString()));
        sock.on('close', () => resolve(got));
        sock.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 408/);
      expect(reply).toMatch(/body not received within 150 ms/);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
