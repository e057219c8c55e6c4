/**
 * Starts the edge host as child processes on each runtime, for the parity test and the bench:
 * - Node: hosts/edge/entry/node.ts bundled by esbuild (platform node), `node edge-node.mjs`;
 * - Deno: `deno serve` on hosts/edge/entry/deno.ts from the sources (bare imports from
 *   node_modules, test/runtime/deno/deno.json), net/env/read permissions only;
 * - workerd: an entry generated per run that imports edgeWorker, the snapshot as a JSON module and
 *   each prepared plugin's glue and core modules (Wasm module imports: workerd compiles Wasm only
 *   at load), bundled by esbuild, served with a network service that may reach loopback.
 * Each child is bounded in time and tracked by ../harness.ts (killAll in afterAll). A contender is
 * up when its `/healthz/ready` answers 200 (config loaded).
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { PreparedPlugin } from '../plugins/driver.ts';
import { ROOT, WORKERD_COMPAT_DATE, start } from '../harness.ts';

const BIN = join(ROOT, 'node_modules/.bin');

export interface EdgeContender {
  name: string;
  url: string;
  pid: number;
  stderr: () => string;
  stop(): Promise<void>;
}

export interface EdgeRunOptions {
  port: number;
  /** where generated files go */
  dir: string;
  env: Record<string, string>;
  timeoutMs: number;
}

async function waitReady(url: string, what: string, deadline: number, stderr: () => string, exited: () => boolean): Promise<void> {
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`${what} exited before it was ready; stderr:\n${stderr()}`);
    const res = await fetch(`${url}/healthz/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (res?.status === 200) return;
    await res?.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready in time; stderr:\n${stderr()}`);
}

function contender(name: string, cmd: string, args: string[], o: EdgeRunOptions, cwd: string): Promise<EdgeContender> {
  const url = `http://127.0.0.1:${o.port}`;
  const p = start(cmd, args, { cwd, env: o.env, timeoutMs: o.timeoutMs });
  let done = false;
  void p.done.then(() => (done = true));
  const c: EdgeContender = {
    name,
    url,
    pid: p.child.pid ?? 0,
    stderr: p.stderr,
    stop: async () => {
      // SIGTERM first (a profiled Node writes its profile on exit), SIGKILL after 2 s
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 2000);
      await p.done;
      clearTimeout(t);
    },
  };
  return waitReady(url, name, Date.now() + 30_000, p.stderr, () => done).then(
    () => c,
    async (e: unknown) => {
      await c.stop();
      throw e;
    },
  );
}

export async function bundleNodeEntry(dir: string): Promise<string> {
  const outfile = join(dir, 'edge-node.mjs');
  await build({
    entryPoints: [join(ROOT, 'hosts/edge/entry/node.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // bundled CommonJS needs require in an ES module
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'silent',
  });
  return outfile;
}

export async function startEdgeNode(o: EdgeRunOptions, bundle?: string): Promise<EdgeContender> {
  const file = bundle ?? (await bundleNodeEntry(o.dir));
  // EDGE_NODE_FLAGS: e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' (where the edge host's time goes)
  const flags = (process.env.EDGE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  return contender('edge-node', process.execPath, [...flags, file], { ...o, env: { ...o.env, PORT: String(o.port), HOST: '127.0.0.1' } }, o.dir);
}

export async function startEdgeDeno(o: EdgeRunOptions & { denoDir: string }): Promise<EdgeContender> {
  const args = ['serve', '--port', String(o.port), '--host', '127.0.0.1', '--no-prompt', '--no-remote', '--cached-only', '--config', join(ROOT, 'test/runtime/deno/deno.json'), '--allow-net', '--allow-env', '--allow-read', join(ROOT, 'hosts/edge/entry/deno.ts')];
  return contender('edge-deno', join(BIN, 'deno'), args, { ...o, env: { ...o.env, DENO_DIR: o.denoDir, DENO_NO_UPDATE_CHECK: '1' } }, ROOT);
}

const q = (s: string) => JSON.stringify(s);

/**
 * The workerd deploy bundle in `o.dir`: entry.mjs (generated), worker.js (esbuild), config.capnp.
 * `preparedDir` holds the plugins as test/runtime/plugins/prepare.ts writes them (manifest entries given).
 */
export async function prepareWorkerdBundle(o: { dir: string; snapshotFile: string; preparedDir?: string; plugins?: readonly PreparedPlugin[]; port: number }): Promise<string> {
  const lines = [`import { edgeWorker } from ${q(join(ROOT, 'hosts/edge/entry/workerd.ts'))};`, `import snapshot from ${q(o.snapshotFile)};`];
  const items: string[] = [];
  const wasmModules: string[] = [];
  // workerd embeds files by paths relative to its config: the plugins' files go beside it
  for (const p of o.plugins ?? []) await cp(join(o.preparedDir!, p.name), join(o.dir, p.name), { recursive: true });
  (o.plugins ?? []).forEach((p, i) => {
    lines.push(`import * as glue${i} from ${q(`./${p.name}/glue.mjs`)};`);
    const mods: string[] = [];
    p.modules.forEach((n, j) => {
      const path = `${p.name}/${n}`;
      lines.push(`import m${i}_${j} from ${q(`./${path}`)};`);
      mods.push(`${q(n)}: m${i}_${j}`);
      wasmModules.push(`    (name = ${q(path)}, wasm = embed ${q(path)}),`);
    });
    items.push(`  { name: ${q(p.name)}, sha256: ${q(p.sha256)}, kind: ${q(p.kind)}, fuelExport: ${q(p.fuelExport)}, memoryMaxBytes: ${p.memoryMaxBytes}, instantiate: glue${i}.instantiate, modules: { ${mods.join(', ')} } },`);
  });
  lines.push(`export default edgeWorker({ snapshot, plugins: [\n${items.join('\n')}\n] });`);
  await writeFile(join(o.dir, 'entry.mjs'), lines.join('\n') + '\n');
  await build({
    entryPoints: [join(o.dir, 'entry.mjs')],
    outfile: join(o.dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['*.wasm'],
    logLevel: 'silent',
  });
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edgeWorker),
    # outbound fetch: the echo backends are on loopback, which workerd's default network refuses
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = ${q(`127.0.0.1:${o.port}`)}, http = (), service = "main") ],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
${wasmModules.join('\n')}
  ],
  compatibilityDate = ${q(WORKERD_COMPAT_DATE)},
  globalOutbound = "net",
);
`;
  const file = join(o.dir, 'config.capnp');
  await writeFile(file, config);
  return file;
}

export async function startEdgeWorkerd(o: EdgeRunOptions & { config: string }): Promise<EdgeContender> {
  return contender('edge-workerd', join(BIN, 'workerd'), ['serve', o.config], o, o.dir);
}
