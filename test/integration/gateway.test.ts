/**
 * `weft gateway` end to end on loopback: `weft control` reads a Gateway API Gateway + HTTPRoute and
 * an Istio Gateway + VirtualService + DestinationRule, translates them to Envoy resources scoped
 * to the gateway process, which binds the listeners and routes real HTTP (fetch, curl) to
 * conformance echo backends. The backends answer with the request they saw.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoBackend } from '../support/echo-backend.ts';
import { httpGateway, namespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { freePort, httpGet, startControlAndGateway, startEchoesOnCommonPort } from '../support/proxy-fixtures.ts';
import { startGateway, type GatewayProcess } from '../support/gateway-process.ts';
import { eventually, weftSync, type ControlProcess } from '../support/weft-process.ts';

const LISTEN = '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'weft-gateway-'));
const state = join(dir, 'state');
const config = join(dir, 'config');
let control: ControlProcess;
let gateway: GatewayProcess;
const backends: EchoBackend[] = [];
let echoPort = 0;
let apiPort = 0;
let istioPort = 0;

/** One port free on both backend addresses. */
async function startBackends(): Promise<void> {
  const r = await startEchoesOnCommonPort([
    { host: '127.0.0.21', h2cPort: null, pod: 'echo-v1-7d9f8c-x2k4p', namespace: 'web', log: () => {} },
    { host: '127.0.0.22', h2cPort: null, pod: 'echo-v2-5b6c7d-q9w8e', namespace: 'web', log: () => {} },
  ]);
  backends.push(...r.echoes);
  echoPort = r.port;
}

function meshYaml(): string {
  return `${yamlDocs(
    namespace('web'),
    service({ name: 'echo', namespace: 'web', app: 'echo', clusterIP: '240.240.1.10', targetPort: echoPort }),
    workloadEntry({ name: 'echo-v1', namespace: 'web', app: 'echo', labels: { version: 'v1' }, node: 'n1', address: '127.0.0.21' }),
    workloadEntry({ name: 'echo-v2', namespace: 'web', app: 'echo', labels: { version: 'v2' }, node: 'n1', address: '127.0.0.22' }),
    httpGateway({ name: 'public', namespace: 'web', port: apiPort }),
  )}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: web }
spec:
  parentRefs: [{ name: public }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /redirect } }]
      filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, statusCode: 301 } }]
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { add: [{ name: x-added, value: by-weft }] }
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
      backendRefs: [{ name: echo, port: 80 }]
    - backendRefs: [{ name: echo, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress, namespace: web }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: ${istioPort}, name: http, protocol: HTTP }, hosts: ["example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: web }
spec:
  hosts: ["example.com"]
  gateways: [ingress]
  http:
    - route: [{ destination: { host: echo.web.svc.cluster.local, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: web }
spec:
  host: echo.web.svc.cluster.local
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;
}

/** A GET with its own Host header (fetch may not set one), no redirects followed, a new connection each. */
function get(port: number, path: string, host?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: any }> {
  return httpGet({ host: LISTEN, port, path, headers: host ? { host } : {}, textIfNotJson: true });
}

beforeAll(async () => {
  await startBackends();
  apiPort = await freePort();
  istioPort = await freePort();
  execFileSync('mkdir', ['-p', config, state]);
  writeFileSync(join(config, 'mesh.yaml'), meshYaml());
  ({ control, gateway } = await startControlAndGateway({ config, state, gateway: 'web/public', listen: LISTEN, args: ['--label', 'istio=ingressgateway', '--access-log', '-'] }));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await control?.stop();
  for (const b of backends) await b.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('weft gateway', () => {
  it('routes an HTTPRoute to the Service endpoints, round robin over both', async () => {
    const pods = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await eventually(async () => {
        const x = await get(apiPort, '/hello?x=1').catch(() => undefined);
        return x?.status === 200 ? x : undefined;
      }, 10_000, 'a 200 through the gateway');
      expect(r.json).toMatchObject({ path: '/hello?x=1', method: 'GET', namespace: 'web' });
      pods.add(r.json.pod);
    }
    expect([...pods].sort()).toEqual(['echo-v1-7d9f8c-x2k4p', 'echo-v2-5b6c7d-q9w8e']);
  });

  it('applies RequestHeaderModifier and URLRewrite ReplacePrefixMatch', async () => {
    const r = await get(apiPort, '/api/items?q=2');
    expect(r.status).toBe(200);
    expect(r.json.path).toBe('/v2/items?q=2');
    expect(r.json.headers['X-Added']).toEqual(['by-weft']);
    expect(r.json.headers['X-Forwarded-Proto']).toEqual(['http']);
  });

  it('answers a RequestRedirect with the Location Envoy would build', async () => {
    const r = await get(apiPort, '/redirect/x');
    expect(r.status).toBe(301);
    // Gateway API: no scheme or port given, so the listener's port (not 80) stays in the Location
    expect(r.headers.location).toBe(`http://example.org:${apiPort}/redirect/x`);
  });

  it('serves the Istio Gateway it is selected by, VirtualService to subset v1 only', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await eventually(async () => {
        const x = await get(istioPort, '/', 'example.com').catch(() => undefined);
        return x?.status === 200 ? x : undefined;
      }, 10_000, 'a 200 from the Istio Gateway');
      expect(r.json.pod).toBe('echo-v1-7d9f8c-x2k4p');
    }
    expect((await get(istioPort, '/', 'other.example')).status).toBe(404);
  });

  it("counts requests in Istio's metrics and writes one access log line each", async () => {
    const stats = await gateway.get(gateway.ports.stats, '/stats/prometheus');
    expect(stats.body).toMatch(/istio_requests_total\{reporter="gateway",[^}]*response_code="200"[^}]*\} \d+/);
    const lines = gateway.stdout().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.some((l) => JSON.parse(l).path === '/api/items?q=2')).toBe(true);
  });

  it("refuses a gateway that claims another Gateway's name than its token's", async () => {
    const token = weftSync(['token', 'create', '--gateway', 'web/public', '--state', state]).stdout.trim();
    const intruder = await startGateway({ control: control.secure, rootCert: join(state, 'root-cert.pem'), token, listen: LISTEN, ports: { admin: await freePort(), stats: await freePort(), ready: await freePort() }, args: ['--name', 'other'] });
    try {
      await eventually(() => /gateway web\/other is not what the join token names \(gateway web\/public\)/.test(intruder.stderr()), 10_000, 'the refusal in the log');
      expect((await intruder.get(intruder.ports.ready, '/healthz/ready')).status).toBe(503);
    } finally {
      await intruder.stop();
    }
  });

  it('shows its listeners, routes and clusters with weft proxy-config, as istioctl does', async () => {
    const pc = (kind: string, ...extra: string[]) => weftSync(['proxy-config', kind, 'public.web', '--control-http', control.http, ...extra]);
    const listeners = pc('listeners');
    expect(listeners.status, listeners.stderr).toBe(0);
    expect(listeners.stdout).toMatch(new RegExp(`^ADDRESSES\\s+PORT\\s+MATCH\\s+DESTINATION\\n(.*\\n)*0\\.0\\.0\\.0\\s+${apiPort}\\s+ALL\\s+Route: http\\.${apiPort}$`, 'm'));
    const routes = pc('routes');
    expect(routes.stdout).toMatch(new RegExp(`http\\.${apiPort}\\s+\\*:${apiPort}\\s+\\*\\s+/api/\\*\\s+web/echo`));
    const clusters = pc('clusters');
    expect(clusters.stdout).toMatch(/echo\.web\.svc\.cluster\.local\s+80\s+v1\s+outbound\s+EDS\s+1/);
    expect(clusters.stdout).toMatch(/echo\.web\.svc\.cluster\.local\s+80\s+-\s+outbound\s+EDS\s+2/);
    const json = JSON.parse(pc('listeners', '-o', 'json').stdout);
    expect(json.configs[0].dynamicListeners.map((l: any) => l.activeState.listener.name)).toContain(`0.0.0.0_${apiPort}`);
  });
});
