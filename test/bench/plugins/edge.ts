/**
 * The plugins bench through the edge host (hosts/edge) on Node, Deno and workerd: the same nginx
 * origin, Gateway, HTTPRoute and WasmPlugins as the gateway part (`none`, `one` = header-rewrite,
 * `chain3` = rate-limit + header-rewrite + ab-router; no `native`: the edge host runs only bundled,
 * prepared components), each contender a fresh edge process started as the edge bench starts it
 * (test/runtime/edge/contenders.ts): a snapshot of `weft control`'s REST-JSON xDS for that contender's
 * config, the built-ins prepared as a deploy does (test/runtime/plugins/prepare.ts), Node and Deno
 * compiling them at start (WEFT_PLUGINS_DIR), workerd importing them as Wasm modules.
 *
 * Before measuring, and again after, a request must show the header-rewrite's response header
 * (`x-bench: rewritten`) on `one` and `chain3` and not on `none`, so that a plugin that is not
 * applied cannot pass for a fast one; the plugins fail closed here, so a failing call is a non-2xx.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WEFT_BIN } from '../../support/weft-child.ts';
import { gatewayMesh } from '../lib/gateway-mesh.ts';
import { cpuMs, rssMb, waitPort, wrk } from '../lib/load.ts';
import { bundleNodeEntry, prepareWorkerdBundle, startEdgeDeno, startEdgeNode, startEdgeWorkerd, type EdgeContender } from '../../runtime/edge/contenders.ts';
import { restSnapshot } from '../../runtime/edge/rest-snapshot.ts';
import type { PreparedPlugin } from '../../runtime/plugins/driver.ts';
import { preparePlugins } from '../../runtime/plugins/prepare.ts';
import { P, pluginsOf, stopChild } from './gateway.ts';

export const EDGE_RUNTIMES = ['node', 'deno', 'workerd'] as const;
export type EdgeRuntime = (typeof EDGE_RUNTIMES)[number];
export const EDGE_CONTENDERS = ['none', 'one', 'chain3'] as const;
export type EdgeContenderName = (typeof EDGE_CONTENDERS)[number];

/** the built-ins each contender bundles: only those it runs (workerd compiles every bundled module at load) */
const BUNDLED: Record<EdgeContenderName, string[]> = { none: [], one: ['header-rewrite'], chain3: ['rate-limit', 'header-rewrite', 'ab-router'] };
/** the edge hosts' ports, apart from the gateway part's (P) */
const EDGE_PORT: Record<EdgeRuntime, number> = { node: 18386, deno: 18387, workerd: 18388 };
const LONG_MS = 3600_000;

export interface EdgeSample {
  rps: Record<number, number>;
  p50: Record<number, number>;
  p99: Record<number, number>;
  cpuPer1k: Record<number, number>;
  rss: number;
  failed: number;
  /** the processes measured (the serving one and any children), as `pid:comm` */
  procs: string;
}

interface Prepared {
  dir: string;
  nodeBundle: string;
  denoDir: string;
  /** per contender: its snapshot file, its prepared dir (Node, Deno), its workerd config */
  byContender: Map<EdgeContenderName, { snapshot: string; plugins: string; workerdConfig?: string }>;
}

async function snapshotOf(dir: string, c: EdgeContenderName): Promise<string> {
  const cfg = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(cfg, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(cfg, 'bench.yaml'), gatewayMesh(P.origin, P.gateway) + pluginsOf(c, { url: '', sha256: '' }, 'FAIL_CLOSE').yaml);
  const control = spawn(process.execPath, [WEFT_BIN, 'control', '--config', cfg, '--state', state, '--listen', '127.0.0.1', '--xds-port', String(P.xds), '--secure-port', String(P.secure), '--http-port', String(P.http)], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await waitPort(P.secure, '127.0.0.1', 20_000);
    await waitPort(P.http, '127.0.0.1', 20_000);
    const token = execFileSync(process.execPath, [WEFT_BIN, 'token', 'create', '--gateway', 'bench/edge', '--state', state], { encoding: 'utf8' }).trim();
    const snap = await restSnapshot(`http://127.0.0.1:${P.http}`, token, { namespace: 'bench', name: 'edge' }, {});
    const ecds = JSON.stringify(snap.responses.extension_configs ?? {});
    for (const name of BUNDLED[c]) if (!ecds.includes(`${name}.wasm`)) throw new Error(`edge ${c}: the snapshot names no ${name} plugin: ${ecds.slice(0, 400)}`);
    const file = join(dir, 'snapshot.json');
    writeFileSync(file, JSON.stringify(snap));
    return file;
  } finally {
    await stopChild(control);
  }
}

/** snapshots, prepared plugins and bundles for every contender, before any measurement */
export async function prepareEdge(dir: string, builtinDir: string, runtimes: readonly EdgeRuntime[]): Promise<Prepared> {
  mkdirSync(dir, { recursive: true });
  const all = join(dir, 'prepared-all');
  const manifest = await preparePlugins(builtinDir, ['header-rewrite', 'rate-limit', 'ab-router'], all);
  const denoDir = join(dir, 'deno-cache');
  mkdirSync(denoDir, { recursive: true });
  const nodeDir = join(dir, 'node');
  mkdirSync(nodeDir, { recursive: true });
  const nodeBundle = runtimes.includes('node') ? await bundleNodeEntry(nodeDir) : '';
  const byContender: Prepared['byContender'] = new Map();
  for (const c of EDGE_CONTENDERS) {
    process.stderr.write(`edge: preparing ${c}\n`);
    const cdir = join(dir, c);
    const snapshot = await snapshotOf(cdir, c);
    // a prepared dir with only this contender's plugins (manifest + links to the prepared files)
    const plugins = join(cdir, 'prepared');
    mkdirSync(plugins, { recursive: true });
    const mine: PreparedPlugin[] = BUNDLED[c].map((n) => manifest.find((m) => m.name === n)!);
    for (const m of mine) symlinkSync(join(all, m.name), join(plugins, m.name));
    writeFileSync(join(plugins, 'manifest.json'), JSON.stringify({ plugins: mine }));
    const entry: { snapshot: string; plugins: string; workerdConfig?: string } = { snapshot, plugins };
    if (runtimes.includes('workerd')) {
      const wdir = join(cdir, 'workerd');
      mkdirSync(wdir, { recursive: true });
      entry.workerdConfig = await prepareWorkerdBundle({ dir: wdir, snapshotFile: snapshot, preparedDir: all, plugins: mine, port: EDGE_PORT.workerd });
    }
    byContender.set(c, entry);
  }
  return { dir, nodeBundle, denoDir, byContender };
}

async function startEdge(prep: Prepared, rt: EdgeRuntime, c: EdgeContenderName): Promise<EdgeContender> {
  const e = prep.byContender.get(c)!;
  const env: Record<string, string> = { WEFT_SNAPSHOT: e.snapshot };
  if (BUNDLED[c].length) env.WEFT_PLUGINS_DIR = e.plugins;
  const port = EDGE_PORT[rt];
  switch (rt) {
    case 'node':
      return startEdgeNode({ port, dir: join(prep.dir, 'node'), env, timeoutMs: LONG_MS }, prep.nodeBundle);
    case 'deno':
      return startEdgeDeno({ port, dir: prep.dir, env, timeoutMs: LONG_MS, denoDir: prep.denoDir });
    case 'workerd':
      return startEdgeWorkerd({ port, dir: join(prep.dir, c, 'workerd'), env: {}, timeoutMs: LONG_MS, config: e.workerdConfig! });
  }
}

/** the serving process and its descendants (a runtime that forks workers would show here) */
async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  for (const k of kids) out.push(...(await processTree(k)));
  return out;
}

/** one request: the header-rewrite's response header must be there exactly when the contender runs it */
async function checkApplied(url: string, c: EdgeContenderName, when: string): Promise<void> {
  const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  const bench = res.headers.get('x-bench');
  const want = c === 'none' ? null : 'rewritten';
  if (res.status !== 200 || bench !== want) throw new Error(`edge ${c} ${when}: status ${res.status}, x-bench ${JSON.stringify(bench)} (want ${JSON.stringify(want)}), body ${JSON.stringify(body.slice(0, 200))}`);
}

export async function measureEdge(prep: Prepared, rt: EdgeRuntime, c: EdgeContenderName, seconds: number, conns: number[]): Promise<EdgeSample> {
  const e = await startEdge(prep, rt, c);
  try {
    await checkApplied(e.url, c, 'before the run');
    const pids = await processTree(e.pid);
    const procs = (await Promise.all(pids.map(async (p) => `${p}:${(await readFile(`/proc/${p}/comm`, 'utf8').catch(() => '?')).trim()}`))).join(',');
    // warm-up as the gateway part's: JIT, pools, V8's tier-up of each plugin's Wasm
    await wrk(`${e.url}/`, 16, 3);
    const s: EdgeSample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {}, rss: NaN, failed: 0, procs };
    for (const n of conns) {
      const before = await cpuMs(pids);
      const w = await wrk(`${e.url}/`, n, seconds);
      const used = (await cpuMs(pids)) - before;
      s.rps[n] = w.rps;
      s.p50[n] = w.p50us;
      s.p99[n] = w.p99us;
      s.cpuPer1k[n] = used / (w.requests / 1000);
      s.failed += w.errors + w.non2xx;
      if (w.errors || w.non2xx) process.stderr.write(`  edge-${rt}-${c} c=${n}: ${w.errors} socket errors, ${w.non2xx} non-2xx\n`);
    }
    s.rss = await rssMb(pids);
    await checkApplied(e.url, c, 'after the run');
    return s;
  } catch (err) {
    throw new Error(`edge-${rt}-${c}: ${(err as Error).message}\nstderr:\n${e.stderr().slice(-2000)}`);
  } finally {
    await e.stop();
  }
}
