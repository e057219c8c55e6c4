/**
 * The plugins bench in process on any runtime, through the edge host's plugin runtime: core's
 * createPluginRuntime over hosts/edge's bundledPluginLoader (the prepared glue and compiled core
 * modules), as hosts/edge/app.ts builds it. Runtime-neutral: Node, Deno and workerd each call these
 * with the bundled plugins and their clock.
 *
 * - `time`: cold load (update() until the PluginSet serves; the core modules are already compiled,
 *   as every edge runtime compiles them at start), the decision checked, warm-up, then `calls` calls
 *   timed one by one (when the clock is fine enough) and in batches (a batch timed as a whole and
 *   divided: workerd's clock moves in steps of a millisecond or more, so only batches resolve).
 * - `memory`: more bindings of the same plugin (two instances each, the serving one and a warm
 *   spare), each called once; the caller reads the RSS around `grow`.
 */
import type { HttpFilterHandle, PluginRuntime } from '../../../core/plugin/contract.ts';
import { RecordedExchange } from '../../../core/plugin/recorded-exchange.ts';
import { createPluginRuntime } from '../../../core/plugin/runtime.ts';
import { bundledPluginLoader, type BundledPlugin } from '../../../hosts/edge/plugins.ts';
import { REQUEST, RESPONSE, SPECS, binding, type Builtin } from './specs.ts';

export interface EdgeMicroResult {
  plugin: string;
  phases: string;
  /** update() of the first binding until it serves, ms */
  coldMs: number;
  /** one call at a time (NaN when the clock cannot resolve a call) */
  callP50: number;
  callP99: number;
  reqP50: number;
  reqP99: number;
  /** per request, from batches timed whole: the mean over all, and the p50 / p99 of the batch means, us */
  batchMean: number;
  batchP50: number;
  batchP99: number;
  batch: number;
  /** the clock's smallest step seen, us */
  clockStepUs: number;
  failures: number;
}

const urlOf = (p: string) => `file:///builtin/${p}.wasm`;

function pct(xs: number[], p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** the smallest non-zero step of `now` over a few ms */
export function clockStep(now: () => number): number {
  let prev = now();
  let min = Infinity;
  const end = prev + 20;
  for (let i = 0; i < 10_000_000; i++) {
    const t = now();
    if (t !== prev) {
      min = Math.min(min, t - prev);
      prev = t;
      if (t > end) break;
    }
  }
  return min * 1000;
}

export function edgeRuntime(plugins: readonly BundledPlugin[]): PluginRuntime {
  return createPluginRuntime(bundledPluginLoader(plugins), { log: () => {} });
}

/** the first binding of a fresh runtime: load, check the decision; ms */
export async function coldLoad(runtime: PluginRuntime, plugin: Builtin, now: () => number): Promise<number> {
  const t0 = now();
  await runtime.update([binding('bench.p', urlOf(plugin), SPECS[plugin].kind, SPECS[plugin].config)]);
  const ms = now() - t0;
  const st = runtime.status()[0]!;
  if (st.state !== 'ready') throw new Error(`${plugin} did not load: ${st.error}`);
  return ms;
}

/** one exchange through the filter; for header-rewrite, its headers must be set (else it is not applied) */
function checkDecision(h: HttpFilterHandle, plugin: Builtin): void {
  const x = new RecordedExchange(REQUEST, RESPONSE);
  const a = h.onRequestHeaders(x);
  if (a.tag !== 'continue') throw new Error(`${plugin}: the bench request was not let through: ${JSON.stringify(a)}`);
  if (h.phases.responseHeaders) h.onResponseHeaders(x);
  if (plugin === 'header-rewrite' && (x.requestHeaders.get('x-client') !== 'wrk' || x.responseHeaders.get('x-bench') !== 'rewritten')) {
    throw new Error(`header-rewrite not applied: x-client ${x.requestHeaders.get('x-client')}, x-bench ${x.responseHeaders.get('x-bench')}`);
  }
}

export async function timeEdgeCalls(plugins: readonly BundledPlugin[], o: { plugin: Builtin; calls: number; batch: number; now: () => number; perCall: boolean }): Promise<EdgeMicroResult> {
  if (SPECS[o.plugin].kind !== 'http-filter') throw new Error(`${o.plugin}: the edge host runs http filters only`);
  const runtime = edgeRuntime(plugins);
  const coldMs = await coldLoad(runtime, o.plugin, o.now);
  const h: HttpFilterHandle = runtime.plugins().httpFilters[0]!;
  checkDecision(h, o.plugin);
  const p = h.phases;
  const phases = [p.requestHeaders && 'req', p.requestBody && 'req body', p.responseHeaders && 'resp', p.responseBody && 'resp body'].filter(Boolean).join('+');
  // one exchange for every call: the filters here only set headers to the same values again
  const x = new RecordedExchange(REQUEST, RESPONSE);
  const once = () => {
    if (p.requestHeaders) h.onRequestHeaders(x);
    if (p.responseHeaders) h.onResponseHeaders(x);
  };
  const warm = Math.min(20_000, o.calls);
  for (let i = 0; i < warm; i++) once();
  const now = o.now;
  const first: number[] = [];
  const whole: number[] = [];
  if (o.perCall) {
    for (let i = 0; i < o.calls; i++) {
      const t0 = now();
      if (p.requestHeaders) h.onRequestHeaders(x);
      const t1 = now();
      if (p.responseHeaders) h.onResponseHeaders(x);
      const t2 = now();
      first.push((t1 - t0) * 1000);
      whole.push((t2 - t0) * 1000);
    }
  }
  const means: number[] = [];
  let total = 0;
  for (let done = 0; done < o.calls; done += o.batch) {
    const n = Math.min(o.batch, o.calls - done);
    const t0 = now();
    for (let i = 0; i < n; i++) once();
    const ms = now() - t0;
    total += ms;
    means.push((ms * 1000) / n);
  }
  const failures = Object.values(runtime.status()[0]!.failures).reduce((s, n) => s + n, 0);
  return {
    plugin: o.plugin,
    phases,
    coldMs,
    callP50: o.perCall ? pct(first, 50) : NaN,
    callP99: o.perCall ? pct(first, 99) : NaN,
    reqP50: o.perCall ? pct(whole, 50) : NaN,
    reqP99: o.perCall ? pct(whole, 99) : NaN,
    batchMean: (total * 1000) / o.calls,
    batchP50: pct(means, 50),
    batchP99: pct(means, 99),
    batch: o.batch,
    clockStepUs: clockStep(now),
    failures,
  };
}

/**
 * Memory per instance, in two steps so that a caller outside the process (workerd) can read the
 * RSS between them: `base` loads one binding and calls it; `grow` adds `extra` bindings (two
 * instances each) and calls every one, then lets deferred work (spare instances) run.
 */
export function memorySteps(plugins: readonly BundledPlugin[], plugin: Builtin) {
  const runtime = edgeRuntime(plugins);
  const spec = SPECS[plugin];
  const base = binding('bench.p', urlOf(plugin), spec.kind, spec.config);
  const callAll = () => {
    for (const f of runtime.plugins().httpFilters) f.onRequestHeaders(new RecordedExchange(REQUEST, RESPONSE));
  };
  const settle = () => new Promise((r) => setTimeout(r, 100));
  return {
    async base(): Promise<void> {
      await runtime.update([base]);
      callAll();
      await settle();
    },
    async grow(extra: number): Promise<number> {
      const more = Array.from({ length: extra }, (_, i) => binding(`bench.extra-${i}`, urlOf(plugin), spec.kind, spec.config));
      await runtime.update([base, ...more]);
      callAll();
      await settle();
      const ready = runtime.status().filter((s) => s.state === 'ready').length;
      if (ready !== extra + 1) throw new Error(`memory: ${ready} of ${extra + 1} bindings ready`);
      // instances: each binding's serving one and its spare
      return extra * 2;
    },
  };
}
