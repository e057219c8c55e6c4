// Builds Weft: generates static protobuf code, then bundles the Node host (dist/weft.mjs, its
// per-command chunks in dist/chunks/, and the `weft` launcher dist/weft), then the built-in plugins
// (dist/plugins/<name>.wasm) with the WIT and SDK that `weft plugin` uses (dist/plugins/{wit,sdk}).
// With --binary, then the single executable <dist>/weft-<os>-<arch> (scripts/build-binary.mjs).
// Usage: node build.mjs [--skip-protos] [--skip-plugins] [--binary]
import { build } from 'esbuild';
import { readFile, writeFile, chmod, rm, cp, readdir } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('./package.json', import.meta.url), 'utf8'));
// WEFT_DIST: build somewhere other than dist/ (parallel work trees, benches of two builds);
// test/support/weft-child.ts reads the same variable.
const DIST = process.env.WEFT_DIST ?? 'dist';

if (!process.argv.includes('--skip-protos')) {
  const { generateProtos } = await import('./scripts/gen-protos.mjs');
  await generateProtos();
}

// ESM output with CommonJS dependencies inside (grpc-js) needs a real `require`.
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __weftCreateRequire } from 'node:module';",
  'const require = __weftCreateRequire(import.meta.url);',
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  banner: { js: banner },
  define: { __WEFT_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  legalComments: 'none',
  // V8 keeps the source text of every module it loads: without indentation and line breaks the
  // chunks `weft up` loads hold 1.6 MB less (docs/benchmarks.md, "weft up memory"); names stay, and
  // the linked source maps give original positions (node --enable-source-maps)
  minifyWhitespace: true,
  // The plugin toolchain and runtime stay in node_modules: native bindings (componentize-qjs),
  // Wasm files loaded beside their JS (jco's transpiler, binaryen), and only `weft plugin` and a
  // proxy that loads a plugin pay for them, when they run.
  external: ['componentize-qjs', '@bytecodealliance/*', 'binaryen', 'esbuild'],
  plugins: [unusedDependencyParts()],
};

// @grpc/grpc-js as the bundle sees it: a module that loads grpc-js (its CommonJS, bundled) the first
// time a client, server or credentials object is made. Importing grpc-js runs all of its module code
// (resolvers, balancers, channelz: +2.1 MB of heap, +5 MB RSS), and `weft up`'s proxies and the CA
// service import it for Metadata and status codes only, which come from two small files of it here
// (the same modules grpc-js itself uses, so `instanceof Metadata` holds). A name Weft starts to use
// that is not below fails the build ("No matching export").
const GRPC_JS_FACADE = `
import { Metadata } from '@grpc/grpc-js/build/src/metadata.js';
import { Status } from '@grpc/grpc-js/build/src/constants.js';
let real;
const grpc = () => (real ??= require('@grpc/grpc-js'));
export { Metadata, Status as status };
export function Server(...a) { return new (grpc().Server)(...a); }
export function Client(...a) { return new (grpc().Client)(...a); }
export function makeClientConstructor(...a) { return grpc().makeClientConstructor(...a); }
export const ServerCredentials = { createInsecure: (...a) => grpc().ServerCredentials.createInsecure(...a), createSsl: (...a) => grpc().ServerCredentials.createSsl(...a) };
export const credentials = { createInsecure: (...a) => grpc().credentials.createInsecure(...a), createSsl: (...a) => grpc().credentials.createSsl(...a) };
`;

// Parts of dependencies Weft never runs, left out of the bundle: every process that loads a chunk
// keeps its source text in the heap (docs/benchmarks.md, "weft up memory").
// - @grpc/proto-loader (with lodash.camelcase and protobufjs's .proto parser): grpc-js requires it only
//   to describe its channelz and ORCA services (channelz.js, orca.js), which Weft never registers.
// - zod's locales but English: `import * as z from 'zod'` keeps every export, `z.locales` (and
//   `z.core.locales`) with their 40 languages among them; zod's default stays English
//   (classic/schemas.js imports locales/en.js itself).
function unusedDependencyParts() {
  return {
    name: 'weft-unused-dependency-parts',
    setup(b) {
      b.onResolve({ filter: /^@grpc\/proto-loader$/ }, () => ({ path: 'proto-loader', namespace: 'weft-stub' }));
      // Weft's own modules get grpc-js through the facade; the facade itself gets the real package
      b.onResolve({ filter: /^@grpc\/grpc-js$/ }, (a) => (a.namespace === 'weft-stub' ? undefined : { path: 'grpc-js', namespace: 'weft-stub' }));
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
        /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(a.importer) ? { path: 'zod-locales', namespace: 'weft-stub', pluginData: a.resolveDir } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'weft-stub' }, (a) =>
        a.path === 'grpc-js'
          ? { contents: GRPC_JS_FACADE, loader: 'js', resolveDir: import.meta.dirname }
          : a.path === 'proto-loader'
          ? { contents: "export function loadSync() { throw new Error('@grpc/proto-loader is not in the weft bundle (channelz and ORCA are never enabled)'); }", loader: 'js' }
          : { contents: "export { default as en } from '../locales/en.js';", loader: 'js', resolveDir: a.pluginData },
      );
    },
  };
}

// Code splitting: each subcommand's modules (imported inside its action) go into chunks under
// dist/chunks/ that load when the command runs. V8 keeps the source text of every module it loads,
// so one 6 MB file cost every process 6 MB of heap whatever it ran; `weft node` now holds only its
// own code (no control plane, L7, YAML or Envoy protobuf types). dist/weft.mjs stays the entry.
// chunks of earlier builds would pile up (their names carry a content hash)
await rm(`${DIST}/chunks`, { recursive: true, force: true });
const result = await build({
  ...common,
  entryPoints: { weft: 'hosts/node/main.ts' },
  outdir: DIST,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
});
// ASCII only: esbuild escapes non-ASCII in strings but keeps it raw in comments and regular
// expressions, and one such character makes V8 hold the whole source as a two-byte string (twice
// the bytes, in every weft process). \uXXXX means the same in all three places.
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs'))) {
  const out = await readFile(file, 'utf8');
  const ascii = out.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== out) await writeFile(file, ascii);
}
await chmod(`${DIST}/weft.mjs`, 0o755);
// The `weft` bin: a shell launcher that gives `weft node` and `weft up` V8's young generation cap, which can only
// be set at process start (v8.setFlagsFromString after start has no effect on it): semi-spaces of
// at most 1 MB instead of growing to 16 MB under load (about -6 MB RSS at 1,000 req/s, no CPU cost
// measured; docs/benchmarks.md), and one V8 worker thread instead of one per core (-1 MB).
// `exec`, so no extra process stays. WEFT_NODE_V8_FLAGS overrides.
await writeFile(
  `${DIST}/weft`,
  [
    '#!/bin/sh',
    '# weft launcher (build.mjs): V8 flags for `weft node` and `weft up`, then the bundle.',
    'here=$(dirname "$(readlink -f "$0")")',
    'case "$1" in node|up) exec node ${WEFT_NODE_V8_FLAGS---max-semi-space-size=1 --v8-pool-size=1} "$here/weft.mjs" "$@";; esac',
    'exec node "$here/weft.mjs" "$@"',
    '',
  ].join('\n'),
);
await chmod(`${DIST}/weft`, 0o755);
console.log(`built ${DIST}/weft.mjs (weft ${pkg.version})`);

// Plugins: the WIT and the SDK go beside the bundle (an installed weft finds them there first, see
// hosts/node/plugins/build/paths.ts); the built-ins are compiled with the same code as `weft plugin
// build` (bundled here to run from plain Node), each skipped when its bundle is unchanged.
// (only wit/ and sdk/ are replaced: the .wasm files left there are what the cache compares with)
await rm(`${DIST}/plugins/wit`, { recursive: true, force: true });
await rm(`${DIST}/plugins/sdk`, { recursive: true, force: true });
await cp('plugins/wit', `${DIST}/plugins/wit`, { recursive: true });
await cp('plugins/sdk', `${DIST}/plugins/sdk`, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
if (!process.argv.includes('--skip-plugins')) {
  // per DIST: two builds at once (parallel work trees) must not write one file
  const cacheDir = `.tmp/plugin-cache/${DIST.replace(/[^\w.-]/g, '_')}`;
  const toolchain = `${cacheDir}/toolchain.mjs`;
  await build({ ...common, banner: undefined, entryPoints: ['hosts/node/plugins/build/builtins.ts'], outfile: toolchain, sourcemap: false });
  const { buildBuiltinPlugins } = await import(new URL(toolchain, import.meta.url).href);
  const built = await buildBuiltinPlugins({ srcDir: 'plugins/builtin', outDir: `${DIST}/plugins`, cacheDir, log: console.log });
  // a built-in removed from the source tree goes from dist too
  const keep = new Set(built.map((p) => `${p.name}.wasm`));
  for (const f of await readdir(`${DIST}/plugins`)) if (f.endsWith('.wasm') && !keep.has(f)) await rm(`${DIST}/plugins/${f}`);
  // each built-in's prepared form (glue, core modules, metered for the default cap): a proxy that
  // loads a built-in then runs neither jco nor the meter (hosts/node/plugins/runtime/prepared-store.ts)
  const preparer = `${cacheDir}/prepare-builtins.mjs`;
  await build({ ...common, banner: undefined, entryPoints: ['hosts/node/plugins/runtime/prepare-builtins.ts'], outfile: preparer, sourcemap: false });
  const { prepareBuiltins } = await import(new URL(preparer, import.meta.url).href);
  await prepareBuiltins(`${DIST}/plugins`, console.log);
}

// the single executable, with the plugins above inside (README, "Single binary")
if (process.argv.includes('--binary')) {
  const { buildBinary } = await import('./scripts/build-binary.mjs');
  await buildBinary({ dist: DIST, esbuildOptions: common });
}
