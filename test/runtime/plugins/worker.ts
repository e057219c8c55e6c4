/**
 * workerd side of the plugin parity test: the module worker's handler over plugins whose core
 * modules arrived as Wasm module imports (compiled by workerd at startup; it refuses to compile at
 * run time). The entry that imports the glue and the modules is generated per run (harness.ts).
 * A fetch answers the ParityRun as JSON, or 500 with the stack.
 */
import type { GlueInstantiate } from '../../../core/plugin/compiled-plugin.ts';
import { PLUGIN_TESTS } from './cases.ts';
import { runAll, type ParityRun, type PreparedPlugin } from './driver.ts';

export interface BundledPlugin {
  manifest: PreparedPlugin;
  instantiate: GlueInstantiate;
  modules: Record<string, WebAssembly.Module>;
}

export function parityWorker(plugins: BundledPlugin[]): { fetch(): Promise<Response> } {
  return {
    async fetch() {
      try {
        const byName = new Map(plugins.map((p) => [p.manifest.name, p]));
        const results = await runAll(
          plugins.map((p) => p.manifest),
          async (m) => {
            const p = byName.get(m.name)!;
            return { instantiate: p.instantiate, modules: new Map(Object.entries(p.modules)) };
          },
          (name) => PLUGIN_TESTS[name]!,
        );
        const run: ParityRun = { runtime: 'workerd', version: navigator.userAgent, results };
        return Response.json(run);
      } catch (err) {
        return new Response(err instanceof Error ? (err.stack ?? err.message) : String(err), { status: 500 });
      }
    },
  };
}
