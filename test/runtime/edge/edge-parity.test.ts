/**
 * Issue 6, the edge host: one table of cases (cases.ts) run against four gateways that serve the
 * same config from the same `weft control`, reaching the same two echo backends:
 * - the Node gateway (`weft gateway`, built bundle, labelled istio=ingressgateway), by listener port;
 * - the edge host on Node (entry/node.ts bundled) and on Deno (`deno serve` entry/deno.ts), both
 *   polling the control plane's REST-JSON xDS with a gateway token;
 * - the edge host on workerd (module worker, entry/workerd.ts) with the same responses bundled as
 *   a snapshot and the plugin's core modules as Wasm module imports.
 * The edge hosts pick the listener by the Host header (one public port). Every case must meet its
 * expectation on each, and the four results must be identical, case for case. The WasmPlugin is the
 * built-in ab-router ($WEFT_DIST/plugins), prepared once as a deploy does.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoBackend } from '../../support/echo-backend.ts';
import type { GatewayProcess } from '../../support/gateway-process.ts';
import { freePort, startControlAndGateway, startEchoesOnCommonPort } from '../../support/proxy-fixtures.ts';
import { weftSync, type ControlProcess } from '../../support/weft-process.ts';
import { killAll } from '../harness.ts';
import type { PreparedPlugin } from '../plugins/driver.ts';
import { preparePlugins } from '../plugins/prepare.ts';
import { ECHO_A, ECHO_B, EDGE_CASES, edgeConfigYaml, GATEWAY, NS, resultOf, unmet, type CaseResult, type EdgeCase } from './cases.ts';
import { prepareWorkerdBundle, startEdgeDeno, startEdgeNode, startEdgeWorkerd, type EdgeContender } from './contenders.ts';
import { restSnapshot } from './rest-snapshot.ts';

const CHILD_MS = 120_000;
const pluginsDir = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');

let dir: string;
let denoDir: string;
let echoes: EchoBackend[] = [];
let control: ControlProcess | undefined;
let gateway: GatewayProcess | undefined;
const edges: EdgeContender[] = [];
const failed: Record<string, string> = {};
let ports: { apiPort: number; vsPort: number };
let configFile: string;
let echoPort = 0;
const results: Record<string, CaseResult[]> = {};

/** One request with the case's Host header (node:http: fetch would replace Host). */
function send(base: string, c: EdgeCase): Promise<{ status: number; headers: Headers; body: string }> {
  const url = new URL(c.path, base);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: c.path, method: c.method ?? 'GET', headers: { host: c.host, ...(c.headers ?? {}) }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        done({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    req.on('timeout', () => req.destroy(new Error(`${base}${c.path}: timed out`)));
    req.on('error', fail);
    req.end(c.body);
  });
}

async function runCases(name: string, base: (c: EdgeCase) => string): Promise<void> {
  const out: CaseResult[] = [];
  for (const c of EDGE_CASES) {
    const r = await send(base(c), c);
    out.push(resultOf(c, r.status, r.headers, r.body));
  }
  results[name] = out;
}

beforeAll(async () => {
  for (const n of ['ab-router']) if (!existsSync(join(pluginsDir, `${n}.wasm`))) throw new Error(`${join(pluginsDir, `${n}.wasm`)} is missing: build the plugins first`);
  dir = await mkdtemp(join(tmpdir(), 'weft-edge-parity-'));
  denoDir = await mkdtemp(join(tmpdir(), 'weft-deno-'));
  const started = await startEchoesOnCommonPort([
    { host: ECHO_A, pod: 'echo-a', namespace: NS, h2cPort: null, log: () => {} },
    { host: ECHO_B, pod: 'echo-b', namespace: NS, h2cPort: null, log: () => {} },
  ]);
  echoes = started.echoes;
  const apiPort = await freePort();
  let vsPort = await freePort();
  while (vsPort === apiPort) vsPort = await freePort();
  ports = { apiPort, vsPort };
  const config = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(config, { recursive: true });
  echoPort = started.port;
  configFile = join(config, 'edge.yaml');
  writeFileSync(configFile, edgeConfigYaml({ ...ports, echoPort }));
  const prepared = join(dir, 'prepared');
  const plugins: PreparedPlugin[] = await preparePlugins(pluginsDir, ['ab-router'], prepared);
  ({ control, gateway } = await startControlAndGateway({ config, state, gateway: `${NS}/${GATEWAY}`, args: ['--label', 'istio=ingressgateway'] }));
  const token = weftSync(['token', 'create', '--gateway', `${NS}/${GATEWAY}`, '--state', state]).stdout.trim();
  const env = { WEFT_CONTROL_URL: control.http, WEFT_TOKEN: token, WEFT_LABELS: 'istio=ingressgateway', WEFT_POLL_MS: '1000', WEFT_PLUGINS_DIR: prepared };
  const snapshot = await restSnapshot(control.http, token, { namespace: NS, name: GATEWAY }, { istio: 'ingressgateway' });
  const snapshotFile = join(dir, 'snapshot.json');
  writeFileSync(snapshotFile, JSON.stringify(snapshot));
  const wdir = join(dir, 'workerd');
  mkdirSync(wdir);
  const wport = await freePort();
  const wconfig = await prepareWorkerdBundle({ dir: wdir, snapshotFile, preparedDir: prepared, plugins, port: wport });
  const ndir = join(dir, 'node');
  mkdirSync(ndir);
  const starts = await Promise.allSettled([
    startEdgeNode({ port: await freePort(), dir: ndir, env, timeoutMs: CHILD_MS }),
    startEdgeDeno({ port: await freePort(), dir, env, timeoutMs: CHILD_MS, denoDir }),
    startEdgeWorkerd({ port: wport, dir: wdir, env: {}, timeoutMs: CHILD_MS, config: wconfig }),
  ]);
  for (const [i, s] of starts.entries()) {
    const name = ['edge-node', 'edge-deno', 'edge-workerd'][i]!;
    if (s.status === 'fulfilled') edges.push(s.value);
    else failed[name] = String((s.reason as Error).message ?? s.reason);
  }
  await runCases('node-gateway', (c) => `http://127.0.0.1:${c.listener === 'api' ? ports.apiPort : ports.vsPort}`);
  for (const e of edges) await runCases(e.name, () => e.url);
  // workerd's fetch sets Host from the URL (the endpoint's address) and ignores a Host header: the
  // authority reaches the backend as x-forwarded-host instead (entry/workerd.ts), which is what is
  // compared there. Elsewhere no x-forwarded-host may appear.
  for (const [name, rs] of Object.entries(results)) {
    for (const r of rs) {
      if (name === 'edge-workerd' && r.forwardedHost !== undefined) r.backendHost = r.forwardedHost;
      if (name === 'edge-workerd' || r.forwardedHost === undefined) delete r.forwardedHost;
    }
  }
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(edges.map((e) => e.stop()));
  killAll();
  await gateway?.stop();
  await control?.stop();
  await Promise.all(echoes.map((e) => e.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
  if (denoDir) await rm(denoDir, { recursive: true, force: true });
});

describe('edge host parity: Node gateway, edge on Node, Deno and workerd', () => {
  it('starts every contender', () => {
    expect(failed).toEqual({});
    expect(Object.keys(results).sort()).toEqual(['edge-deno', 'edge-node', 'edge-workerd', 'node-gateway']);
  });

  for (const name of ['node-gateway', 'edge-node', 'edge-deno', 'edge-workerd']) {
    it(`${name}: every case meets its expectation`, () => {
      const rs = results[name];
      expect(rs, failed[name]).toBeDefined();
      const problems = EDGE_CASES.map((c, i) => ({ case: c.name, unmet: unmet(c, rs![i]!) })).filter((p) => p.unmet.length);
      expect(problems).toEqual([]);
    });
  }

  it('the polling edge hosts (Node, Deno) swap in a changed config', async () => {
    const teapot = EDGE_CASES.find((c) => c.name === 'VirtualService direct response')!;
    writeFileSync(configFile, edgeConfigYaml({ ...ports, echoPort }).replace('short and stout', 'tall and thin'));
    for (const e of edges.filter((x) => x.name !== 'edge-workerd')) {
      const deadline = Date.now() + 15_000;
      let body = '';
      while (Date.now() < deadline) {
        body = (await send(e.url, teapot)).body;
        if (body === 'tall and thin') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(body, e.name).toBe('tall and thin');
    }
  }, 40_000);

  it('gives identical results on all four, case for case', () => {
    const base = results['node-gateway']!;
    for (const name of ['edge-node', 'edge-deno', 'edge-workerd']) {
      const rs = results[name];
      expect(rs, failed[name]).toBeDefined();
      EDGE_CASES.forEach((c, i) => expect(rs![i], `${name}: ${c.name}`).toEqual(base[i]));
    }
  });
});
