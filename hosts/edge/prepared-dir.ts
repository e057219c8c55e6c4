/**
 * Bundled plugins from a prepared directory, for runtimes that may compile Wasm at start (Node,
 * Deno): `<dir>/manifest.json` (`{ plugins: [{ name, sha256, kind, fuelExport, memoryMaxBytes,
 * modules }] }`), `<dir>/<name>/glue.mjs` (jco's glue, instantiation 'async') and the metered core
 * modules beside it. This is the layout test/runtime/plugins/prepare.ts writes; workerd gets the
 * same files as module imports instead (entry/workerd.ts). The runtime's file reads are passed in.
 */
import type { GlueInstantiate } from '../../core/plugin/compiled-plugin.ts';
import type { PluginKind } from '../../core/plugin/contract.ts';
import type { BundledPlugin } from './plugins.ts';

export interface PreparedManifestEntry {
  name: string;
  sha256: string;
  kind: PluginKind;
  fuelExport: string;
  memoryMaxBytes: number;
  modules: string[];
}

export interface PreparedDirIo {
  readText(path: string): Promise<string>;
  readBytes(path: string): Promise<Uint8Array>;
  /** import() of a file path (the glue) */
  importFile(path: string): Promise<{ instantiate: GlueInstantiate }>;
}

export async function loadPreparedDir(dir: string, io: PreparedDirIo): Promise<BundledPlugin[]> {
  const { plugins } = JSON.parse(await io.readText(`${dir}/manifest.json`)) as { plugins: PreparedManifestEntry[] };
  const out: BundledPlugin[] = [];
  for (const p of plugins) {
    const glue = await io.importFile(`${dir}/${p.name}/glue.mjs`);
    const modules: Record<string, WebAssembly.Module> = {};
    for (const n of p.modules) modules[n] = await WebAssembly.compile((await io.readBytes(`${dir}/${p.name}/${n}`)) as Uint8Array<ArrayBuffer>);
    out.push({ name: p.name, sha256: p.sha256, kind: p.kind, fuelExport: p.fuelExport, memoryMaxBytes: p.memoryMaxBytes, instantiate: glue.instantiate, modules });
  }
  return out;
}
