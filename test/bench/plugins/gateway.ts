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

/**
 * The ports of a contender's control plane and gateway: slot 0 is P; the gateway part runs every
 * contender at once (slot = its index), 20 ports apart, and alternates wrk between them.
 */
export function portsOf(slot: number): Omit<typeof P, 'origin'> {
  const d = slot * 20;
  return { gateway: P.gateway + d, xds: P.xds + d, secure: P.secure + d, http: P.http + d, admin: P.admin + d, stats: P.stats + d, ready: P.ready + d };
}

export interface Running {
  name: Contender;
  pid: number;
  /** the gateway's listener, as wrk is pointed at it */
  url: string;
  ports: ReturnType<typeof portsOf>;
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

function meshConfig(gatewayPort: number): string {
  // the plugins' WasmPlugin documents follow (each starts with ---)
  return gatewayMesh(P.origin, gatewayPort);
}

/** control + gateway with the contender's plugins; resolves when they all serve (the rewrite's header is seen) */
export async function startGateway(dir: string, c: Contender, native: { url: string; sha256: string }, slot = 0): Promise<Running> {
  const ports = portsOf(slot);
  const cfg = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(cfg, { recursive: true });
  mkdirSync(state, { recursive: true });
  const plugins = pluginsOf(c, native);
  writeFileSync(join(cfg, 'bench.yaml'), meshConfig(ports.gateway) + plugins.yaml);
  const control = spawn(process.execPath, [WEFT_BIN, 'control', '--config', cfg, '--state', state, '--listen', '127.0.0.1', '--xds-port', String(ports.xds), '--secure-port', String(ports.secure), '--http-port', String(ports.http)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let gw: ChildProcess | undefined;
  const stop = async () => {
    if (gw) await stopChild(gw);
    await stopChild(control);
  };
  try {
    await waitPort(ports.secure);
    const token = execFileSync(process.execPath, [WEFT_BIN, 'token', 'create', '--gateway', 'bench/edge', '--state', state], { encoding: 'utf8' }).trim();
    // only the native contender's gateway may run an unsandboxed .mjs plugin
    const env = { ...process.env };
    if (c === 'native') env.WEFT_PLUGINS_TRUSTED_NATIVE = '1';
    else delete env.WEFT_PLUGINS_TRUSTED_NATIVE;
    // BENCH_NODE_FLAGS: e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to see where a contender's time goes
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    gw = spawn(process.execPath, [...flags, WEFT_BIN, 'gateway', '--control', `127.0.0.1:${ports.secure}`, '--root-cert', join(state, 'root-cert.pem'), '--token', token, '--listen', '127.0.0.1', '--admin-port', String(ports.admin), '--stats-port', String(ports.stats), '--ready-port', String(ports.ready)], { stdio: ['ignore', 'ignore', 'pipe'], env });
    gw.stderr?.on('data', (d: Buffer) => /error|warn/.test(d.toString()) && process.stderr.write(`gateway (${c}): ${d}`));
    await waitPort(ports.gateway, '127.0.0.1', 20_000);
    const deadline = Date.now() + 60_000;
    let last = '';
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${ports.gateway}/`).then(
        (res) => ({ status: res.status, bench: res.headers.get('x-bench') }),
        () => ({ status: 0, bench: null }),
      );
      const dump = plugins.count ? await fetch(`http://127.0.0.1:${ports.admin}/config_dump`).then((res) => res.json() as Promise<{ plugins?: { name: string; state: string; error?: string }[] }>, () => undefined) : undefined;
      const ready = (dump?.plugins ?? []).filter((p) => p.state === 'ready').length;
      if (r.status === 200 && ready === plugins.count && (plugins.count === 0 || r.bench === 'rewritten')) break;
      last = `status ${r.status}, x-bench ${q(String(r.bench))}, plugins ${JSON.stringify(dump?.plugins ?? [])}`;
      if (Date.now() > deadline) throw new Error(`gateway (${c}) not serving its plugins: ${last}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    return { name: c, pid: gw.pid!, url: `http://127.0.0.1:${ports.gateway}/`, ports, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One wrk run against one contender: what it measured and what the gateway spent. */
export interface WrkSample {
  rps: number;
  p50: number;
  p99: number;
  cpuPer1k: number;
  failed: number;
}

/** What a contender's gateway showed once its generation's runs were over. */
export interface GatewayEnd {
  rss: number;
  /** plugin calls that failed (trap, timeout, memory, error) */
  pluginFailures: number;
}

/**
 * Warm-up: JIT, pools, and V8's tier-up of each plugin's Wasm (QuickJS is ~1.25 MB of code, compiled
 * lazily, hot functions optimized in the background: on a busy machine that takes seconds).
 */
export async function warmGateway(r: Running): Promise<void> {
  await wrk(r.url, 16, 3);
}

export async function sampleGateway(r: Running, conns: number, seconds: number): Promise<WrkSample> {
  const before = await cpuMs([r.pid]);
  const w = await wrk(r.url, conns, seconds);
  const used = (await cpuMs([r.pid])) - before;
  if (w.errors || w.non2xx) process.stderr.write(`  ${r.name} c=${conns}: ${w.errors} socket errors, ${w.non2xx} non-2xx\n`);
  return { rps: w.rps, p50: w.p50us, p99: w.p99us, cpuPer1k: used / (w.requests / 1000), failed: w.errors + w.non2xx };
}

export async function endOfGateway(r: Running): Promise<GatewayEnd> {
  const out: GatewayEnd = { rss: await rssMb([r.pid]), pluginFailures: 0 };
  // a plugin failing (FAIL_OPEN lets the request on) would make its figures meaningless: count them
  const dump = await fetch(`http://127.0.0.1:${r.ports.admin}/config_dump`).then((res) => res.json() as Promise<{ plugins?: PluginStatus[] }>, () => undefined);
  for (const p of dump?.plugins ?? []) {
    const n = p.failures.trap + p.failures.timeout + p.failures.memory + p.failures.error;
    out.pluginFailures += n;
    if (n || process.env.BENCH_DEBUG) process.stderr.write(`  ${r.name}: plugin ${p.name}: ${JSON.stringify(p)}\n`);
  }
  return out;
}

export const nativeUrl = (file: string) => pathToFileURL(file).href;
