/**
 * The Node plugin loader and runtime: fetches a binding's component (file://, built-in, http(s)),
 * checks its sha256 and header, transpiles, meters and compiles it once per sha256, and hands it to
 * core/plugin/runtime.ts, which pools, swaps and calls it.
 */
import { fileURLToPath } from 'node:url';
import type { PluginBinding } from '../../../core/plugin/contract.ts';
import type { CompiledPlugin, PluginLoader } from '../../../core/plugin/compiled-plugin.ts';
import type { PluginMetricsSink } from '../../../core/plugin/host-imports.ts';
import { loadCompiledForTest, type PluginUnderTest } from '../../../core/plugin/plugin-under-test.ts';
import { createPluginRuntime, type PluginRuntimeWithKv } from '../../../core/plugin/runtime.ts';
import { checkComponentHeader, checkSha256, fetchComponentBytes } from './runtime/fetch-component.ts';
import { compileComponent } from './runtime/compile-component.ts';
import { isNativePluginUrl, loadNativePlugin } from './runtime/native-plugin.ts';

export type { PluginUnderTest };

export interface NodePluginLoaderOptions {
  /** where file:///builtin/<name>.wasm is read from (default: `plugins/` beside the bundle) */
  builtinDir?: string;
  /** write transpiled glue here (`<sha256>/glue.mjs`) instead of importing it from a data: URL */
  cacheDir?: string;
  /** per-instance memory cap (default 64 MiB) */
  memoryMaxMiB?: number;
  fetchTimeoutMs?: number;
}

export interface NodePluginLoader extends PluginLoader {
  /** compile bytes already in hand (tests, `weft plugin test`); cached by sha256 too */
  compileBytes(bytes: Uint8Array, url?: string, sha256?: string): Promise<CompiledPlugin>;
}

const MAX_CACHED = 16;

export function defaultBuiltinDir(): string {
  // dist/weft.mjs -> dist/plugins/; this code is bundled into a chunk (dist/chunks/), one level down
  const here = new URL('.', import.meta.url);
  const dist = here.pathname.endsWith('/chunks/') ? new URL('../', here) : here;
  return fileURLToPath(new URL('plugins/', dist));
}

export function createNodePluginLoader(o: NodePluginLoaderOptions = {}): NodePluginLoader {
  const builtinDir = o.builtinDir ?? defaultBuiltinDir();
  const memoryMaxMiB = o.memoryMaxMiB ?? 64;
  // an unchanged plugin (same bytes) is never transpiled or compiled twice
  const cache = new Map<string, Promise<CompiledPlugin>>();

  function compileBytes(bytes: Uint8Array, url = 'memory:', sha256?: string): Promise<CompiledPlugin> {
    const actual = checkSha256(bytes, sha256, url);
    let p = cache.get(actual);
    if (p === undefined) {
      checkComponentHeader(bytes, url);
      p = compileComponent(bytes, actual, { memoryMaxMiB, cacheDir: o.cacheDir });
      cache.set(actual, p);
      p.catch(() => cache.delete(actual));
      // the serving versions and a few recent ones (a flip back is then instant); older ones go
      // (their modules stay alive while a version still serves)
      if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
    } else {
      // most recently used last
      cache.delete(actual);
      cache.set(actual, p);
    }
    return p;
  }

  return {
    async load(b: PluginBinding): Promise<CompiledPlugin> {
      // a trusted native module (benchmarks, development): refused unless the process opts in
      if (isNativePluginUrl(b.url)) return loadNativePlugin(b.url, b.sha256, { builtinDir, fetchTimeoutMs: o.fetchTimeoutMs });
      const bytes = await fetchComponentBytes(b.url, { builtinDir, fetchTimeoutMs: o.fetchTimeoutMs });
      return compileBytes(bytes, b.url, b.sha256);
    },
    compileBytes: async (bytes, url, sha256) => compileBytes(bytes, url, sha256),
  };
}

export interface NodePluginRuntimeOptions {
  builtinDir?: string;
  cacheDir?: string;
  /** plugin log lines (`[plugin ns.name] level: message`) */
  log?: (line: string) => void;
  metrics?: PluginMetricsSink;
  /** guest work per call before it is stopped (default 50 ms) */
  budgetMs?: number;
  /** per-instance memory cap (default 64 MiB) */
  memoryMaxMiB?: number;
}

export function createNodePluginRuntime(opts: NodePluginRuntimeOptions = {}): PluginRuntimeWithKv {
  const loader = createNodePluginLoader({ builtinDir: opts.builtinDir, cacheDir: opts.cacheDir, memoryMaxMiB: opts.memoryMaxMiB });
  const log = opts.log;
  return createPluginRuntime(loader, {
    budgetMs: opts.budgetMs,
    metrics: opts.metrics,
    log: log ? (plugin, level, message) => log(`[plugin ${plugin}] ${level}: ${message}`) : undefined,
  });
}

let testLoader: NodePluginLoader | undefined;

/**
 * One plugin from bytes, through the same runtime a proxy uses (`weft plugin test`, tests). The
 * kind defaults to the world the component exports; a load failure rejects.
 */
export async function loadPluginForTest(
  bytes: Uint8Array,
  binding: Partial<PluginBinding> = {},
  opts: { budgetMs?: number; memoryMaxMiB?: number } = {},
): Promise<PluginUnderTest> {
  const compiled = await compileForTest(bytes, binding, opts);
  return loadCompiledForTest(compiled, binding, opts);
}

/** bytes -> CompiledPlugin through the test loader (cached by sha256) */
export function compileForTest(bytes: Uint8Array, binding: Partial<PluginBinding> = {}, opts: { memoryMaxMiB?: number } = {}): Promise<CompiledPlugin> {
  const loader = opts.memoryMaxMiB !== undefined ? createNodePluginLoader({ memoryMaxMiB: opts.memoryMaxMiB }) : (testLoader ??= createNodePluginLoader());
  return loader.compileBytes(bytes, binding.url ?? 'memory:', binding.sha256);
}
