/**
 * The edge gateway in process on the shared case table (test/runtime/edge/cases.ts): core's own
 * translator makes the resources the control plane would serve `web/public` (scoped as the ADS
 * server scopes them), they go through the proto3-JSON form the REST source delivers, and the edge
 * app answers real requests against two real echo backends, plugins included (the built-in
 * ab-router from $WEFT_DIST/plugins, prepared as a deploy does). Without the built plugin the
 * plugin cases are checked to fail closed instead.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { translatedResponses } from '../../test/runtime/edge/translated.ts';
import { startEchoesOnCommonPort } from '../../test/support/proxy-fixtures.ts';
import type { EchoBackend } from '../../test/support/echo-backend.ts';
import { ECHO_A, ECHO_B, EDGE_CASES, edgeConfigYaml, GATEWAY, NS, resultOf, unmet } from '../../test/runtime/edge/cases.ts';
import { createEdgeHost, type EdgeHost } from './app.ts';
import type { DiscoveryResponseJson, EdgeConfigSource, RestXdsType } from './config-contract.ts';
import { loadPreparedDir } from './prepared-dir.ts';
import { nodeFetch } from './entry/node-fetch.ts';

// QuickJS output uses extended-const, behind a flag on Node 20 (as the Node loader sets it)
setFlagsFromString('--experimental-wasm-extended-const');

const API_PORT = 18801;
const VS_PORT = 18802;

const staticSource = (responses: Partial<Record<RestXdsType, DiscoveryResponseJson>>): EdgeConfigSource => ({ start: (cb) => cb(responses), stop: () => {} });

const pluginsDir = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');
const havePlugin = existsSync(join(pluginsDir, 'ab-router.wasm'));
let echoes: EchoBackend[] = [];
let echoPort = 0;
let host: EdgeHost;
let prepared: string | undefined;
const preparedDirs: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  const started = await startEchoesOnCommonPort([
    { host: ECHO_A, pod: 'echo-a', namespace: NS, h2cPort: null, log: () => {} },
    { host: ECHO_B, pod: 'echo-b', namespace: NS, h2cPort: null, log: () => {} },
  ]);
  echoes = started.echoes;
  echoPort = started.port;
  const responses = translatedResponses(edgeConfigYaml({ apiPort: API_PORT, vsPort: VS_PORT, echoPort: started.port }));
  let plugins;
  if (havePlugin) {
    prepared = await mkdtemp(join(tmpdir(), 'weft-edge-plugins-'));
    const { preparePlugins } = await import('../../test/runtime/plugins/prepare.ts');
    await preparePlugins(pluginsDir, ['ab-router'], prepared);
    plugins = await loadPreparedDir(prepared, {
      readText: (p) => readFile(p, 'utf8'),
      readBytes: async (p) => new Uint8Array(await readFile(p)),
      importFile: (p) => import(pathToFileURL(p).href),
    });
  }
  host = createEdgeHost({ source: staticSource(responses), ...(plugins ? { plugins } : {}), clientIp: () => '127.0.0.1', fetch: nodeFetch(), log: (l, m) => logs.push(`${l} ${m}`) });
  await host.ready;
}, 60_000);

afterAll(async () => {
  host?.stop();
  await Promise.all(echoes.map((e) => e.close()));
  if (prepared) await rm(prepared, { recursive: true, force: true });
  for (const d of preparedDirs) await rm(d, { recursive: true, force: true });
});

describe('edge gateway (in process, core translator)', () => {
  it('is ready once the config serves', async () => {
    const res = await host.app.fetch(new Request('http://edge.local/healthz/ready'));
    expect(res.status).toBe(200);
    expect(host.gateway.model?.listeners.map((l) => l.port)).toEqual([API_PORT, VS_PORT]);
  });

  for (const c of EDGE_CASES) {
    const plugin = c.headers?.['x-variant'] !== undefined;
    it.skipIf(plugin && !havePlugin)(c.name, async () => {
      const res = await host.app.fetch(new Request(`http://edge.local${c.path}`, { method: c.method ?? 'GET', headers: { host: c.host, ...(c.headers ?? {}) }, ...(c.body ? { body: c.body } : {}) }));
      const r = resultOf(c, res.status, res.headers, await res.text());
      expect(unmet(c, r), `${JSON.stringify(r)}\n${logs.join('\n')}`).toEqual([]);
    });
  }

  it('answers 503 before any config, and ready 503', async () => {
    const never: EdgeConfigSource = { start: () => {}, stop: () => {} };
    const h = createEdgeHost({ source: never, firstConfigWaitMs: 10, log: () => {} });
    expect((await h.app.fetch(new Request('http://x/healthz/ready'))).status).toBe(503);
    const res = await h.app.fetch(new Request('http://x/', { headers: { host: 'api.example.com' } }));
    expect(res.status).toBe(503);
  });
});

describe('response headers a filter asks for in its request phase (the built-in header-rewrite, constant rules)', () => {
  it.skipIf(!havePlugin)("are on the upstream's response, replacing its own, and not on a direct response", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-edge-rewrite-'));
    preparedDirs.push(dir);
    const { preparePlugins } = await import('../../test/runtime/plugins/prepare.ts');
    await preparePlugins(pluginsDir, ['ab-router', 'header-rewrite'], dir);
    const plugins = await loadPreparedDir(dir, {
      readText: (p) => readFile(p, 'utf8'),
      readBytes: async (p) => new Uint8Array(await readFile(p)),
      importFile: (p) => import(pathToFileURL(p).href),
    });
    const rewrite = `---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: rewrite, namespace: ${NS} }
spec:
  url: file:///builtin/header-rewrite.wasm
  phase: STATS
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: ${GATEWAY} }]
  pluginConfig: { response: { set: { x-edge: rewritten, x-powered-by: weft }, remove: [x-drop-me] } }
`;
    const responses = translatedResponses(edgeConfigYaml({ apiPort: API_PORT, vsPort: VS_PORT, echoPort }) + rewrite);
    const h = createEdgeHost({ source: staticSource(responses), plugins, clientIp: () => '127.0.0.1', fetch: nodeFetch(), log: (l, m) => logs.push(`${l} ${m}`) });
    try {
      await h.ready;
      // one guest call a request: the constant response rules are asked for in the request phase
      const filter = h.gateway.pluginSet()?.httpFilters.find((f) => f.name === `${NS}.rewrite`);
      expect(filter?.phases).toMatchObject({ requestHeaders: true, responseHeaders: false });
      // the echo answers with the headers asked for here: set replaces the upstream's, remove drops one
      const ok = await h.app.fetch(new Request('http://edge.local/canary', { headers: { host: 'api.example.com', 'x-echo-set-header': 'x-powered-by:upstream, x-drop-me:1, x-keep:1' } }));
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-edge')).toBe('rewritten');
      expect(ok.headers.get('x-powered-by')).toBe('weft');
      expect(ok.headers.get('x-drop-me')).toBeNull();
      expect(ok.headers.get('x-keep')).toBe('1');
      const body = (await ok.json()) as { headers: Record<string, string[]> };
      // asked for the response: the upstream never saw them
      expect(body.headers['X-Edge']).toBeUndefined();
      // a direct response (the route table's 503 for a route a plugin names but that does not exist) runs no response phase
      const direct = await h.app.fetch(new Request('http://edge.local/', { headers: { host: 'api.example.com', 'x-variant': 'ghost' } }));
      expect(direct.status).toBe(503);
      expect(direct.headers.get('x-edge')).toBeNull();
    } finally {
      h.stop();
    }
  }, 60_000);
});
