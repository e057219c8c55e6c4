/**
 * The plugins bench's gateway side: `weft control` + `weft gateway` (WEFT_DIST) in front of the L7
 * bench's nginx origin, with the WasmPlugins of one contender, measured by wrk like the L7 bench
 * (req/s, p50/p99, the gateway's CPU ms per 1,000 requests from /proc, RSS after the run).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginStatus } from '../../../core/plugin/contract.ts';
import { cpuMs, rssMb, waitPort, wrk } from '../lib/load.ts';
import { gatewayMesh } from '../lib/gateway-mesh.ts';
import { WEFT_BIN } from '../../support/weft-child.ts';
import { nginxConf, originServer } from '../l7/origin.ts';
import { AB_ROUTER_CONFIG, RATE_LIMIT_CONFIG, REWRITE_CONFIG, REWRITE_TWO_PHASE_CONFIG } from './specs.ts';

// apart from the L7 bench's 1818x/1819x, so both can run on one machine (not at once: CPU)
export const P = { origin: 18380, gateway: 18384, xds: 18390, secure: 18391, http: 18392, admin: 18393, stats: 18394, ready: 18395 };

export const CONTENDERS = ['none', 'one', 'one2', 'chain3', 'native'] as const;
export type Contender = (typeof CONTENDERS)[number];

export { AB_ROUTER_CONFIG, RATE_LIMIT_CONFIG, REWRITE_CONFIG } from './specs.ts';

export interface Running {
  name: Contender;
  pid: number;
  stop(): Promise<void>;
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

export async function startOrigin(dir: string): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, originServer(`127.0.0.1:${P.origin}`)));
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`origin: ${d}`));
  await waitPort(P.origin);
  return () => stopChild(child);
}

const q = (s: string) => JSON.stringify(s);

export type FailStrategy = 'FAIL_OPEN' | 'FAIL_CLOSE';

export function wasmPlugin(name: string, url: string, phase: string, config: unknown, sha256?: string, fail: FailStrategy = 'FAIL_OPEN'): string {
  return `---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: ${name}, namespace: bench }
spec:
  url: ${url}
${sha256 ? `  sha256: ${sha256}\n` : ''}${phase ? `  phase: ${phase}\n` : ''}  failStrategy: ${fail}
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: edge }]
  pluginConfig: ${JSON.stringify(config)}
`;
}

/**
 * The WasmPlugins of a contender, and how many must be ready. The gateway fails open (its
 * config_dump counts plugin failures); the edge bench fails closed, as the edge host has no such
 * counters: a failing plugin then shows as non-2xx responses in wrk's figures.
 */
export function pluginsOf(c: Contender, native: { url: string; sha256: string }, fail: FailStrategy = 'FAIL_OPEN'): { yaml: string; count: number } {
  switch (c) {
    case 'none':
      return { yaml: '', count: 0 };
    case 'one':
      return { yaml: wasmPlugin('rewrite', 'file:///builtin/header-rewrite.wasm', 'STATS', REWRITE_CONFIG, undefined, fail), count: 1 };
    case 'one2':
      return { yaml: wasmPlugin('rewrite', 'file:///builtin/header-rewrite.wasm', 'STATS', REWRITE_TWO_PHASE_CONFIG, undefined, fail), count: 1 };
    case 'native':
      return { yaml: wasmPlugin('rewrite', native.url, 'STATS', REWRITE_CONFIG, native.sha256, fail), count: 1 };
    case 'chain3':
      return {
        yaml:
          wasmPlugin('rate-limit', 'file:///builtin/rate-limit.wasm', 'AUTHZ', RATE_LIMIT_CONFIG, undefined, fail) +
          wasmPlugin('rewrite', 'file:///builtin/header-rewrite.wasm', 'STATS', REWRITE_CONFIG, undefined, fail) +
          wasmPlugin('ab-router', 'file:///builtin/ab-router.wasm', '', AB_ROUTER_CONFIG, undefined, fail),
        count: 3,
      };
  }
}

function meshConfig(): string {
  // the plugins' WasmPlugin documents follow (each starts with ---)
  return gatewayMesh(P.origin, P.gateway);
}

/** control + gateway with the contender's plugins; resolves when they all serve (the rewrite's header is seen) */
export async function startGateway(dir: string, c: Contender, native: { url: string; sha256: string }): Promise<Running> {
  const cfg = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(cfg, { recursive: true });
  mkdirSync(state, { recursive: true });
  const plugins = pluginsOf(c, native);
  writeFileSync(join(cfg, 'bench.yaml'), meshConfig() + plugins.yaml);
  const control = spawn(process.execPath, [WEFT_BIN, 'control', '--config', cfg, '--state', state, '--listen', '127.0.0.1', '--xds-port', String(P.xds), '--secure-port', String(P.secure), '--http-port', String(P.http)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let gw: ChildProcess | undefined;
  const stop = async () => {
    if (gw) await stopChild(gw);
    await stopChild(control);
  };
  try {
    await waitPort(P.secure);
    const token = execFileSync(process.execPath, [WEFT_BIN, 'token', 'create', '--gateway', 'bench/edge', '--state', state], { encoding: 'utf8' }).trim();
    // only the native contender's gateway may run an unsandboxed .mjs plugin
    const env = { ...process.env };
    if (c === 'native') env.WEFT_PLUGINS_TRUSTED_NATIVE = '1';
    else delete env.WEFT_PLUGINS_TRUSTED_NATIVE;
    // BENCH_NODE_FLAGS: e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to see where a contender's time goes
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    gw = spawn(process.execPath, [...flags, WEFT_BIN, 'gateway', '--control', `127.0.0.1:${P.secure}`, '--root-cert', join(state, 'root-cert.pem'), '--token', token, '--listen', '127.0.0.1', '--admin-port', String(P.admin), '--stats-port', String(P.stats), '--ready-port', String(P.ready)], { stdio: ['ignore', 'ignore', 'pipe'], env });
    gw.stderr?.on('data', (d: Buffer) => /error|warn/.test(d.toString()) && process.stderr.write(`gateway (${c}): ${d}`));
    await waitPort(P.gateway, '127.0.0.1', 20_000);
    const deadline = Date.now() + 60_000;
    let last = '';
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${P.gateway}/`).then(
        (res) => ({ status: res.status, bench: res.headers.get('x-bench') }),
        () => ({ status: 0, bench: null }),
      );
      const dump = plugins.count ? await fetch(`http://127.0.0.1:${P.admin}/config_dump`).then((res) => res.json() as Promise<{ plugins?: { name: string; state: string; error?: string }[] }>, () => undefined) : undefined;
      const ready = (dump?.plugins ?? []).filter((p) => p.state === 'ready').length;
      if (r.status === 200 && ready === plugins.count && (plugins.count === 0 || r.bench === 'rewritten')) break;
      last = `status ${r.status}, x-bench ${q(String(r.bench))}, plugins ${JSON.stringify(dump?.plugins ?? [])}`;
      if (Date.now() > deadline) throw new Error(`gateway (${c}) not serving its plugins: ${last}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    return { name: c, pid: gw.pid!, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface GatewaySample {
  rps: Record<number, number>;
  p50: Record<number, number>;
  p99: Record<number, number>;
  cpuPer1k: Record<number, number>;
  rss: number;
  failed: number;
  /** plugin calls that failed (trap, timeout, memory, error) */
  pluginFailures: number;
}

export async function measureGateway(r: Running, seconds: number, conns: number[]): Promise<GatewaySample> {
  const url = `http://127.0.0.1:${P.gateway}/`;
  // warm-up: JIT, pools, and V8's tier-up of each plugin's Wasm (QuickJS is ~1.25 MB of code, compiled
  // lazily, hot functions optimized in the background: on a busy machine that takes seconds)
  await wrk(url, 16, 3);
  const s: GatewaySample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {}, rss: NaN, failed: 0, pluginFailures: 0 };
  for (const c of conns) {
    const before = await cpuMs([r.pid]);
    const w = await wrk(url, c, seconds);
    const used = (await cpuMs([r.pid])) - before;
    s.rps[c] = w.rps;
    s.p50[c] = w.p50us;
    s.p99[c] = w.p99us;
    s.cpuPer1k[c] = used / (w.requests / 1000);
    s.failed += w.errors + w.non2xx;
    if (w.errors || w.non2xx) process.stderr.write(`  ${r.name} c=${c}: ${w.errors} socket errors, ${w.non2xx} non-2xx\n`);
  }
  s.rss = await rssMb([r.pid]);
  // a plugin failing (FAIL_OPEN lets the request on) would make its figures meaningless: count them
  const dump = await fetch(`http://127.0.0.1:${P.admin}/config_dump`).then((res) => res.json() as Promise<{ plugins?: PluginStatus[] }>, () => undefined);
  for (const p of dump?.plugins ?? []) {
    const n = p.failures.trap + p.failures.timeout + p.failures.memory + p.failures.error;
    s.pluginFailures += n;
    if (n || process.env.BENCH_DEBUG) process.stderr.write(`  ${r.name}: plugin ${p.name}: ${JSON.stringify(p)}\n`);
  }
  return s;
}

export const nativeUrl = (file: string) => pathToFileURL(file).href;
