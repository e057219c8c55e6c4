/**
 * WasmPlugins on the edge host (design.md section 6): the control plane names each plugin by URL
 * and sha256 (an ECDS TypedExtensionConfig), but an edge isolate fetches and compiles nothing at
 * run time (workerd cannot compile Wasm at all), so every plugin a deploy may run is bundled with it
 * in its prepared form: jco's glue `instantiate` and the metered core modules, compiled by the
 * platform when the worker loads (workerd: Wasm module imports; Deno and Node: compiled at start
 * from the prepared files). A binding is served by the bundled plugin with its sha256, else (the
 * built-ins, `file:///builtin/<name>.wasm`, named without a hash) by the bundled one of that name.
 * A binding nothing bundled serves fails to load: it never takes traffic and its status says so.
 */
import type { CompiledPlugin, GlueInstantiate, PluginLoader } from '../../core/plugin/compiled-plugin.ts';
import type { PluginBinding, PluginKind } from '../../core/plugin/contract.ts';

/** One prepared plugin as a deploy bundles it (test/runtime/plugins/prepare.ts writes these). */
export interface BundledPlugin {
  name: string;
  sha256: string;
  kind?: PluginKind;
  fuelExport: string;
  memoryMaxBytes: number;
  instantiate: GlueInstantiate;
  /** core modules by the names the glue asks for */
  modules: Record<string, WebAssembly.Module>;
}

/** The name a binding's URL gives a plugin: the file name without `.wasm`. */
export function pluginNameOfUrl(url: string): string {
  const file = url.slice(url.lastIndexOf('/') + 1);
  return file.endsWith('.wasm') ? file.slice(0, -5) : file;
}

export function bundledPluginLoader(plugins: readonly BundledPlugin[]): PluginLoader {
  const bySha = new Map(plugins.map((p) => [p.sha256, p]));
  const byName = new Map(plugins.map((p) => [p.name, p]));
  return {
    load(b: PluginBinding): Promise<CompiledPlugin> {
      const p = b.sha256 ? bySha.get(b.sha256) : byName.get(pluginNameOfUrl(b.url));
      if (p === undefined) {
        const what = b.sha256 ? `sha256 ${b.sha256}` : `name ${pluginNameOfUrl(b.url)}`;
        return Promise.reject(new Error(`${b.name}: no plugin with ${what} is bundled with this edge deploy (${b.url}); plugins reach the edge at deploy time`));
      }
      return Promise.resolve({
        sha256: p.sha256,
        ...(p.kind ? { kind: p.kind } : {}),
        instantiate: p.instantiate,
        getCoreModule: (n: string) => {
          const m = p.modules[n];
          if (m === undefined) throw new Error(`${p.name}: the glue asked for an unknown core module ${n}`);
          return m;
        },
        fuelExport: p.fuelExport,
        memoryMaxBytes: p.memoryMaxBytes,
      });
    },
  };
}
