/**
 * Node side of the plugin parity test: the prepared directory read back, each core module compiled
 * as the Node loader compiles it (extended-const enabled first), each glue imported from its file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GlueInstantiate } from '../../../core/plugin/compiled-plugin.ts';
import { enableWasmFeatures } from '../../../hosts/node/plugins/runtime/compile-component.ts';
import { PLUGIN_TESTS } from './cases.ts';
import { runAll, type ParityRun, type PreparedPlugin } from './driver.ts';

export async function runPluginsInNode(dir: string, plugins: readonly PreparedPlugin[]): Promise<ParityRun> {
  enableWasmFeatures();
  const results = await runAll(
    plugins,
    async (p) => {
      const glue = (await import(/* @vite-ignore */ pathToFileURL(join(dir, p.name, 'glue.mjs')).href)) as { instantiate: GlueInstantiate };
      const modules = new Map<string, WebAssembly.Module>();
      for (const n of p.modules) modules.set(n, await WebAssembly.compile(await readFile(join(dir, p.name, n))));
      return { instantiate: glue.instantiate, modules };
    },
    (name) => PLUGIN_TESTS[name]!,
  );
  return { runtime: 'node', version: process.version, results };
}
