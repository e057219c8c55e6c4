/**
 * WasmPlugins on `weft gateway` end to end: `weft control` delivers three plugins for the Gateway
 * as ECDS resources, the gateway loads them (the runtime imported with the first one) and runs
 * them on real HTTP to echo backends: a filter built at setup (GUEST: 401 without `x-user`, sets
 * `x-seen`, counts `seen`, refuses a body saying "forbidden", marks the response), the built-in
 * header-rewrite (a request header set before routing selects the route; a response header), and
 * an endpoint picker built at setup (PICKER: the endpoint a header names). /config_dump shows
 * their status and /stats/prometheus their calls and counters. A WasmPlugin whose component
 * cannot be read NACKs and the others serve on.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoBackend } from '../support/echo-backend.ts';
import { httpGateway, namespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { freePort, httpGet, startControlAndGateway, startEchoesOnCommonPort } from '../support/proxy-fixtures.ts';
import type { GatewayProcess } from '../support/gateway-process.ts';
import { eventually, type ControlProcess } from '../support/weft-process.ts';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';

/**
 * The guest (componentize-qjs, world http-filter), written against weft:plugin@0.1.0 (plugins/wit-0.1.0):
 * a component built for the previous version still loads and runs (the built-ins, 0.2.0, run in the
 * built-in tests below). On the guest side u64 arguments are plain numbers
 * (a BigInt traps) and an absent option<string> is compared with `== null`. Config is read on the
 * first call: host imports do not exist at build time.
 */
const GUEST = `import { requestHeader, setRequestHeader, setResponseHeader, responseStatus, requestBody } from 'weft:plugin/http@0.1.0';
import { config, counterAdd } from 'weft:plugin/host@0.1.0';
let cfg;
export const filter = {
  wantedPhases() { return { requestHeaders: true, requestBody: true, responseHeaders: true, responseBody: false }; },
  onRequestHeaders() {
    cfg ??= JSON.parse(config());
    const user = requestHeader('x-user');
    if (user == null) return { tag: 'respond', val: { status: 401, headers: [{ name: 'x-why', value: 'no-user' }], body: 'no user\\n' } };
    counterAdd('seen', 1);
    setRequestHeader('x-seen', cfg.tag + ':' + user);
    // asked for before there is a response: the gateway makes it on the upstream's response head
    setResponseHeader('x-asked-early', user);
    return { tag: 'continue' };
  },
  onRequestBody(eos) {
    const b = requestBody();
    let text = '';
    for (let i = 0; i < b.length; i++) text += String.fromCharCode(b[i]);
    if (eos && text.includes('forbidden')) return { tag: 'respond', val: { status: 403, headers: [], body: 'forbidden body\\n' } };
    return { tag: 'continue' };
  },
  onResponseHeaders() { setResponseHeader('x-filter-saw', String(responseStatus())); return { tag: 'continue' }; },
  onResponseBody(eos) { return { tag: 'continue' }; },
};
`;

/** An endpoint picker: the candidate at the address `x-pick` names, else the balancer's choice. */
const PICKER = `import { requestHeader } from 'weft:plugin/http@0.1.0';
export const picker = {
  pick(cands) {
    const want = requestHeader('x-pick');
    if (want == null) return [];
    const i = cands.findIndex((c) => c.address.startsWith(want + ':'));
    return i < 0 ? [] : [i];
  },
};
`;

/** A guest as a component, cached under .tmp/plugin-fixtures by a hash of the source and the WIT (~1.5 s once). */
async function buildGuest(jsSource: string, world: 'http-filter' | 'endpoint-picker'): Promise<Uint8Array> {
  const repo = join(import.meta.dirname, '..', '..');
  const wit = join(repo, 'plugins', 'wit-0.1.0');
  const key = createHash('sha256').update(world).update(jsSource).update(readFileSync(join(wit, 'weft-plugin.wit'))).digest('hex').slice(0, 32);
  const out = join(repo, '.tmp', 'plugin-fixtures', `gateway-guest-${key}.wasm`);
  if (existsSync(out)) return new Uint8Array(readFileSync(out));
  const { componentize } = await import('componentize-qjs');
  const r = await componentize({ witPath: wit, jsSource, world, stubWasi: true, sync: true });
  mkdirSync(join(repo, '.tmp', 'plugin-fixtures'), { recursive: true });
  writeFileSync(`${out}.${process.pid}`, r.component);
  const { renameSync } = await import('node:fs');
  renameSync(`${out}.${process.pid}`, out);
  return new Uint8Array(r.component);
}

const LISTEN = '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'weft-plugins-gw-'));
const state = join(dir, 'state');
const config = join(dir, 'config');
let control: ControlProcess;
let gateway: GatewayProcess;
const backends: EchoBackend[] = [];
let echoPort = 0;
let apiPort = 0;
let fixtureUrl = '';
let pickerUrl = '';

const plugins = (extra = '') => `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: user-check, namespace: web }
spec:
  url: ${fixtureUrl}
  phase: AUTHN
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  pluginConfig: { tag: it }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: rewrite, namespace: web }
spec:
  url: file:///builtin/header-rewrite.wasm
  phase: STATS
  failStrategy: FAIL_OPEN
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
  pluginConfig:
    request: { set: { x-tenant: "t-\${header.x-user}" } }
    response: { set: { x-upstream-status: "\${response.status}" }, remove: [x-echo-remove] }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: pick, namespace: web, annotations: { weft.dev/plugin-kind: endpoint-picker } }
spec:
  url: ${pickerUrl}
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
${extra}`;

const broken = `---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: broken, namespace: web }
spec:
  url: file:///nonexistent/broken.wasm
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: public }]
`;

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
    # matched on the header the rewrite plugin sets before routing
    - matches: [{ headers: [{ name: x-tenant, value: t-carol }] }]
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-routed, value: tenant-rule }] } }]
      backendRefs: [{ name: echo, port: 80 }]
    - backendRefs: [{ name: echo, port: 80 }]
`;
}

/** A POST with a body (Content-Length). */
function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string; json: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LISTEN, port: apiPort, path, method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const get = (path: string, headers: Record<string, string> = {}) => httpGet({ host: LISTEN, port: apiPort, path, headers, textIfNotJson: true });
const admin = (port: number, path: string) => httpGet({ host: LISTEN, port, path, headers: {}, textIfNotJson: true });

beforeAll(async () => {
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  writeFileSync(join(dir, 'plugins', 'user-check.wasm'), await buildGuest(GUEST, 'http-filter'));
  writeFileSync(join(dir, 'plugins', 'pick.wasm'), await buildGuest(PICKER, 'endpoint-picker'));
  fixtureUrl = pathToFileURL(join(dir, 'plugins', 'user-check.wasm')).href;
  pickerUrl = pathToFileURL(join(dir, 'plugins', 'pick.wasm')).href;
  const r = await startEchoesOnCommonPort([
    { host: '127.0.0.21', h2cPort: null, pod: 'echo-v1-7d9f8c-x2k4p', namespace: 'web', log: () => {} },
    { host: '127.0.0.22', h2cPort: null, pod: 'echo-v2-5b6c7d-q9w8e', namespace: 'web', log: () => {} },
  ]);
  backends.push(...r.echoes);
  echoPort = r.port;
  apiPort = await freePort();
  mkdirSync(config, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(config, 'mesh.yaml'), meshYaml());
  writeFileSync(join(config, 'plugins.yaml'), plugins());
  ({ control, gateway } = await startControlAndGateway({ config, state, gateway: 'web/public', listen: LISTEN }));
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await control?.stop();
  for (const b of backends) await b.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('WasmPlugins on weft gateway', () => {
  it('loads the plugins and shows them ready in /config_dump', async () => {
    const dump = await eventually(
      async () => {
        const d = (await admin(gateway.ports.admin, '/config_dump')).json;
        const ready = (d.plugins ?? []).filter((p: { state: string }) => p.state === 'ready');
        return ready.length === 3 ? d : undefined;
      },
      60_000,
      'the plugins ready',
    ).catch(async (e) => {
      const d = (await admin(gateway.ports.admin, '/config_dump')).json;
      throw new Error(`${e.message}: ${JSON.stringify(d.plugins)}\n${gateway.stdout().slice(-3000)}\n${gateway.stderr?.().slice(-3000) ?? ''}`);
    });
    expect(dump.plugins.map((p: { name: string }) => p.name).sort()).toEqual(['web.pick', 'web.rewrite', 'web.user-check']);
  }, 70_000);

  it('a filter answers directly (401) without the header it wants; no upstream sees the request', async () => {
    const r = await get('/hello');
    expect(r.status).toBe(401);
    expect(r.text).toBe('no user\n');
    expect(r.headers['x-why']).toBe('no-user');
  });

  it('request headers set by the filters reach the upstream, and one of them selects the route', async () => {
    const r = await get('/hello', { 'x-user': 'carol' });
    expect(r.status).toBe(200);
    expect(r.json.headers['X-Seen']).toEqual(['it:carol']);
    expect(r.json.headers['X-Tenant']).toEqual(['t-carol']);
    expect(r.json.headers['X-Routed']).toEqual(['tenant-rule']);
    expect(r.headers['x-upstream-status']).toBe('200');
    expect(r.headers['x-filter-saw']).toBe('200');
    expect(r.headers['x-asked-early']).toBe('carol');
    expect(r.json.headers['X-Asked-Early']).toBeUndefined();
    const other = await get('/hello', { 'x-user': 'dave' });
    expect(other.status).toBe(200);
    expect(other.json.headers['X-Routed']).toBeUndefined();
  });

  it('the request-body phase sees the whole body: refuses one, forwards the other as it was read', async () => {
    const ok = await post('/upload', 'hello body', { 'x-user': 'frank' });
    expect(ok.status).toBe(200);
    expect(ok.json.method).toBe('POST');
    expect(ok.json.headers['Content-Length']).toEqual(['10']);
    const refused = await post('/upload', 'something forbidden here', { 'x-user': 'frank' });
    expect(refused.status).toBe(403);
    expect(refused.text).toBe('forbidden body\n');
  });

  it('the endpoint picker chooses the endpoint a request names; without a choice the balancer spreads them', async () => {
    const picked = new Set<string>();
    for (let i = 0; i < 4; i++) picked.add((await get('/pick', { 'x-user': 'gina', 'x-pick': '127.0.0.22' })).json.pod);
    expect([...picked]).toEqual(['echo-v2-5b6c7d-q9w8e']);
    const spread = new Set<string>();
    for (let i = 0; i < 4; i++) spread.add((await get('/pick', { 'x-user': 'gina' })).json.pod);
    expect(spread.size).toBe(2);
  });

  it('counts calls and the plugin counters on /stats/prometheus', async () => {
    const text = String((await admin(gateway.ports.stats, '/stats/prometheus')).json);
    expect(text).toMatch(/weft_plugin_calls_total\{plugin="web.user-check",result="ok"\} [1-9]/);
    expect(text).toMatch(/weft_plugin_seen_total\{plugin="web.user-check"\} [1-9]/);
  });

  it('a plugin that cannot load is NACKed and shown failed; the others serve on', async () => {
    writeFileSync(join(config, 'plugins.yaml'), plugins(broken));
    const dump = await eventually(
      async () => {
        const d = (await admin(gateway.ports.admin, '/config_dump')).json;
        const b = (d.plugins ?? []).find((p: { name: string }) => p.name === 'web.broken');
        return b?.state === 'failed' ? d : undefined;
      },
      30_000,
      'the broken plugin failed',
    );
    expect(dump.plugins.find((p: { name: string }) => p.name === 'web.broken').error).toBeTruthy();
    // the gateway NACKed the ECDS response with the load error: the control plane shows it
    const nacked = await eventually(
      async () => {
        const s = await (await fetch(`${control.http}/debug/status`)).json();
        const b = s.plugins?.find((p: { name: string }) => p.name === 'web.broken');
        return b?.proxies?.find((p: { status: string }) => p.status === 'NACKED');
      },
      10_000,
      'the NACK in the control plane status',
    );
    expect(nacked.error).toMatch(/web\.broken/);
    const r = await get('/hello', { 'x-user': 'erin' });
    expect(r.status).toBe(200);
    expect(r.json.headers['X-Tenant']).toEqual(['t-erin']);
  }, 40_000);
});
