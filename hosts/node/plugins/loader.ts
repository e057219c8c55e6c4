/**
 * The Node plugin loader and runtime: fetches a binding's component (file://, built-in, http(s)),
 * checks its sha256 and header, transpiles, meters and compiles it once per sha256, and hands it to
 * core/plugin/runtime.ts, which pools, swaps and calls it.
 */
import { fileURLToPath } from 'node:url';
import type { EndpointPickerHandle, HttpFilterHandle, L4PolicyHandle, PluginBinding } from '../../../core/plugin/contract.ts';
import type { CompiledPlugin, PluginLoader } from '../../../core/plugin/compiled-plugin.ts';
import type { PluginMetricsSink, SharedKv } from '../../../core/plugin/host-imports.ts';
import { createPluginRuntime, type PluginRuntimeWithKv } from '../../../core/plugin/runtime.ts';
import { checkComponentHeader, checkSha256, fetchComponentBytes } from './runtime/fetch-component.ts';
import { compileComponent } from './runtime/compile-component.ts';

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

export interface PluginUnderTest {
  filter?: HttpFilterHandle;
  l4?: L4PolicyHandle;
  picker?: EndpointPickerHandle;
  kv: SharedKv;
  /** `level: message` per guest log call */
  logs: string[];
  /** counter name -> total */
  counters: Map<string, number>;
  /** histogram name -> recorded values */
  histograms: Map<string, number[]>;
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
  const loader = opts.memoryMaxMiB !== undefined ? createNodePluginLoader({ memoryMaxMiB: opts.memoryMaxMiB }) : (testLoader ??= createNodePluginLoader());
  const compiled = await loader.compileBytes(bytes, binding.url ?? 'memory:', binding.sha256);
  const b: PluginBinding = {
    name: 'test.plugin',
    kind: compiled.kind ?? 'http-filter',
    url: 'memory:',
    phase: 'UNSPECIFIED_PHASE',
    priority: 0,
    failStrategy: 'FAIL_CLOSE',
    config: '{}',
    ports: [],
    workloads: [],
    ...binding,
  };
  const logs: string[] = [];
  const counters = new Map<string, number>();
  const histograms = new Map<string, number[]>();
  const runtime = createPluginRuntime(
    { load: async () => compiled },
    {
      budgetMs: opts.budgetMs,
      syncRebuild: true,
      log: (_p, level, message) => logs.push(`${level}: ${message}`),
      metrics: {
        counterAdd: (_p, name, delta) => counters.set(name, (counters.get(name) ?? 0) + delta),
        histogramRecord: (_p, name, value) => {
          const list = histograms.get(name) ?? [];
          list.push(value);
          histograms.set(name, list);
        },
      },
    },
  );
  await runtime.update([b]);
  const st = runtime.status()[0];
  if (!st || st.state !== 'ready') throw new Error(`plugin did not load: ${st?.error ?? 'unknown error'}`);
  const set = runtime.plugins();
  return {
    filter: set.httpFilters[0],
    l4: set.l4Policies[0],
    picker: set.endpointPicker,
    kv: runtime.kv(b.name)!,
    logs,
    counters,
    histograms,
  };
}
