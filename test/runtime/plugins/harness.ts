/**
 * Runs the plugin parity driver in real Deno and real workerd over a directory prepare.ts wrote
 * (child processes through ../harness.ts: bounded in time, killed by its killAll).
 *
 * Deno: run-deno.ts from the sources, read permission for that directory only.
 * workerd: an entry generated per run imports each plugin's glue and its core modules as Wasm
 * modules; esbuild bundles it with worker.ts, driver.ts and core, leaving the .wasm imports to
 * workerd, whose config embeds each one as a `wasm` module. No nodejs_compat.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, WORKERD_COMPAT_DATE, fetchFromWorkerd, start } from '../harness.ts';
import type { ParityRun, PreparedPlugin } from './driver.ts';

const HERE = join(ROOT, 'test/runtime/plugins');
const BIN = join(ROOT, 'node_modules/.bin');

function lastJsonLine(stdout: string, what: string): ParityRun {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as ParityRun;
  } catch {
    throw new Error(`${what} printed no JSON result; stdout:\n${stdout}`);
  }
}

export async function runPluginsInDeno(dir: string, denoDir: string, timeoutMs: number): Promise<ParityRun> {
  const args = ['run', '--no-prompt', '--no-remote', '--cached-only', '--config', join(ROOT, 'test/runtime/deno/deno.json'), `--allow-read=${dir}`, join(HERE, 'run-deno.ts'), dir];
  const { code, signal, stdout, stderr } = await start(join(BIN, 'deno'), args, { cwd: ROOT, env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1' }, timeoutMs }).done;
  if (code !== 0) throw new Error(`deno exited with ${code ?? signal}; stderr:\n${stderr}\nstdout:\n${stdout}`);
  return lastJsonLine(stdout, 'deno');
}

const q = (s: string) => JSON.stringify(s);

/** the entry (worker imports, glue, Wasm modules) and the capnp config, written into dir */
async function prepareWorkerd(dir: string, plugins: readonly PreparedPlugin[]): Promise<(address: string) => Promise<string>> {
  const lines = [`import { parityWorker } from ${q(join(HERE, 'worker.ts'))};`];
  const items: string[] = [];
  const wasmModules: string[] = [];
  plugins.forEach((p, i) => {
    lines.push(`import * as glue${i} from ${q(`./${p.name}/glue.mjs`)};`);
    const mods: string[] = [];
    p.modules.forEach((n, j) => {
      const path = `${p.name}/${n}`;
      lines.push(`import m${i}_${j} from ${q(`./${path}`)};`);
      mods.push(`${q(n)}: m${i}_${j}`);
      wasmModules.push(`    (name = ${q(path)}, wasm = embed ${q(path)}),`);
    });
    items.push(`  { manifest: ${JSON.stringify(p)}, instantiate: glue${i}.instantiate, modules: { ${mods.join(', ')} } },`);
  });
  lines.push(`export default parityWorker([\n${items.join('\n')}\n]);`);
  await writeFile(join(dir, 'entry.mjs'), lines.join('\n') + '\n');
  await build({
    entryPoints: [join(dir, 'entry.mjs')],
    outfile: join(dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    // workerd links these: each is a `wasm` module of the config, compiled when the worker loads
    external: ['*.wasm'],
    logLevel: 'silent',
  });
  return async (address) => {
    const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .parityWorker) ],
  sockets = [ (name = "http", address = ${q(address)}, http = (), service = "main") ],
);

const parityWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
${wasmModules.join('\n')}
  ],
  compatibilityDate = ${q(WORKERD_COMPAT_DATE)},
);
`;
    const file = join(dir, 'config.capnp');
    await writeFile(file, config);
    return file;
  };
}

export async function runPluginsInWorkerd(dir: string, plugins: readonly PreparedPlugin[], timeoutMs: number): Promise<ParityRun> {
  const deadline = Date.now() + timeoutMs;
  const configFor = await prepareWorkerd(dir, plugins);
  return fetchFromWorkerd<ParityRun>(dir, configFor, deadline, 'the decisions');
}
