/**
 * The deploy step for hosts that cannot compile Wasm at run time (workerd), done in Node as the
 * Node loader does it (hosts/node/plugins/runtime/compile-component.ts `prepareComponent`: jco
 * transpile with instantiation 'async', the JCO_DEBUG check removed, every core module metered by
 * core/plugin/wasm-meter.ts), written to a directory:
 *
 *   <dir>/manifest.json            PreparedPlugin per plugin (driver.ts)
 *   <dir>/<name>/glue.mjs          the glue, its inline Wasm moved out (below)
 *   <dir>/<name>/p.core*.wasm      metered core modules
 *   <dir>/<name>/p.inline*.wasm    modules the glue would compile from bytes at instantiate time
 *
 * jco's glue builds a small JSPI trampoline with `new WebAssembly.Module(new Uint8Array([...]))`
 * inside `instantiate` (never called for these components, but built every time). workerd refuses
 * run-time compilation, so that module becomes one more file the glue gets from getCoreModule.
 * It has no loop and is not metered.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PluginKind } from '../../../core/plugin/contract.ts';
import { prepareComponent } from '../../../hosts/node/plugins/runtime/compile-component.ts';
import type { PreparedPlugin } from './driver.ts';
import { extractInlineModules } from '../../../hosts/node/edge-build/inline-modules.ts';

export { extractInlineModules };

export async function preparePlugins(pluginsDir: string, names: readonly string[], outDir: string, memoryMaxMiB = 64): Promise<PreparedPlugin[]> {
  const manifest: PreparedPlugin[] = [];
  for (const name of names) {
    const bytes = await readFile(join(pluginsDir, `${name}.wasm`));
    const p = await prepareComponent(bytes, { memoryMaxMiB });
    if (!p.kind) throw new Error(`${name}: jco found no world export`);
    const { glue, inline } = extractInlineModules(p.glue);
    const dir = join(outDir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'glue.mjs'), glue);
    const modules = new Map([...p.modules, ...inline]);
    for (const [n, b] of modules) await writeFile(join(dir, n), b);
    manifest.push({
      name,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      kind: p.kind as PluginKind,
      fuelExport: p.fuelExport,
      memoryMaxBytes: p.memoryMaxBytes,
      modules: [...modules.keys()],
    });
  }
  await writeFile(join(outDir, 'manifest.json'), JSON.stringify({ plugins: manifest }, null, 2));
  return manifest;
}
