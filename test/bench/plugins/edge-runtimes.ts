/**
 * Runs the in-process edge measurements (edge-micro.ts) on each runtime, each plugin in a fresh
 * process: Node (this bench script again, role `edge-micro`), Deno (edge-micro-deno.ts from the
 * sources) and workerd (edge-micro-worker.ts bundled with one plugin's glue and Wasm modules).
 * Memory per instance: Node and Deno read their own RSS (after gc); workerd's is read here from
 * /proc around the `grow` request (with --expose-gc in its V8 flags, gc() before each reading).
 */
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { build } from 'esbuild';
import { loadPreparedDir } from '../../../hosts/edge/prepared-dir.ts';
import { ROOT, WORKERD_COMPAT_DATE, freePort, start } from '../../runtime/harness.ts';
import type { PreparedPlugin } from '../../runtime/plugins/driver.ts';
import { rssMb, waitPort } from '../lib/load.ts';
import { memorySteps, timeEdgeCalls, type EdgeMicroResult } from './edge-micro.ts';
import { childRole } from './micro.ts';
import type { Builtin } from './specs.ts';

const BIN = join(ROOT, 'node_modules/.bin');
const q = (s: string) => JSON.stringify(s);

export interface EdgeMicroRow extends EdgeMicroResult {
  runtime: string;
  /** reading and compiling the prepared plugin (Node, Deno: at start; workerd: when the worker loads, not seen here), ms */
  compileMs: number;
  instMb: number;
  /** whether gc() ran before the memory readings */
  gc: boolean;
}

export interface MicroOptions {
  preparedDir: string;
  plugin: Builtin;
  calls: number;
  batch: number;
  extra: number;
}

/** --role edge-micro (in a fresh Node process): as the edge host's Node entry loads plugins */
export async function runEdgeMicroNodeRole(o: MicroOptions & { mode: string }): Promise<unknown> {
  // QuickJS plugins use extended-const, behind a flag on Node 20 (hosts/edge/entry/node.ts does the same)
  setFlagsFromString('--experimental-wasm-extended-const');
  const now = () => performance.now();
  const t0 = now();
  const manifest = JSON.parse(await readFile(join(o.preparedDir, 'manifest.json'), 'utf8')) as { plugins: PreparedPlugin[] };
  if (!manifest.plugins.some((p) => p.name === o.plugin)) throw new Error(`${o.plugin} is not prepared in ${o.preparedDir}`);
  const plugins = await loadPreparedDir(o.preparedDir, { readText: (p) => readFile(p, 'utf8'), readBytes: async (p) => new Uint8Array(await readFile(p)), importFile: (p) => import(/* @vite-ignore */ `file://${p}`) });
  const compileMs = now() - t0;
  if (o.mode === 'time') return { runtime: `node ${process.version}`, compileMs, ...(await timeEdgeCalls(plugins, { plugin: o.plugin, calls: o.calls, batch: o.batch, now, perCall: true })) };
  const gc = (globalThis as { gc?: () => void }).gc;
  const m = memorySteps(plugins, o.plugin);
  await m.base();
  gc?.();
  const before = process.memoryUsage().rss;
  const instances = await m.grow(o.extra);
  gc?.();
  return { instMb: (process.memoryUsage().rss - before) / instances / (1024 * 1024), gc: !!gc };
}

async function inNode(o: MicroOptions): Promise<EdgeMicroRow> {
  const args = ['--role', 'edge-micro', '--dir', o.preparedDir, '--plugin', o.plugin, '--calls', String(o.calls), '--batch', String(o.batch), '--extra', String(o.extra)];
  const t = await childRole<EdgeMicroResult & { runtime: string; compileMs: number }>([...args, '--mode', 'time']);
  const m = await childRole<{ instMb: number; gc: boolean }>([...args, '--mode', 'memory']);
  return { ...t, instMb: m.instMb, gc: m.gc };
}

async function denoJson<T>(o: MicroOptions, mode: string, denoDir: string): Promise<T> {
  const args = ['run', '--v8-flags=--expose-gc', '--no-prompt', '--no-remote', '--cached-only', '--config', join(ROOT, 'test/runtime/deno/deno.json'), '--allow-read', join(ROOT, 'test/bench/plugins/edge-micro-deno.ts'), o.preparedDir, o.plugin, mode, String(o.calls), String(o.batch), String(o.extra)];
  const r = await start(join(BIN, 'deno'), args, { cwd: ROOT, env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1' }, timeoutMs: 300_000 }).done;
  if (r.code !== 0) throw new Error(`deno edge-micro ${o.plugin} ${mode} exited with ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as T;
}

async function inDeno(o: MicroOptions, denoDir: string): Promise<EdgeMicroRow> {
  const t = await denoJson<EdgeMicroResult & { runtime: string; compileMs: number }>(o, 'time', denoDir);
  const m = await denoJson<{ instMb: number; gc: boolean }>(o, 'memory', denoDir);
  return { ...t, instMb: m.instMb, gc: m.gc };
}

/** a workerd bundle serving microWorker over one prepared plugin; returns its config file */
async function workerdBundle(dir: string, o: MicroOptions, port: number): Promise<string> {
  const manifest = JSON.parse(await readFile(join(o.preparedDir, 'manifest.json'), 'utf8')) as { plugins: PreparedPlugin[] };
  const p = manifest.plugins.find((x) => x.name === o.plugin);
  if (!p) throw new Error(`${o.plugin} is not prepared in ${o.preparedDir}`);
  await mkdir(dir, { recursive: true });
  // workerd embeds files by paths relative to its config: the plugin's files go beside it
  await cp(join(o.preparedDir, p.name), join(dir, p.name), { recursive: true });
  const lines = [`import { microWorker } from ${q(join(ROOT, 'test/bench/plugins/edge-micro-worker.ts'))};`, `import * as glue from ${q(`./${p.name}/glue.mjs`)};`];
  const mods: string[] = [];
  const wasm: string[] = [];
  p.modules.forEach((n, j) => {
    lines.push(`import m${j} from ${q(`./${p.name}/${n}`)};`);
    mods.push(`${q(n)}: m${j}`);
    wasm.push(`    (name = ${q(`${p.name}/${n}`)}, wasm = embed ${q(`${p.name}/${n}`)}),`);
  });
  lines.push(`export default microWorker([{ name: ${q(p.name)}, sha256: ${q(p.sha256)}, kind: ${q(p.kind)}, fuelExport: ${q(p.fuelExport)}, memoryMaxBytes: ${p.memoryMaxBytes}, instantiate: glue.instantiate, modules: { ${mods.join(', ')} } }]);`);
  await writeFile(join(dir, 'entry.mjs'), lines.join('\n') + '\n');
  await build({ entryPoints: [join(dir, 'entry.mjs')], outfile: join(dir, 'worker.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'], logLevel: 'silent' });
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .microWorker) ],
  sockets = [ (name = "http", address = ${q(`127.0.0.1:${port}`)}, http = (), service = "main") ],
  # gc() for the memory readings (edge-micro-worker.ts)
  v8Flags = ["--expose-gc"],
);

const microWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
${wasm.join('\n')}
  ],
  compatibilityDate = ${q(WORKERD_COMPAT_DATE)},
);
`;
  const file = join(dir, 'config.capnp');
  await writeFile(file, config);
  return file;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body}`);
  return JSON.parse(body) as T;
}

/** one fresh workerd for `fn`; resolves with fn's result and workerd's start-to-listening time */
async function withWorkerd<T>(dir: string, o: MicroOptions, fn: (base: string, pid: number) => Promise<T>): Promise<{ value: T; startMs: number }> {
  const port = await freePort();
  const config = await workerdBundle(dir, o, port);
  const t0 = performance.now();
  const p = start(join(BIN, 'workerd'), ['serve', config], { cwd: dir, timeoutMs: 300_000 });
  try {
    await waitPort(port, '127.0.0.1', 30_000);
    const startMs = performance.now() - t0;
    return { value: await fn(`http://127.0.0.1:${port}`, p.child.pid!), startMs };
  } catch (e) {
    throw new Error(`workerd edge-micro ${o.plugin}: ${(e as Error).message}\nstderr:\n${p.stderr().slice(-2000)}`);
  } finally {
    p.child.kill('SIGKILL');
    await p.done;
  }
}

async function inWorkerd(o: MicroOptions, dir: string): Promise<EdgeMicroRow> {
  const t = await withWorkerd(join(dir, `${o.plugin}-time`), o, (base) => getJson<EdgeMicroResult & { runtime: string }>(`${base}/time?plugin=${o.plugin}&calls=${o.calls}&batch=${o.batch}`));
  const m = await withWorkerd(join(dir, `${o.plugin}-memory`), o, async (base, pid) => {
    const { gc } = await getJson<{ gc: boolean }>(`${base}/memory/base?plugin=${o.plugin}`);
    await new Promise((r) => setTimeout(r, 200));
    const before = await rssMb([pid]);
    const { instances } = await getJson<{ instances: number }>(`${base}/memory/grow?extra=${o.extra}`);
    await new Promise((r) => setTimeout(r, 200));
    return { mb: ((await rssMb([pid])) - before) / instances, gc };
  });
  // workerd compiles the Wasm modules while it loads the worker, before it listens: the nearest
  // figure to Node's and Deno's compile time is its start-to-listening time (with the isolate's start)
  return { ...t.value, compileMs: t.startMs, instMb: m.value.mb, gc: m.value.gc };
}

export async function edgeMicro(runtime: 'node' | 'deno' | 'workerd', o: MicroOptions, scratch: { denoDir: string; dir: string }): Promise<EdgeMicroRow> {
  if (runtime === 'node') return inNode(o);
  if (runtime === 'deno') return inDeno(o, scratch.denoDir);
  return inWorkerd(o, scratch.dir);
}
