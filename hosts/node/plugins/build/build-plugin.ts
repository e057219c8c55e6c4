/**
 * `weft plugin build`, `weft plugin test` and build.mjs's built-in plugins: a plugin directory
 * (weft-plugin.json + plugin.ts) -> one WebAssembly component, written to <dir>/dist/<name>.wasm
 * unless told otherwise.
 *
 * Componentizing takes seconds (a minute with StarlingMonkey) while bundling takes milliseconds, so
 * with a cache file the build is skipped when the bundle, world, backend and WIT are what made the
 * component already on disk.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { bundlePlugin } from './bundle.ts';
import { componentizeModule, type PluginBackend } from './componentize.ts';
import { readManifest, type PluginKindName } from './manifest.ts';
import { pluginWitDir } from './paths.ts';
import { checkWorldImports } from './world-imports.ts';
import { bundleNative } from './native.ts';

export interface BuildPluginOptions {
  dir: string;
  /** 'native': a plain ES module, no sandbox (native.ts; benchmarks and development only) */
  backend?: PluginBackend | 'native';
  outFile?: string;
  /** a JSON file remembering what the last build was made from; absent: always build */
  cacheFile?: string;
  /** build even when the cache says the component is current (the cache is still written) */
  force?: boolean;
  onProgress?: (line: string) => void;
}

export interface BuiltPlugin {
  name: string;
  bytes: Uint8Array;
  sha256: string;
  size: number;
  ms: number;
  world: PluginKindName;
  outFile: string;
  /** true when the component on disk was current and reused */
  cached: boolean;
}

interface CacheEntry {
  key: string;
  outFile: string;
  sha256: string;
}

const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

export async function buildPlugin({ dir, backend = 'quickjs', outFile, cacheFile, force, onProgress }: BuildPluginOptions): Promise<BuiltPlugin> {
  const started = performance.now();
  const root = resolve(dir);
  const manifest = await readManifest(root);
  const progress = onProgress ?? (() => {});
  const out = resolve(outFile ?? join(root, 'dist', `${manifest.name}.${backend === 'native' ? 'mjs' : 'wasm'}`));
  progress(`bundling ${join(root, 'plugin.ts')}...`);
  const js = await bundlePlugin({ entry: join(root, 'plugin.ts') });
  const wrongImports = checkWorldImports(js, manifest.kind);
  if (wrongImports.length > 0) throw new Error(`${join(root, 'plugin.ts')} ${wrongImports.join('; ')}`);
  const wit = await readFile(join(pluginWitDir(), 'weft-plugin.wit'), 'utf8');
  const key = sha256Hex(`${manifest.kind}\0${backend}\0${wit}\0${js}`);
  const done = (bytes: Uint8Array, sha256: string, cached: boolean): BuiltPlugin => ({
    name: manifest.name,
    bytes,
    sha256,
    size: bytes.byteLength,
    ms: Math.round(performance.now() - started),
    world: manifest.kind,
    outFile: out,
    cached,
  });

  if (cacheFile && !force) {
    const hit = await readCached(cacheFile, key, out);
    if (hit) {
      progress('unchanged since the last build: reusing it');
      return done(hit.bytes, hit.sha256, true);
    }
  }
  let bytes: Uint8Array;
  if (backend === 'native') {
    progress('bundling as a native module (no sandbox)...');
    bytes = new TextEncoder().encode(await bundleNative(join(root, 'plugin.ts')));
  } else {
    progress(`componentizing (${backend}, world ${manifest.kind})...`);
    bytes = await componentizeModule(js, manifest.kind, backend);
  }
  const sha256 = sha256Hex(bytes);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, bytes);
  if (cacheFile) {
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(cacheFile, JSON.stringify({ key, outFile: out, sha256 } satisfies CacheEntry));
  }
  return done(bytes, sha256, false);
}

async function readCached(cacheFile: string, key: string, out: string): Promise<{ bytes: Uint8Array; sha256: string } | undefined> {
  try {
    const entry = JSON.parse(await readFile(cacheFile, 'utf8')) as CacheEntry;
    if (entry.key !== key || entry.outFile !== out) return undefined;
    const bytes = new Uint8Array(await readFile(out));
    // the file may have been replaced by hand since
    return sha256Hex(bytes) === entry.sha256 ? { bytes, sha256: entry.sha256 } : undefined;
  } catch {
    return undefined;
  }
}

/** where `weft plugin build` and `weft plugin test` remember a plugin directory's last build */
export function defaultCacheFile(dir: string, backend: PluginBackend): string {
  return join(resolve(dir), 'dist', `.build-cache-${backend}.json`);
}
