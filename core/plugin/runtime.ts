/**
 * A proxy's plugin runtime (contract.ts PluginRuntime) over a host's loader: each `update` loads
 * and warms new or changed plugins beside the serving set, then swaps one reference to a new
 * immutable PluginSet. A version that fails to load or warm never takes traffic; the previous
 * one serves on and the error shows in status().
 */
import type { PluginBinding, PluginRuntime, PluginSet, PluginStatus, PluginState, EndpointPickerHandle, HttpFilterHandle, L4PolicyHandle } from './contract.ts';
import type { PluginLoader } from './compiled-plugin.ts';
import { SharedKv, type MonotonicClock, type PluginLogSink, type PluginMetricsSink } from './host-imports.ts';
import { newStats, type FailureCause, type PluginStats } from './instance-pool.ts';
import { LoadedPlugin, bindKey, loadKey } from './loaded-plugin.ts';
import { ImmutablePluginSet, EMPTY_PLUGIN_SET, type BoundHandle } from './plugin-set.ts';

/** wasm-meter.ts: a busy QuickJS loop burns ~95k fuel per ms on this class of machine */
export const FUEL_PER_MS = 95_000;
export const DEFAULT_BUDGET_MS = 50;

export interface PluginRuntimeOptions {
  /** monotonic ms (plugins' clock and KV expiry) and wall ms (loadedAt) */
  clock?: MonotonicClock & { now?(): number };
  log?: PluginLogSink;
  metrics?: PluginMetricsSink;
  /** guest work per call before it is stopped (default 50 ms) */
  budgetMs?: number;
  /** fuel units per ms of guest work (default FUEL_PER_MS) */
  fuelPerMs?: number;
  /** runs background work (spare instances); default setTimeout 0 */
  defer?: (fn: () => void) => void;
  /** after failures in a row, build the next instance inside the call instead of failing fast (tests) */
  syncRebuild?: boolean;
  /** keys per plugin's KV store (default 100k) */
  kvMaxKeys?: number;
}

interface Entry {
  binding: PluginBinding;
  stats: PluginStats;
  kv: SharedKv;
  serving: LoadedPlugin | undefined;
  state: PluginState;
  error: string | undefined;
  loadedAt: string | undefined;
  lastFailureLog: number;
}

const defaultClock: MonotonicClock & { now(): number } = {
  monotonic: () => (globalThis.performance ? globalThis.performance.now() : Date.now()),
  now: () => Date.now(),
};

export interface PluginRuntimeWithKv extends PluginRuntime {
  onSwap(listener: (set: PluginSet) => void): void;
  /** the KV store of a plugin name (tests, `weft plugin test`) */
  kv(name: string): SharedKv | undefined;
}

export function createPluginRuntime(loader: PluginLoader, opts: PluginRuntimeOptions = {}): PluginRuntimeWithKv {
  const clock = opts.clock ?? defaultClock;
  const fuel = Math.max(1, Math.min(0x7fffffff, Math.round((opts.budgetMs ?? DEFAULT_BUDGET_MS) * (opts.fuelPerMs ?? FUEL_PER_MS))));
  const defer = opts.defer ?? ((fn: () => void) => void globalThis.setTimeout(fn, 0));
  const entries = new Map<string, Entry>();
  const listeners: ((set: PluginSet) => void)[] = [];
  let current: PluginSet = EMPTY_PLUGIN_SET;
  let version = 0;
  let chain: Promise<void> = Promise.resolve();

  const onFailure = (plugin: string, cause: FailureCause, err: unknown) => {
    const e = entries.get(plugin);
    const now = clock.monotonic();
    // one line per plugin per second: a guest failing on every request must not flood the log
    if (!opts.log || (e && now - e.lastFailureLog < 1000)) return;
    if (e) e.lastFailureLog = now;
    opts.log(plugin, 'warn', `plugin call failed (${cause}): ${err instanceof Error ? err.message : String(err)}`);
  };

  async function loadInto(e: Entry, b: PluginBinding): Promise<void> {
    try {
      const compiled = await loader.load(b);
      const v = await LoadedPlugin.load(b, compiled, {
        clock,
        kv: e.kv,
        stats: e.stats,
        fuel,
        defer,
        syncRebuild: opts.syncRebuild,
        log: opts.log,
        metrics: opts.metrics,
        onFailure,
      });
      // a later update may have replaced or removed this binding while it loaded
      if (entries.get(b.name) !== e || e.binding !== b) return;
      e.serving = v;
      e.state = 'ready';
      e.error = undefined;
      e.loadedAt = new Date(clock.now ? clock.now() : Date.now()).toISOString();
    } catch (err) {
      if (entries.get(b.name) !== e || e.binding !== b) return;
      e.error = err instanceof Error ? err.message : String(err);
      e.state = e.serving ? 'ready' : 'failed';
    }
  }

  async function apply(bindings: readonly PluginBinding[]): Promise<void> {
    const desired = new Map<string, PluginBinding>();
    for (const b of bindings) desired.set(b.name, b);
    for (const name of [...entries.keys()]) if (!desired.has(name)) entries.delete(name);
    const loads: Promise<void>[] = [];
    for (const b of desired.values()) {
      let e = entries.get(b.name);
      if (e === undefined) {
        e = { binding: b, stats: newStats(), kv: new SharedKv(clock, opts.kvMaxKeys), serving: undefined, state: 'loading', error: undefined, loadedAt: undefined, lastFailureLog: -Infinity };
        entries.set(b.name, e);
      }
      e.binding = b;
      const s = e.serving;
      if (s !== undefined && s.binding.kind === b.kind && loadKey(s.binding) === loadKey(b)) {
        if (bindKey(s.binding) !== bindKey(b)) e.serving = s.rebind(b);
        e.error = undefined;
        e.state = 'ready';
        continue;
      }
      if (s === undefined) e.state = 'loading';
      loads.push(loadInto(e, b));
    }
    await Promise.all(loads);
    swap();
  }

  function swap(): void {
    const filters: BoundHandle<HttpFilterHandle>[] = [];
    const l4: BoundHandle<L4PolicyHandle>[] = [];
    const pickers: BoundHandle<EndpointPickerHandle>[] = [];
    for (const e of entries.values()) {
      const v = e.serving;
      if (v === undefined) continue;
      const item = { binding: v.binding, handle: v.handle as never };
      if (v.binding.kind === 'http-filter') filters.push(item);
      else if (v.binding.kind === 'l4-policy') l4.push(item);
      else pickers.push(item);
    }
    current = new ImmutablePluginSet(++version, filters, l4, pickers);
    for (const l of listeners) {
      try {
        l(current);
      } catch {
        // a listener's failure must not undo the swap
      }
    }
  }

  return {
    update(bindings) {
      // pushes apply in order; each resolves when its own loads have settled
      const next = chain.then(() => apply(bindings));
      chain = next.catch(() => {});
      return next;
    },
    plugins: () => current,
    status() {
      const out: PluginStatus[] = [];
      for (const [name, e] of entries) {
        const s: PluginStatus = {
          name,
          kind: e.binding.kind,
          url: e.binding.url,
          state: e.state,
          calls: e.stats.calls,
          failures: { ...e.stats.failures },
          recycles: e.stats.recycles,
        };
        if (e.serving) s.servingSha256 = e.serving.compiled.sha256;
        if (e.error !== undefined) s.error = e.error;
        if (e.loadedAt !== undefined) s.loadedAt = e.loadedAt;
        out.push(s);
      }
      return out;
    },
    onSwap(listener) {
      listeners.push(listener);
    },
    kv: (name) => entries.get(name)?.kv,
  };
}
