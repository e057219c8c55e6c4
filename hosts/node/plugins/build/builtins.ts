/**
 * build.mjs's plugin step: every plugins/builtin/<name>/ with a weft-plugin.json becomes
 * <outDir>/<name>.wasm (what `file:///builtin/<name>.wasm` names), skipping those whose bundle is
 * unchanged since the last build (a cache file per plugin), so a normal build stays fast.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPlugin, type BuiltPlugin } from './build-plugin.ts';

export interface BuiltinsOptions {
  srcDir: string;
  outDir: string;
  cacheDir: string;
  log: (line: string) => void;
}

export async function buildBuiltinPlugins({ srcDir, outDir, cacheDir, log }: BuiltinsOptions): Promise<BuiltPlugin[]> {
  const entries = existsSync(srcDir) ? await readdir(srcDir, { withFileTypes: true }) : [];
  const dirs = entries.filter((e) => e.isDirectory() && existsSync(join(srcDir, e.name, 'weft-plugin.json'))).map((e) => e.name).sort();
  const built: BuiltPlugin[] = [];
  for (const name of dirs) {
    const dir = join(srcDir, name);
    // the manifest's name decides the file; the directory name only keys the cache
    const r = await buildPlugin({ dir, outFile: join(outDir, `${name}.wasm`), cacheFile: join(cacheDir, `${name}.json`) });
    if (r.name !== name) throw new Error(`${dir}/weft-plugin.json names "${r.name}": a built-in's name must be its directory's`);
    log(`plugin ${r.name.padEnd(16)} ${(r.size / 1024 / 1024).toFixed(2)} MB  sha256 ${r.sha256}${r.cached ? '  (unchanged)' : `  (${r.ms} ms)`}`);
    built.push(r);
  }
  return built;
}
