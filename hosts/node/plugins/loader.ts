/**
 * The Node plugin loader and runtime: fetches a binding's component (file://, built-in, http(s)),
 * checks its sha256 and header, finds its prepared form on disk or has a child process prepare it
 * (jco never runs in a proxy: runtime/compile-component.ts), meters and compiles it once per
 * sha256, and hands it to core/plugin/runtime.ts, which pools, swaps and calls it.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginBinding } from '../../../core/plugin/contract.ts';
import type { CompiledPlugin, PluginLoader } from '../../../core/plugin/compiled-plugin.ts';
import type { PluginMetricsSink } from '../../../core/plugin/host-imports.ts';
import { loadCompiledForTest, type PluginUnderTest } from '../../../core/plugin/plugin-under-test.ts';
import { createPluginRuntime, type PluginRuntimeWithKv } from '../../../core/plugin/runtime.ts';
import { checkComponentHeader, checkSha256, componentFilePath, fetchComponentBytes, sha256Mismatch } from './runtime/fetch-component.ts';
import { FileShaCache, fileStamp, SETTLE_MS } from './runtime/file-identity.ts';
import { compileComponent, DEFAULT_MEMORY_MAX_MIB, type StepTimer } from './runtime/compile-component.ts';
import type { Spawner } from './runtime/child-transpile.ts';
import { defaultPluginCacheDir } from './runtime/prepared-store.ts';
import { ShapeCache } from './runtime/shape-cache.ts';
import { isNativePluginUrl, loadNativePlugin } from './runtime/native-plugin.ts';
import { binaryRuntime } from '../binary/runtime.ts';

export type { PluginUnderTest };

export interface NodePluginLoaderOptions {
  /** where file:///builtin/<name>.wasm is read from (default: `plugins/` beside the bundle) */
  builtinDir?: string;
  /**
   * the writable cache of prepared components (`<cacheDir>/<sha256>/`; default
   * `<tmpdir>/weft-plugin-cache-<uid>`); `false`: none, jco then runs in this process
   */
  cacheDir?: string | false;
  /** read-only roots of prepared components looked in first (default: `<builtinDir>/prepared`, written by build.mjs) */
  preparedDirs?: string[];
  /** per-instance memory cap (default 64 MiB) */
  memoryMaxMiB?: number;
  fetchTimeoutMs?: number;
  /** starts the transpiler's child process (tests count them) */
  spawn?: Spawner;
  /** told how a component that was not prepared got prepared (tests, logs) */
  onPrepare?: (how: 'child' | 'in-process' | 'memory', sha256: string, why?: string) => void;
  /** told how long each step of a load took (test/bench/plugins/swap-profile.ts) */
  onStep?: StepTimer;
  /** false: no glue reuse across components of one shape (runtime/shape-cache.ts; the bench's "before") */
  shapeCache?: boolean;
  /** a file changed more recently than this is read again on every load (runtime/file-identity.ts; tests) */
  fileSettleMs?: number;
}

export interface NodePluginLoader extends PluginLoader {
  /** compile bytes already in hand (tests, `weft plugin test`); cached by sha256 too */
  compileBytes(bytes: Uint8Array, url?: string, sha256?: string): Promise<CompiledPlugin>;
}

const MAX_CACHED = 16;

export function defaultBuiltinDir(): string {
  // the single binary: extracted from its embedded assets into the state dir
  const binary = binaryRuntime();
  if (binary) return binary.builtinDir();
  // dist/weft.mjs -> dist/plugins/; this code is bundled into a chunk (dist/chunks/), one level down
  const here = new URL('.', import.meta.url);
  const dist = here.pathname.endsWith('/chunks/') ? new URL('../', here) : here;
  return fileURLToPath(new URL('plugins/', dist));
}

export function createNodePluginLoader(o: NodePluginLoaderOptions = {}): NodePluginLoader {
  const builtinDir = o.builtinDir ?? defaultBuiltinDir();
  const memoryMaxMiB = o.memoryMaxMiB ?? DEFAULT_MEMORY_MAX_MIB;
  const cacheDir = o.cacheDir === false ? undefined : (o.cacheDir ?? defaultPluginCacheDir());
  const preparedDirs = o.preparedDirs ?? [join(builtinDir, 'prepared')];
  // an unchanged plugin (same bytes) is never transpiled or compiled twice
  const cache = new Map<string, Promise<CompiledPlugin>>();
  // a rebuilt plugin reuses the glue of its shape and the compiled modules it shares (the engine)
  const shapes = o.shapeCache === false ? undefined : new ShapeCache();

  // a file loaded again unchanged (another binding, a config change) is not read or hashed again
  // (runtime/file-identity.ts)
  const files = new FileShaCache();

  function compileBytes(bytes: Uint8Array, url = 'memory:', sha256?: string): Promise<CompiledPlugin> {
    return compileChecked(bytes, checkSha256(bytes, sha256, url), url);
  }

  function compileChecked(bytes: Uint8Array, actual: string, url: string): Promise<CompiledPlugin> {
    let p = cache.get(actual);
    if (p === undefined) {
      checkComponentHeader(bytes, url);
      const onPrepare = o.onPrepare;
      p = compileComponent(bytes, actual, {
        memoryMaxMiB,
        cacheDir,
        preparedDirs,
        spawn: o.spawn,
        onPrepare: onPrepare ? (how, why) => onPrepare(how, actual, why) : undefined,
        onStep: o.onStep,
        shapes,
      });
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
      const t0 = performance.now();
      const path = componentFilePath(b.url, builtinDir);
      const stamp = path === undefined ? undefined : await fileStamp(path, o.fileSettleMs ?? SETTLE_MS);
      if (stamp !== undefined) {
        const known = files.get(path!, stamp.id);
        const compiled = known === undefined ? undefined : cache.get(known);
        if (compiled !== undefined) {
          if (b.sha256 && b.sha256.toLowerCase() !== known) throw sha256Mismatch(b.url, b.sha256, known!);
          o.onStep?.('fetch (unchanged file)', performance.now() - t0);
          // most recently used last
          cache.delete(known!);
          cache.set(known!, compiled);
          return compiled;
        }
      }
      const bytes = await fetchComponentBytes(b.url, { builtinDir, fetchTimeoutMs: o.fetchTimeoutMs });
      o.onStep?.('fetch', performance.now() - t0);
      const actual = checkSha256(bytes, b.sha256, b.url);
      if (stamp !== undefined) files.set(path!, stamp, actual);
      return compileChecked(bytes, actual, b.url);
    },
    compileBytes: async (bytes, url, sha256) => compileBytes(bytes, url, sha256),
  };
}

export interface NodePluginRuntimeOptions {
  builtinDir?: string;
  /** see NodePluginLoaderOptions.cacheDir (a proxy with a state dir passes `<state>/plugin-cache`) */
  cacheDir?: string | false;
  preparedDirs?: string[];
  spawn?: Spawner;
  onPrepare?: NodePluginLoaderOptions['onPrepare'];
  /** plugin log lines (`[plugin ns.name] level: message`) */
  log?: (line: string) => void;
  metrics?: PluginMetricsSink;
  /** guest work per call before it is stopped (default 50 ms) */
  budgetMs?: number;
  /** per-instance memory cap (default 64 MiB) */
  memoryMaxMiB?: number;
  /** see NodePluginLoaderOptions.shapeCache */
  shapeCache?: boolean;
}

export function createNodePluginRuntime(opts: NodePluginRuntimeOptions = {}): PluginRuntimeWithKv {
  const loader = createNodePluginLoader({
    builtinDir: opts.builtinDir,
    cacheDir: opts.cacheDir,
    preparedDirs: opts.preparedDirs,
    spawn: opts.spawn,
    // jco running in the proxy after all (no child process, no cache dir) is worth a line: it costs RSS
    onPrepare:
      opts.onPrepare ??
      (opts.log
        ? (how, sha256, why) => {
            if (why) opts.log!(`[plugins] component ${sha256.slice(0, 12)} transpiled ${how === 'memory' ? 'in this process, not cached' : 'in this process'}: ${why}`);
          }
        : undefined),
    memoryMaxMiB: opts.memoryMaxMiB,
    shapeCache: opts.shapeCache,
  });
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
