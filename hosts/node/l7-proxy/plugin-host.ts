/**
 * A proxy's plugins from xDS (gateway, waypoint and node proxy alike): the ECDS resources
 * (TypedExtensionConfig, one per WasmPlugin, core/xds/plugins.ts) go to the plugin runtime
 * (hosts/node/plugins/loader.ts). The runtime and its Wasm toolchain (jco, preview2-shim) are
 * imported only when the first binding arrives, so a proxy without plugins pays nothing for them.
 *
 * The xDS answer waits for the load: a binding that fails to decode, fetch, compile or warm NACKs
 * the response with the runtime's error, and the version serving before (if any) serves on. The
 * held set is committed only on success, so the next push is decoded against what is serving.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PluginBinding, PluginRuntime, PluginSet, PluginStatus } from '../../../core/plugin/contract.ts';
import { decodePluginBindings } from '../../../core/xds/plugins.ts';
import type { XdsResourceEntry, XdsUpdate } from '../xds/delta-client-base.ts';
import { PluginMetrics, type PluginMetricsSinkLike } from './plugin-metrics.ts';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface RuntimeDeps {
  /** plugin log lines, already prefixed with the plugin's name */
  log: (line: string) => void;
  metrics: PluginMetricsSinkLike;
  /** where prepared components are cached (`<state dir>/plugin-cache`); the loader's default (a tmpdir) when absent */
  cacheDir?: string;
}

/** Makes the runtime (the seam tests fill with a fake). */
export type RuntimeFactory = (deps: RuntimeDeps) => PluginRuntime | Promise<PluginRuntime>;

/** The Node runtime, loaded on first use (its own chunk in the bundle). */
const nodeRuntime: RuntimeFactory = async (deps) => {
  const m = await import('../plugins/loader.ts');
  const builtinDir = bundledBuiltins();
  return m.createNodePluginRuntime({ ...deps, ...(builtinDir ? { builtinDir } : {}) });
};

/**
 * `plugins/` beside the running bundle (dist/weft.mjs -> dist/plugins/), where build.mjs puts the
 * built-in plugins: the loader's own default is relative to its module, which is a chunk under
 * dist/chunks/ in the bundle. Undefined when not found (the loader's default then).
 */
function bundledBuiltins(): string | undefined {
  const main = process.argv[1];
  if (!main) return undefined;
  const dir = join(dirname(main), 'plugins');
  return existsSync(dir) ? dir : undefined;
}

export interface PluginHostOptions {
  log: Log;
  createRuntime?: RuntimeFactory;
  /** the plugin cache of a proxy that has a state dir (`<state>/plugin-cache`) */
  pluginCacheDir?: string;
}

export class PluginHost {
  #runtime: PluginRuntime | undefined;
  #starting: Promise<PluginRuntime> | undefined;
  /** The ECDS resources whose bindings serve (committed after a successful update). */
  #held = new Map<string, XdsResourceEntry>();
  #chain: Promise<unknown> = Promise.resolve();
  readonly metrics: PluginMetrics;

  constructor(private readonly o: PluginHostOptions) {
    this.metrics = new PluginMetrics(() => this.status());
  }

  /** The snapshot in force, or undefined while no plugin was ever bound (a field read). */
  plugins(): PluginSet | undefined {
    return this.#runtime?.plugins();
  }

  get runtime(): PluginRuntime | undefined {
    return this.#runtime;
  }

  status(): PluginStatus[] {
    return this.#runtime?.status() ?? [];
  }

  /**
   * The xDS `validate` hook for the TypedExtensionConfig type. Synchronous when nothing is to load
   * (a malformed resource, or no plugins and no runtime yet); else a promise of the NACK message.
   */
  apply(u: XdsUpdate): string | undefined | Promise<string | undefined> {
    const next = new Map(this.#held);
    for (const name of u.removed) next.delete(name);
    for (const r of u.resources) next.set(r.name, r);
    let bindings: PluginBinding[];
    try {
      bindings = decodePluginBindings(next.values());
    } catch (e) {
      const message = (e as Error).message;
      this.o.log('warn', `plugins: rejected ${message}`);
      return message;
    }
    if (bindings.length === 0 && this.#runtime === undefined && this.#starting === undefined) {
      this.#held = next;
      return undefined;
    }
    const changed = new Set(u.resources.map((r) => r.name));
    // one update at a time, answered in order (the xDS client requires it per type)
    const run = this.#chain.then(() => this.#update(next, bindings, changed));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #update(next: Map<string, XdsResourceEntry>, bindings: PluginBinding[], changed: Set<string>): Promise<string | undefined> {
    let runtime: PluginRuntime;
    try {
      runtime = await this.#ensureRuntime();
    } catch (e) {
      const message = `plugin runtime unavailable: ${(e as Error).message}`;
      this.o.log('warn', message);
      return message;
    }
    await runtime.update(bindings);
    const failed = runtime.status().filter((s) => changed.has(s.name) && s.error !== undefined);
    if (failed.length) {
      const message = failed.map((s) => `${s.name}: ${s.error}${s.state === 'ready' ? ' (the previous version serves on)' : ''}`).join('; ');
      this.o.log('warn', `plugins: ${message}`);
      return message;
    }
    this.#held = next;
    if (changed.size) this.o.log('info', `plugins: ${bindings.length} bound (${bindings.map((b) => b.name).join(', ') || 'none'})`);
    return undefined;
  }

  #ensureRuntime(): Promise<PluginRuntime> {
    if (this.#runtime !== undefined) return Promise.resolve(this.#runtime);
    this.#starting ??= (async () => {
      const deps: RuntimeDeps = {
        log: (line) => this.o.log('info', line),
        metrics: this.metrics,
        ...(this.o.pluginCacheDir ? { cacheDir: this.o.pluginCacheDir } : {}),
      };
      const r = await (this.o.createRuntime ?? nodeRuntime)(deps);
      this.#runtime = r;
      return r;
    })();
    this.#starting.catch(() => (this.#starting = undefined));
    return this.#starting;
  }

  /** For /config_dump. */
  dump(): { plugins: PluginStatus[] } {
    return { plugins: this.status() };
  }
}
