/**
 * What each runtime's deploy directory holds besides the plugins (plugins.ts) and the snapshot:
 * the bundled worker/app (esbuild from the edge host's entry point) and the runtime's own config.
 *
 * - workerd: `worker.js` (browser/ESM platform, no nodejs_compat: a generated entry that imports
 *   edgeWorker, the snapshot as a JSON module and each plugin's glue and core modules, the latter as
 *   Wasm module imports left external), `config.capnp` (`workerd serve config.capnp`) and
 *   `wrangler.toml` (Cloudflare);
 * - deno: `app.mjs` (hosts/edge/entry/deno.ts bundled; node: imports stay Deno's) and `main.mjs`,
 *   which points the app at the files beside it, and `deno.json` (`deno task start`);
 * - node: `edge-node.mjs` (hosts/edge/entry/node.ts bundled, @hono/node-server inside) and the start
 *   script `start.mjs` (`node start.mjs`).
 * Settings baked in (snapshot and plugin paths, polling URL/labels/token) are defaults the
 * environment overrides.
 */
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreparedManifestEntry } from '../../edge/prepared-dir.ts';
import type { EdgeConfigMode } from './config-mode.ts';
import { loadEsbuild } from './sources.ts';

export type EdgeTarget = 'workerd' | 'deno' | 'node';
export const EDGE_TARGETS: readonly EdgeTarget[] = ['workerd', 'deno', 'node'];
/** Pinned, so behaviour does not drift with the installed workerd (the tests use the same date). */
export const WORKERD_COMPAT_DATE = '2025-09-01';

export interface TargetInput {
  root: string;
  out: string;
  mode: EdgeConfigMode;
  plugins: readonly PreparedManifestEntry[];
  port: number;
}

const q = (s: string) => JSON.stringify(s);

function pollingEnv(mode: EdgeConfigMode): Record<string, string> {
  if (mode.kind !== 'control') return {};
  const labels = Object.entries(mode.labels).map(([k, v]) => `${k}=${v}`).join(',');
  return { WEFT_CONTROL_URL: mode.url, WEFT_TOKEN: mode.token, ...(labels ? { WEFT_LABELS: labels } : {}), ...(mode.pollMs ? { WEFT_POLL_MS: String(mode.pollMs) } : {}) };
}

/** A file that may hold the join token: readable by its owner only. */
async function writeSecret(file: string, text: string, secret: boolean): Promise<void> {
  await writeFile(file, text, secret ? { mode: 0o600 } : {});
  if (secret) await chmod(file, 0o600);
}

// ---- workerd

export async function buildWorkerd(i: TargetInput): Promise<string[]> {
  const { build } = await loadEsbuild();
  const lines = [`import { edgeWorker } from ${q(join(i.root, 'hosts/edge/entry/workerd.ts'))};`];
  if (i.mode.kind === 'snapshot') lines.push(`import snapshot from "./snapshot.json";`);
  const items: string[] = [];
  const wasm: string[] = [];
  i.plugins.forEach((p, n) => {
    lines.push(`import * as glue${n} from ${q(`./plugins/${p.name}/glue.mjs`)};`);
    const mods = p.modules.map((m, j) => {
      const path = `plugins/${p.name}/${m}`;
      lines.push(`import m${n}_${j} from ${q(`./${path}`)};`);
      wasm.push(`    (name = ${q(path)}, wasm = embed ${q(path)}),`);
      return `${q(m)}: m${n}_${j}`;
    });
    items.push(`  { name: ${q(p.name)}, sha256: ${q(p.sha256)}, kind: ${q(p.kind)}, fuelExport: ${q(p.fuelExport)}, memoryMaxBytes: ${p.memoryMaxBytes}, instantiate: glue${n}.instantiate, modules: { ${mods.join(', ')} } },`);
  });
  lines.push(`export default edgeWorker({ ${i.mode.kind === 'snapshot' ? 'snapshot, ' : ''}plugins: [\n${items.join('\n')}\n] });`);
  const entry = join(i.out, '.entry.mjs');
  await writeFile(entry, `${lines.join('\n')}\n`);
  try {
    await build({
      entryPoints: [entry],
      outfile: join(i.out, 'worker.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['workerd', 'worker', 'browser'],
      // core modules are Wasm module imports: workerd compiles them when the worker loads
      external: ['*.wasm'],
      legalComments: 'none',
      logLevel: 'silent',
    });
  } finally {
    await rm(entry, { force: true });
  }
  const env = pollingEnv(i.mode);
  const bindings = Object.entries(env).map(([k, v]) => `    (name = ${q(k)}, text = ${q(v)}),`);
  const capnp = `# workerd config for this Weft edge deploy (weft edge build): workerd serve config.capnp
# Listens on *:${i.port}; another address: workerd serve config.capnp --socket-addr http=127.0.0.1:9090
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .weftEdge),
    # outbound fetch to upstreams: workerd's default network refuses private and loopback
    # addresses, and mesh endpoints usually are private
    (name = "net", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [ (name = "http", address = ${q(`*:${i.port}`)}, http = (), service = "main") ],
);

const weftEdge :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
${wasm.join('\n')}
  ],
  compatibilityDate = ${q(WORKERD_COMPAT_DATE)},
  globalOutbound = "net",
  bindings = [
${bindings.join('\n')}
  ],
);
`;
  await writeSecret(join(i.out, 'config.capnp'), capnp, i.mode.kind === 'control');
  const vars = Object.entries(env).filter(([k]) => k !== 'WEFT_TOKEN');
  const wrangler = `# Cloudflare Worker for this Weft edge deploy (weft edge build): wrangler deploy
name = "weft-edge"
main = "worker.js"
# no nodejs_compat: the edge host uses web APIs only
compatibility_date = ${q(WORKERD_COMPAT_DATE)}

# the plugins' core modules are imported as compiled Wasm modules (workerd cannot compile at run time)
[[rules]]
type = "CompiledWasm"
globs = ["**/*.wasm"]
fallthrough = true
${vars.length ? `\n[vars]\n${vars.map(([k, v]) => `${k} = ${q(v)}`).join('\n')}\n# the token is a secret: wrangler secret put WEFT_TOKEN\n` : ''}`;
  await writeFile(join(i.out, 'wrangler.toml'), wrangler);
  return ['worker.js', 'config.capnp', 'wrangler.toml'];
}

// ---- deno and node: the entry bundled, and a wrapper that sets its defaults

/** The environment defaults a wrapper sets (relative to its own directory) before it loads the app. */
function defaultsSource(i: TargetInput, envGet: string, envSet: string): string {
  const d: string[] = [];
  if (i.mode.kind === 'snapshot') d.push(`if (!${envGet}('WEFT_SNAPSHOT') && !${envGet}('WEFT_CONTROL_URL')) ${envSet}('WEFT_SNAPSHOT', here + 'snapshot.json');`);
  for (const [k, v] of Object.entries(pollingEnv(i.mode))) d.push(`if (!${envGet}(${q(k)})) ${envSet}(${q(k)}, ${q(v)});`);
  if (i.plugins.length) d.push(`if (!${envGet}('WEFT_PLUGINS_DIR')) ${envSet}('WEFT_PLUGINS_DIR', here + 'plugins');`);
  return d.join('\n');
}

export async function buildDeno(i: TargetInput): Promise<string[]> {
  const { build } = await loadEsbuild();
  await build({
    entryPoints: [join(i.root, 'hosts/edge/entry/deno.ts')],
    outfile: join(i.out, 'app.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['deno', 'worker', 'browser'],
    // Deno's Node compatibility serves these (the upstream calls: entry/node-fetch.ts)
    external: ['node:*'],
    legalComments: 'none',
    logLevel: 'silent',
  });
  const main = `// The Weft edge host on Deno (weft edge build): deno serve --port ${i.port} --allow-net --allow-env --allow-read=<this directory> main.mjs
// Points the bundled app (app.mjs) at the files beside it, unless the environment says otherwise.
const here = decodeURIComponent(new URL('.', import.meta.url).pathname);
${defaultsSource(i, 'Deno.env.get', 'Deno.env.set')}
const { default: app } = await import('./app.mjs');
export default app;
`;
  await writeSecret(join(i.out, 'main.mjs'), main, i.mode.kind === 'control');
  const denoJson = {
    '//': 'The Weft edge host on Deno (weft edge build). From this directory: deno task start (README.md).',
    lock: false,
    tasks: { start: `deno serve --port ${i.port} --allow-net --allow-env --allow-read=. main.mjs` },
  };
  await writeFile(join(i.out, 'deno.json'), `${JSON.stringify(denoJson, null, 2)}\n`);
  return ['app.mjs', 'main.mjs', 'deno.json'];
}

export async function buildNode(i: TargetInput): Promise<string[]> {
  const { build } = await loadEsbuild();
  await build({
    entryPoints: [join(i.root, 'hosts/edge/entry/node.ts')],
    outfile: join(i.out, 'edge-node.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // bundled CommonJS needs require in an ES module
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const start = `#!/usr/bin/env node
// The Weft edge host on Node (weft edge build): node start.mjs (PORT, default ${i.port}; HOST, default 0.0.0.0).
// Points the bundled host (edge-node.mjs) at the files beside it, unless the environment says otherwise.
import { fileURLToPath } from 'node:url';
const here = fileURLToPath(new URL('.', import.meta.url));
const env = process.env;
const get = (k) => env[k];
const set = (k, v) => (env[k] = v);
if (!get('PORT')) set('PORT', ${q(String(i.port))});
${defaultsSource(i, 'get', 'set')}
await import('./edge-node.mjs');
`;
  await writeSecret(join(i.out, 'start.mjs'), start, i.mode.kind === 'control');
  await chmod(join(i.out, 'start.mjs'), i.mode.kind === 'control' ? 0o700 : 0o755);
  return ['edge-node.mjs', 'start.mjs'];
}
