/**
 * Component bytes -> CompiledPlugin: jco transpiles the component into glue JS and core modules,
 * every core module is metered (fuel counter, memory cap: core/plugin/wasm-meter.ts) and compiled,
 * and the glue is imported as a module. jco's transpiler runs in a worker (transpile.ts), started
 * only when a plugin is loaded.
 */
import v8 from 'node:v8';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginKind } from '../../../../core/plugin/contract.ts';
import type { CompiledPlugin, GlueInstantiate } from '../../../../core/plugin/compiled-plugin.ts';
import { FUEL_EXPORT, meterModule } from '../../../../core/plugin/wasm-meter.ts';
import { transpileComponent } from './transpile.ts';

let flagsSet = false;
/** QuickJS output uses extended-const, behind a flag on Node 20; set before the first compile */
export function enableWasmFeatures(): void {
  if (flagsSet) return;
  flagsSet = true;
  v8.setFlagsFromString('--experimental-wasm-extended-const');
}

export interface CompileOptions {
  /** cap each instance memory (MiB) */
  memoryMaxMiB: number;
  /** when set, the glue is written to `<cacheDir>/<sha256>/glue.mjs` and imported from there; else from a data: URL */
  cacheDir?: string;
}

const DEBUG_CHECK = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';

function kindOf(exports: [string, string][]): PluginKind | undefined {
  for (const [name] of exports) {
    if (name === 'filter' || name.startsWith('weft:plugin/filter')) return 'http-filter';
    if (name === 'connectionPolicy' || name === 'connection-policy' || name.startsWith('weft:plugin/connection-policy')) return 'l4-policy';
    if (name === 'picker' || name.startsWith('weft:plugin/picker')) return 'endpoint-picker';
  }
  return undefined;
}

/** What a component becomes before compiling: jco's glue (debug check removed) and metered core modules. */
export interface PreparedComponent {
  kind: PluginKind | undefined;
  glue: string;
  /** core module name (as the glue asks for it) -> metered bytes */
  modules: Map<string, Uint8Array>;
  fuelExport: string;
  memoryMaxBytes: number;
}

/**
 * Transpile and meter, no compiling: the part a host that cannot compile at run time (workerd) has
 * done for it ahead of time (test/runtime/plugins-parity.test.ts does it so for Deno and workerd).
 */
export async function prepareComponent(bytes: Uint8Array, o: Pick<CompileOptions, 'memoryMaxMiB'>): Promise<PreparedComponent> {
  let r;
  try {
    r = await transpileComponent(bytes);
  } catch (e) {
    throw new Error(`cannot transpile the component: ${e instanceof Error ? e.message : String(e)}`);
  }
  const files = r.files as Record<string, Uint8Array>;
  const glueBytes = files['p.js'];
  if (!glueBytes) throw new Error('jco produced no glue (p.js)');
  // the glue reads process.env.JCO_DEBUG on every call (2-3 us on Node): a debug switch, removed
  const glue = Buffer.from(glueBytes).toString('utf8').replace(DEBUG_CHECK, 'return;');

  const memoryMaxPages = Math.floor(o.memoryMaxMiB * 16);
  const modules = new Map<string, Uint8Array>();
  let fuelExport = '';
  for (const n of Object.keys(files)) {
    if (!n.endsWith('.wasm') || n.includes('/')) continue;
    const m = meterModule(files[n]!, { memoryMaxPages });
    if (m.fuelExport) fuelExport = FUEL_EXPORT;
    modules.set(n, m.bytes);
  }
  return { kind: kindOf(r.exports), glue, modules, fuelExport, memoryMaxBytes: memoryMaxPages * 65536 };
}

export async function compileComponent(bytes: Uint8Array, sha256: string, o: CompileOptions): Promise<CompiledPlugin> {
  enableWasmFeatures();
  const p = await prepareComponent(bytes, o);
  const compiled = await Promise.all([...p.modules].map(async ([n, b]) => [n, await WebAssembly.compile(b as Uint8Array<ArrayBuffer>)] as const));
  const modules = new Map<string, WebAssembly.Module>(compiled);
  const glueModule = (await importGlue(p.glue, sha256, o.cacheDir)) as { instantiate?: GlueInstantiate };
  if (typeof glueModule.instantiate !== 'function') throw new Error('jco glue has no instantiate export');
  return {
    sha256,
    kind: p.kind,
    instantiate: glueModule.instantiate,
    getCoreModule(name) {
      const m = modules.get(name);
      if (!m) throw new Error(`jco glue asked for an unknown core module ${name}`);
      return m;
    },
    fuelExport: p.fuelExport,
    memoryMaxBytes: p.memoryMaxBytes,
  };
}

async function importGlue(glue: string, sha256: string, cacheDir: string | undefined): Promise<unknown> {
  if (cacheDir) {
    const dir = join(cacheDir, sha256);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
    const file = join(dir, 'glue.mjs');
    await writeFile(file, glue);
    return import(/* @vite-ignore */ pathToFileURL(file).href);
  }
  return import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(glue).toString('base64')}`);
}
