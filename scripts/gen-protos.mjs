// Generates static protobuf modules with pbjs/pbts (protobufjs-cli) at build time, so no .proto is
// loaded and no code is generated at run time (workerd forbids `new Function`; design.md 4 and 8).
// Each target is regenerated only when one of its inputs is newer than its output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

const run = promisify(execFile);
const ENVOY_DEPS = 'node_modules/@grpc/grpc-js-xds/deps';

/** Include roots: Weft's own protos, then the protos shipped inside @grpc/grpc-js-xds. */
export const PROTO_INCLUDES = [
  'proto',
  `${ENVOY_DEPS}/envoy-api`,
  `${ENVOY_DEPS}/xds`,
  `${ENVOY_DEPS}/googleapis`,
  `${ENVOY_DEPS}/protoc-gen-validate`,
  'node_modules/protobufjs',
];

/**
 * out: the generated ES module (a .d.ts is written beside it); files: entry protos, resolved
 * against PROTO_INCLUDES.
 */
export const PROTO_TARGETS = [
  {
    out: 'hosts/node/generated/ca-pb.js',
    files: ['istio/ca/ca.proto'],
  },
];

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

async function resolveInput(file) {
  // pbjs carries the well-known types itself.
  if (file.startsWith('google/protobuf/')) return 'scripts/gen-protos.mjs';
  for (const root of PROTO_INCLUDES) {
    if (await mtime(`${root}/${file}`)) return `${root}/${file}`;
  }
  throw new Error(`proto not found in include roots: ${file}`);
}

export async function generateProtos({ force = false } = {}) {
  for (const target of PROTO_TARGETS) {
    const inputs = await Promise.all(target.files.map(resolveInput));
    const newest = Math.max(...(await Promise.all(inputs.map(mtime))), await mtime('scripts/gen-protos.mjs'));
    if (!force && (await mtime(target.out)) > newest && (await mtime(target.out.replace(/\.js$/, '.d.ts')))) continue;
    await mkdir(dirname(target.out), { recursive: true });
    const includeArgs = PROTO_INCLUDES.flatMap((p) => ['-p', p]);
    await run('npx', ['pbjs', '-t', 'static-module', '-w', 'es6', '--no-verify', '--no-delimited', '--no-service', '--force-number', ...includeArgs, '-o', target.out, ...target.files]);
    await run('npx', ['pbts', '--no-comments', '-o', target.out.replace(/\.js$/, '.d.ts'), target.out]);
    console.log(`generated ${target.out}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await generateProtos({ force: process.argv.includes('--force') });
