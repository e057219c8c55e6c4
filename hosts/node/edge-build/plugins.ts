/**
 * The plugins an edge deploy bundles: every WasmPlugin binding in its config (the ECDS
 * TypedExtensionConfigs), in its prepared form, written in the layout hosts/edge/prepared-dir.ts
 * reads (Node, Deno) and the workerd entry imports (Wasm module imports):
 *
 *   <out>/plugins/manifest.json        { plugins: [{ name, sha256, kind, fuelExport, memoryMaxBytes, modules }] }
 *   <out>/plugins/<name>/glue.mjs      jco's glue (instantiation async), its inline module moved out
 *   <out>/plugins/<name>/*.wasm        the core modules, metered for the cap
 *
 * The prepared form comes from where the Node loader finds it: the built-ins' `<dist>/plugins/
 * prepared/` (already metered for the default cap), then the writable plugin cache; a component in
 * neither is prepared into the cache by a child process (jco), as a proxy would.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PluginBinding, PluginKind } from '../../../core/plugin/contract.ts';
import { pluginNameOfUrl } from '../../edge/plugins.ts';
import type { PreparedManifestEntry } from '../../edge/prepared-dir.ts';
import { ChildUnavailableError, prepareInChild, prepareInProcess } from '../plugins/runtime/child-transpile.ts';
import { DEFAULT_MEMORY_MAX_MIB, kindOf, meterAll } from '../plugins/runtime/compile-component.ts';
import { checkComponentHeader, checkSha256, fetchComponentBytes } from '../plugins/runtime/fetch-component.ts';
import { defaultPluginCacheDir, ensureCacheDir, readPrepared, type PreparedFiles } from '../plugins/runtime/prepared-store.ts';
import { extractInlineModules } from './inline-modules.ts';

export interface PluginSources {
  /** where file:///builtin/<name>.wasm is read from (`<dist>/plugins`) */
  builtinDir: string;
  /** read-only prepared roots (default `<builtinDir>/prepared`) */
  preparedDirs?: string[];
  /** the writable plugin cache (default: the Node loader's) */
  cacheDir?: string;
  memoryMaxMiB?: number;
  log?: (line: string) => void;
}

async function findOrPrepare(bytes: Uint8Array, sha256: string, o: PluginSources, pages: number): Promise<{ files: PreparedFiles; from: string }> {
  for (const root of o.preparedDirs ?? [join(o.builtinDir, 'prepared')]) {
    const r = await readPrepared(root, sha256, pages);
    if (r.ok) return { files: r.files, from: 'built-in' };
  }
  const cache = o.cacheDir ?? defaultPluginCacheDir();
  await ensureCacheDir(cache);
  const cached = await readPrepared(cache, sha256, pages);
  if (cached.ok) return { files: cached.files, from: 'plugin cache' };
  try {
    await prepareInChild(bytes, sha256, cache);
  } catch (e) {
    if (!(e instanceof ChildUnavailableError)) throw new Error(`cannot transpile the component: ${(e as Error).message}`);
    await prepareInProcess(bytes, sha256, cache);
  }
  const again = await readPrepared(cache, sha256, pages);
  if (!again.ok) throw new Error(`the prepared component in ${cache} is unusable: ${again.reason}`);
  return { files: again.files, from: 'prepared now' };
}

/** Writes `<outDir>/manifest.json` and one directory per distinct component; returns the manifest entries. */
export async function bundlePlugins(bindings: readonly PluginBinding[], outDir: string, o: PluginSources): Promise<PreparedManifestEntry[]> {
  const memoryMaxMiB = o.memoryMaxMiB ?? DEFAULT_MEMORY_MAX_MIB;
  const pages = Math.floor(memoryMaxMiB * 16);
  const out: PreparedManifestEntry[] = [];
  const bySha = new Set<string>();
  const names = new Set<string>();
  for (const b of bindings) {
    const bytes = await fetchComponentBytes(b.url, { builtinDir: o.builtinDir });
    const sha256 = checkSha256(bytes, b.sha256, b.url);
    if (bySha.has(sha256)) continue;
    checkComponentHeader(bytes, b.url);
    // a binding without sha256 (the built-ins) is served by the bundled plugin of its URL's name
    let name = pluginNameOfUrl(b.url).replace(/[^\w.-]/g, '_');
    if (names.has(name)) {
      if (!b.sha256) throw new Error(`${b.name}: two different components are named ${name}; pin each WasmPlugin's sha256`);
      let i = 2;
      while (names.has(`${name}-${i}`)) i++;
      name = `${name}-${i}`;
    }
    const { files, from } = await findOrPrepare(bytes, sha256, o, pages);
    const kind = kindOf(files.exports);
    if (kind === undefined) throw new Error(`${b.url}: the component exports no Weft plugin world`);
    const metered = files.metered ? { ...files.metered, memoryMaxBytes: pages * 65536 } : meterAll(files.modules, memoryMaxMiB);
    const { glue, inline } = extractInlineModules(await readFile(files.glueFile, 'utf8'));
    const dir = join(outDir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'glue.mjs'), glue);
    const modules = new Map([...metered.modules, ...inline]);
    for (const [n, bytesOf] of modules) await writeFile(join(dir, n), bytesOf);
    out.push({ name, sha256, kind: kind as PluginKind, fuelExport: metered.fuelExport, memoryMaxBytes: metered.memoryMaxBytes, modules: [...modules.keys()] });
    bySha.add(sha256);
    names.add(name);
    o.log?.(`plugin ${name} (${b.name}, sha256 ${sha256.slice(0, 12)}): ${modules.size} modules (${from})`);
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify({ plugins: out }, null, 2)}\n`);
  return out;
}
