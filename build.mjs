// Builds Weft: generates static protobuf code, then bundles the Node host into one file with a
// `weft` bin (dist/weft.mjs). Usage: node build.mjs [--skip-protos]
import { build } from 'esbuild';
import { readFile, writeFile, chmod } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('./package.json', import.meta.url), 'utf8'));

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
};

await build({ ...common, entryPoints: { weft: 'hosts/node/main.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' } });
// ASCII only: esbuild escapes non-ASCII in strings but keeps it raw in comments and regular
// expressions, and one such character makes V8 hold the whole 5 MB source as a two-byte string
// (10.7 MB instead of 5.4 in every weft process). \uXXXX means the same in all three places.
const out = await readFile('dist/weft.mjs', 'utf8');
const ascii = out.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
if (ascii !== out) await writeFile('dist/weft.mjs', ascii);
await chmod('dist/weft.mjs', 0o755);
console.log(`built dist/weft.mjs (weft ${pkg.version})`);
