// `node build.mjs --binary`: the single executable (Node's single executable applications, SEA).
// 1. hosts/node/binary/sea-main.ts bundled into ONE small CommonJS file (a SEA main script cannot be
//    ESM nor load other files), with `import.meta.url` replaced by the executable's file URL;
// 2. the program as the npm build made it (<dist>/weft.mjs and <dist>/chunks: the main script
//    extracts and imports it, so each command loads only its own chunks), the built-in plugins
//    (<dist>/plugins: components, prepared glue and core modules) and the SO_ORIGINAL_DST addon
//    packed into one brotli archive (scripts/pack-assets.mjs), an asset;
// 3. `node --experimental-sea-config` makes the blob, and postject injects it into a copy of the node
//    executable. No code cache: the main script is small, and V8 refuses a cache made without the
//    flags the binary runs with (NODE_OPTIONS=--max-semi-space-size=1, deploy/systemd) anyway.
// Output: <dist>/weft-<os>-<arch> (the npm launcher <dist>/weft stays as it is). WEFT_SEA_NODE
// names another node executable to copy (it must be the same Node version as the one running this).
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { collectFiles, packAssets } from './pack-assets.mjs';

const run = promisify(execFile);
// postject looks for this string in the executable and flips its last byte to say "a blob is in"
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// hosts/node/binary/sea-main.ts reads these asset names
const ASSET_ARCHIVE = 'weft-assets.br';
const ASSET_ID = 'weft-assets.id';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = join(ROOT, 'native/original-dst/build/Release/original_dst.node');

/** esbuild options when build.mjs passes none (the binary's test builds from an existing dist) */
async function defaultEsbuildOptions() {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    legalComments: 'none',
    define: { __WEFT_VERSION__: JSON.stringify(pkg.version) },
    // as build.mjs: the plugin toolchain stays out (the binary refuses `weft plugin new|build|test`)
    external: ['componentize-qjs', '@bytecodealliance/*', 'binaryen', 'esbuild'],
  };
}

/**
 * `dist`: a build directory whose plugins/ is built (prepared built-ins); `esbuildOptions`: build.mjs's
 * shared options (define, externals, target). Returns the executable's path.
 */
export async function buildBinary({ dist, esbuildOptions, log = console.log }) {
  esbuildOptions ??= await defaultEsbuildOptions();
  dist = resolve(dist);
  const t0 = Date.now();
  const work = join(dist, 'binary');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const node = process.env.WEFT_SEA_NODE ?? process.execPath;

  // 1. the main script: sets the binary's runtime and imports the extracted program
  const main = join(work, 'weft-sea.cjs');
  await build({
    ...esbuildOptions,
    format: 'cjs',
    splitting: false,
    sourcemap: false,
    entryPoints: [join(ROOT, 'hosts/node/binary/sea-main.ts')],
    absWorkingDir: ROOT,
    outfile: main,
    banner: { js: 'var __weftImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { ...esbuildOptions.define, 'import.meta.url': '__weftImportMetaUrl' },
    // whitespace and syntax only: shorter to parse and to keep in the heap; names stay for stack traces
    minifyWhitespace: true,
    minifySyntax: true,
  });
  // ASCII only, as build.mjs does for the bundle: one non-ASCII character makes V8 keep the whole
  // source as two-byte string
  const src = await readFile(main, 'utf8');
  const ascii = src.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== src) await writeFile(main, ascii);

  // 2. the assets
  const plugins = join(dist, 'plugins');
  if (!existsSync(join(plugins, 'prepared'))) throw new Error(`${plugins}/prepared is missing: build the plugins first (build.mjs without --skip-plugins)`);
  if (!existsSync(join(dist, 'weft.mjs')) || !existsSync(join(dist, 'chunks'))) throw new Error(`${dist}/weft.mjs or ${dist}/chunks is missing: build the bundle first (build.mjs)`);
  const program = [{ path: 'app/weft.mjs', file: join(dist, 'weft.mjs') }, ...(await collectFiles(join(dist, 'chunks'), 'app/chunks', (f) => f.endsWith('.mjs')))];
  const entries = [...program, ...(await collectFiles(plugins, 'plugins', (f) => f.endsWith('.wasm') || f.includes('/prepared/')))];
  if (existsSync(ADDON)) entries.push({ path: 'original_dst.node', file: ADDON });
  else log(`binary: ${ADDON} is not built; transparent capture (--capture iptables) will not work from the binary`);
  const packed = await packAssets(entries);
  await writeFile(join(work, ASSET_ARCHIVE), packed.archive);
  await writeFile(join(work, ASSET_ID), `${packed.id}\n`);

  // 3. blob, then executable
  const blob = join(work, 'sea-prep.blob');
  const config = {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: false,
    assets: { [ASSET_ARCHIVE]: join(work, ASSET_ARCHIVE), [ASSET_ID]: join(work, ASSET_ID) },
  };
  await writeFile(join(work, 'sea-config.json'), `${JSON.stringify(config, null, 1)}\n`);
  await run(node, ['--experimental-sea-config', join(work, 'sea-config.json')]);
  const out = join(dist, `weft-${process.platform}-${process.arch}`);
  await rm(out, { force: true });
  await copyFile(node, out);
  await chmod(out, 0o755);
  const { inject } = createRequire(import.meta.url)('postject');
  // postject prints LIEF warnings about the note sections of node's ELF; they are harmless
  await inject(out, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SENTINEL });
  const size = (await readFile(out)).length;
  log(
    `built ${out} (${(size / 2 ** 20).toFixed(1)} MB: main script ${(ascii.length / 2 ** 20).toFixed(1)} MB, ` +
      `${packed.files} files (program and plugins) ${(packed.rawBytes / 2 ** 20).toFixed(1)} MB packed into ${(packed.archive.length / 2 ** 20).toFixed(2)} MB; ${Date.now() - t0} ms)`,
  );
  return out;
}
