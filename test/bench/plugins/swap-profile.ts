/**
 * Where a new component's swap goes, step by step (issue 5: "a swap under 200 ms"). In one warm
 * process, like runSwapRole: a first plugin loaded (the runtime's code, jco's child warm), then
 * `--times` components never seen (a small filter rebuilt with one constant changed: the user's
 * edit; `--no-shape-cache` for the path before shape-cache.ts), each timed through the loader's steps:
 * fetch + sha256, the child's transpile round trip, reading the prepared entry, metering, compiling,
 * importing the glue, each instance, the warm-up call. Prints one table (ms per step, medians).
 *
 *   node build.mjs ... && npx esbuild test/bench/plugins/swap-profile.ts --bundle --platform=node \
 *     --format=esm --packages=external --outfile=.tmp/swap/profile.mjs && \
 *   node --expose-gc .tmp/swap/profile.mjs --builtin-dir .tmp/dist-swap/plugins [--times 5] [--no-shape-cache]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createNodePluginLoader } from '../../../hosts/node/plugins/loader.ts';
import { LoadedPlugin } from '../../../core/plugin/loaded-plugin.ts';
import { newStats } from '../../../core/plugin/instance-pool.ts';
import { SharedKv } from '../../../core/plugin/host-imports.ts';
import { binding, rebuiltGuest, SPECS } from './micro.ts';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const builtinDir = arg('builtin-dir', 'dist/plugins');
const times = Number(arg('times', '5'));
const tmp = mkdtempSync(join(tmpdir(), 'swap-profile-'));
const clock = { monotonic: () => performance.now() };

/** step name -> ms, for the current load; the loader's onStep hook fills it */
let steps: Record<string, number> = {};
const loader = createNodePluginLoader({ builtinDir, cacheDir: join(tmp, 'cache'), shapeCache: !process.argv.includes('--no-shape-cache'), onStep: (name, ms) => (steps[name] = (steps[name] ?? 0) + ms) });

async function one(url: string, config: unknown): Promise<Record<string, number>> {
  steps = {};
  const t0 = performance.now();
  const compiled = await loader.load(binding('p', url, 'http-filter', config));
  const t1 = performance.now();
  const v = await LoadedPlugin.load(binding('p', url, 'http-filter', config), compiled, { clock, kv: new SharedKv(clock), stats: newStats(), fuel: 4_750_000, defer: (f) => setTimeout(f, 0) });
  const t2 = performance.now();
  if (!v.phases.requestHeaders) throw new Error('no request phase');
  return { ...steps, 'loader total': t1 - t0, 'instances + wanted-phases': t2 - t1, total: t2 - t0 };
}

const cfg = SPECS['header-rewrite'].config;
// warm: the runtime's code and the first compile (not what a swap pays)
await one('file:///builtin/header-rewrite.wasm', cfg);
const rows: Record<string, number[]> = {};
for (let i = 1; i <= times; i++) {
  // the user's edit: the same filter rebuilt with another constant (a sha256 never seen)
  const file = join(tmp, `rebuilt-${i}.wasm`);
  writeFileSync(file, await rebuiltGuest(`profile-${process.pid}-${i}`));
  const r = await one(pathToFileURL(file).href, { version: i });
  for (const [k, v] of Object.entries(r)) (rows[k] ??= []).push(v);
  console.error(`${i}: ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| step | median ms | each |\n| --- | ---: | --- |');
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${med(v).toFixed(1)} | ${v.map((x) => x.toFixed(0)).join(', ')} |`);
(globalThis as { gc?: () => void }).gc?.();
console.log(`\nRSS after ${times} swaps: ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MB (this process; jco's child not counted)`);
process.exit(0);
