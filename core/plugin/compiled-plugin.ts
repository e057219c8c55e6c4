/**
 * What a host's loader hands the runtime: one component version, transpiled by jco and compiled,
 * ready to be instantiated any number of times. The loader does the I/O (fetch, hash check,
 * transpile, meter, compile); the runtime only instantiates and calls.
 */
import type { PluginBinding, PluginKind } from './contract.ts';

export type CoreInstantiate = (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance | Promise<WebAssembly.Instance>;

/** jco glue's `instantiate` (transpiled with instantiation: 'async'); returns synchronously when every hook does */
export type GlueInstantiate = (
  getCoreModule: (name: string) => WebAssembly.Module | Promise<WebAssembly.Module>,
  imports: Record<string, unknown>,
  instantiateCore?: CoreInstantiate,
) => unknown;

export interface CompiledPlugin {
  /** sha256 of the component bytes (lower-case hex) */
  sha256: string;
  /** the world its exports match, when the loader could tell */
  kind?: PluginKind;
  instantiate: GlueInstantiate;
  /** core modules by the names the glue asks for (metered when fuelExport is set) */
  getCoreModule(name: string): WebAssembly.Module;
  /** the fuel global each metered core instance exports ('' when not metered) */
  fuelExport: string;
  /** the cap the loader put on each memory's growth (0: none), to tell an out-of-memory trap */
  memoryMaxBytes: number;
}

export interface PluginLoader {
  /** fetch, verify and compile; rejects with a message fit for PluginStatus.error */
  load(binding: PluginBinding): Promise<CompiledPlugin>;
}

/** The export of each world, as jco names it. */
export const EXPORT_OF_KIND: Record<PluginKind, string> = {
  'http-filter': 'filter',
  'l4-policy': 'connectionPolicy',
  'endpoint-picker': 'picker',
};
