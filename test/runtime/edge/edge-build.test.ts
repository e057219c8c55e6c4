/**
 * `weft edge build` (issue 6): the built `weft` makes a deploy directory per runtime (from a config
 * directory, from a `weft edge snapshot` file, or polling `weft control`) with the parity test's
 * config (cases.ts: routes, an AuthorizationPolicy, RequestAuthentication with inline JWKS and a
 * jwksUri served here, the built-in ab-router plugin), and each is run as its README says:
 * - workerd: `workerd serve <out>/config.capnp` (its socket moved to a free port with --socket-addr);
 * - deno: `deno serve --allow-net --allow-env --allow-read=<out> <out>/main.mjs`;
 * - node: `node <out>/start.mjs` (PORT, HOST);
 * - node and workerd again, built with `--control URL --token TOKEN`: they poll a running
 *   `weft control` (on workerd, polling is driven by requests: entry/workerd.ts).
 * A few of the parity cases go to each over HTTP (a route, a plugin decision, authorization denies,
 * JWT) and must meet their expectations. Requests go through node:http because fetch replaces the
 * Host header, which chooses the listener on the edge. Children are bounded in time and killed in
 * afterAll.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoBackend } from '../../support/echo-backend.ts';
import { freePort, startEchoesOnCommonPort } from '../../support/proxy-fixtures.ts';
import { startControl, weftSync, type ControlProcess } from '../../support/weft-process.ts';
import { killAll, ROOT, start } from '../harness.ts';
import { ECHO_A, ECHO_B, EDGE_CASES, edgeConfigYaml, GATEWAY, NS, REMOTE_JWKS, REMOTE_JWT_CASES, resultOf, unmet, type EdgeCase } from './cases.ts';

const CHILD_MS = 120_000;
const pluginsDir = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');
const CASES = [
  'prefix rewrite and header set/remove',
  'plugin names a cluster',
  'AuthorizationPolicy DENY by path',
  'VirtualService direct response',
  'JWT RS256: a valid token is allowed, its claim goes upstream, the token does not',
  'JWT ES256: a valid token is allowed',
  'JWT with a bad signature: 401',
  'JWT missing where the policy requires a principal: 403',
]
  .map((n) => {
    const c = EDGE_CASES.find((x) => x.name === n);
    if (c === undefined) throw new Error(`no case ${n} in cases.ts`);
    return c;
  })
  // this config also names a jwksUri (served below): the deploys fetch the keys at run time
  .concat(REMOTE_JWT_CASES);

let dir: string;
let echoes: EchoBackend[] = [];
let control: ControlProcess | undefined;
let jwksServer: Server | undefined;
let jwksFetches = 0;
const started: Started[] = [];
const builds: Record<string, { status: number; stderr: string; out: string }> = {};
const failed: Record<string, string> = {};

function send(base: string, c: EdgeCase): Promise<{ status: number; headers: Headers; body: string }> {
  const url = new URL(base);
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

interface Started {
  name: string;
  url: string;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Runs a built deploy as its README says; resolves once `/healthz/ready` answers 200 (its config serves). */
async function startBuilt(o: { name: string; target: 'workerd' | 'deno' | 'node'; out: string; port: number; timeoutMs: number; denoDir: string }): Promise<Started> {
  const bin = join(ROOT, 'node_modules/.bin');
  const addr = `127.0.0.1:${o.port}`;
  const p =
    o.target === 'workerd'
      ? start(join(bin, 'workerd'), ['serve', join(o.out, 'config.capnp'), '--socket-addr', `http=${addr}`], { cwd: o.out, timeoutMs: o.timeoutMs })
      : o.target === 'deno'
        ? start(join(bin, 'deno'), ['serve', '--port', String(o.port), '--host', '127.0.0.1', '--no-prompt', '--allow-net', '--allow-env', `--allow-read=${o.out}`, join(o.out, 'main.mjs')], { cwd: dir, env: { DENO_DIR: o.denoDir, DENO_NO_UPDATE_CHECK: '1' }, timeoutMs: o.timeoutMs })
        : start(process.execPath, [join(o.out, 'start.mjs')], { cwd: dir, env: { PORT: String(o.port), HOST: '127.0.0.1' }, timeoutMs: o.timeoutMs });
  let exited = false;
  void p.done.then(() => (exited = true));
  const s: Started = {
    name: o.name,
    url: `http://${addr}`,
    stderr: p.stderr,
    stop: async () => {
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 2000);
      await p.done;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) break;
    const res = await fetch(`${s.url}/healthz/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (res?.status === 200) return s;
    await res?.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
  }
  await s.stop();
  throw new Error(`${o.name} ${exited ? 'exited' : 'was not ready in 30 s'}; stderr:\n${p.stderr()}`);
}

function build(name: string, args: string[]): string {
  const out = join(dir, name);
  const r = weftSync(['edge', 'build', ...args, '--plugin-cache', join(dir, 'plugin-cache'), '--out', out]);
  builds[name] = { status: r.status, stderr: r.stderr, out };
  return out;
}

beforeAll(async () => {
  if (!existsSync(join(pluginsDir, 'ab-router.wasm'))) throw new Error(`${join(pluginsDir, 'ab-router.wasm')} is missing: build the plugins first`);
  dir = await mkdtemp(join(tmpdir(), 'weft-edge-build-'));
  const e = await startEchoesOnCommonPort([
    { host: ECHO_A, pod: 'echo-a', namespace: NS, h2cPort: null, log: () => {} },
    { host: ECHO_B, pod: 'echo-b', namespace: NS, h2cPort: null, log: () => {} },
  ]);
  echoes = e.echoes;
  const apiPort = await freePort();
  let vsPort = await freePort();
  while (vsPort === apiPort) vsPort = await freePort();
  const config = join(dir, 'config');
  mkdirSync(config);
  jwksServer = createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(REMOTE_JWKS);
  });
  await new Promise<void>((r) => jwksServer!.listen(0, '127.0.0.1', r));
  const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  writeFileSync(join(config, 'edge.yaml'), edgeConfigYaml({ apiPort, vsPort, echoPort: e.port, jwksUri }));
  const state = join(dir, 'state');
  control = await startControl(['--config', config, '--state', state]);
  const token = weftSync(['token', 'create', '--gateway', `${NS}/${GATEWAY}`, '--state', state]).stdout.trim();
  const fromConfig = ['--gateway', `${NS}/${GATEWAY}`, '--config', config, '--label', 'istio=ingressgateway'];
  const snapshotFile = join(dir, 'snapshot.json');
  const snap = weftSync(['edge', 'snapshot', ...fromConfig, '--out', snapshotFile]);
  if (snap.status !== 0) throw new Error(`weft edge snapshot: ${snap.stderr}`);
  const outs = {
    workerd: build('workerd', ['--target', 'workerd', ...fromConfig]),
    // from a snapshot file, as `weft edge snapshot` writes it
    deno: build('deno', ['--target', 'deno', '--snapshot', snapshotFile]),
    node: build('node', ['--target', 'node', ...fromConfig]),
    'node-control': build('node-control', ['--target', 'node', '--control', control.http, '--token', token, '--label', 'istio=ingressgateway', '--poll-ms', '1000']),
    'workerd-control': build('workerd-control', ['--target', 'workerd', '--control', control.http, '--token', token, '--label', 'istio=ingressgateway', '--poll-ms', '1000']),
  };
  const denoDir = join(dir, 'deno-dir');
  mkdirSync(denoDir);
  const runs = await Promise.allSettled(
    Object.entries(outs).map(async ([name, out]) => {
      if (builds[name]!.status !== 0) throw new Error(`build failed: ${builds[name]!.stderr}`);
      return startBuilt({ name, target: name.replace('-control', '') as 'workerd' | 'deno' | 'node', out, port: await freePort(), timeoutMs: CHILD_MS, denoDir });
    }),
  );
  runs.forEach((r, i) => {
    const name = Object.keys(outs)[i]!;
    if (r.status === 'fulfilled') started.push(r.value);
    else failed[name] = String((r.reason as Error).message ?? r.reason);
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  killAll();
  await control?.stop();
  await Promise.all(echoes.map((e) => e.close()));
  jwksServer?.closeAllConnections();
  await new Promise((r) => (jwksServer ? jwksServer.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('weft edge build', () => {
  it('builds every target', () => {
    for (const [name, b] of Object.entries(builds)) expect(b.status, `${name}: ${b.stderr}`).toBe(0);
  });

  it('writes each runtime its deploy files and a README saying how to run it', () => {
    const has = (name: string, files: string[]) => {
      for (const f of files) expect(existsSync(join(dir, name, f)), `${name}/${f}`).toBe(true);
    };
    has('workerd', ['worker.js', 'config.capnp', 'wrangler.toml', 'snapshot.json', 'plugins/manifest.json', 'plugins/ab-router/glue.mjs', 'README.md']);
    has('deno', ['app.mjs', 'main.mjs', 'deno.json', 'snapshot.json', 'plugins/manifest.json', 'README.md']);
    has('node', ['edge-node.mjs', 'start.mjs', 'snapshot.json', 'plugins/manifest.json', 'README.md']);
    has('node-control', ['edge-node.mjs', 'start.mjs', 'plugins/manifest.json', 'README.md']);
    expect(existsSync(join(dir, 'node-control', 'snapshot.json'))).toBe(false);
    // the token goes into config.capnp (owner-only), never into wrangler.toml (a secret there)
    expect(statSync(join(dir, 'workerd-control', 'config.capnp')).mode & 0o077).toBe(0);
    expect(readFileSync(join(dir, 'workerd-control', 'config.capnp'), 'utf8')).toContain('(name = "WEFT_TOKEN"');
    expect(readFileSync(join(dir, 'workerd-control', 'wrangler.toml'), 'utf8')).not.toContain('WEFT_TOKEN =');
    // every core module the workerd bundle imports is listed in its config as a Wasm module
    const manifest = JSON.parse(readFileSync(join(dir, 'workerd', 'plugins/manifest.json'), 'utf8')) as { plugins: { name: string; modules: string[] }[] };
    expect(manifest.plugins.map((p) => p.name)).toEqual(['ab-router']);
    const capnp = readFileSync(join(dir, 'workerd', 'config.capnp'), 'utf8');
    for (const m of manifest.plugins[0]!.modules) expect(capnp).toContain(`wasm = embed "plugins/ab-router/${m}"`);
    expect(readFileSync(join(dir, 'workerd', 'worker.js'), 'utf8')).not.toMatch(/from ["']node:/);
    expect(readFileSync(join(dir, 'deno', 'README.md'), 'utf8')).toContain('--allow-read=');
    // the polling deploy holds the join token: its start script is its owner's only
    expect(statSync(join(dir, 'node-control', 'start.mjs')).mode & 0o077).toBe(0);
  });

  for (const name of ['workerd', 'deno', 'node', 'node-control', 'workerd-control']) {
    it(`${name}: the deploy serves the cases`, async () => {
      const s = started.find((x) => x.name === name);
      expect(s, failed[name]).toBeDefined();
      const problems: { case: string; unmet: string[] }[] = [];
      for (const c of CASES) {
        const r = await send(s!.url, c);
        const res = resultOf(c, r.status, r.headers, r.body);
        // workerd's fetch sets Host from the URL: the authority reaches the backend as x-forwarded-host
        if (name.startsWith('workerd') && res.forwardedHost !== undefined) res.backendHost = res.forwardedHost;
        const u = unmet(c, res);
        if (u.length) problems.push({ case: c.name, unmet: u });
      }
      expect(problems, s!.stderr()).toEqual([]);
    }, 60_000);
  }

  it('each deploy fetched the jwksUri keys (once: they are cached)', () => {
    expect(started.length).toBe(5);
    expect(jwksFetches).toBe(started.length);
  });

  it('refuses a build without a config source, and into a directory that is not empty', () => {
    const none = weftSync(['edge', 'build', '--target', 'node', '--out', join(dir, 'none')]);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/--snapshot FILE, --control URL --token TOKEN, or --gateway/);
    const again = weftSync(['edge', 'build', '--target', 'node', '--gateway', `${NS}/${GATEWAY}`, '--config', join(dir, 'config'), '--out', join(dir, 'node')]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/is not empty/);
    const target = weftSync(['edge', 'build', '--target', 'lambda', '--gateway', `${NS}/${GATEWAY}`, '--out', join(dir, 'x')]);
    expect(target.stderr).toMatch(/--target is one of workerd, deno, node/);
  });
});
