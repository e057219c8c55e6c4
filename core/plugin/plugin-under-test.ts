/**
 * One compiled plugin under test, through the same runtime a proxy uses (createPluginRuntime), and
 * a PluginTests file run against it case by case. Runtime-neutral: `weft plugin test` and the
 * built-ins' tests run it on Node, the parity tests (test/runtime/plugins-parity) on Deno and
 * workerd too.
 */
import type { EndpointPickerHandle, HttpFilterHandle, L4PolicyHandle, PluginBinding, PluginKind } from './contract.ts';
import type { CompiledPlugin } from './compiled-plugin.ts';
import type { MonotonicClock, SharedKv } from './host-imports.ts';
import { createPluginRuntime } from './runtime.ts';
import { caseConfig, runCase, type CaseOutcome, type Differences } from './run-cases.ts';
import type { PluginTests } from '../../plugins/sdk/testing.ts';

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

export interface UnderTestOptions {
  budgetMs?: number;
  /** the plugins' clock (default: the runtime's); a fixed one makes time-based plugins deterministic */
  clock?: MonotonicClock & { now?(): number };
}

/** The kind defaults to the world the component exports; a load failure rejects. */
export async function loadCompiledForTest(compiled: CompiledPlugin, binding: Partial<PluginBinding> = {}, opts: UnderTestOptions = {}): Promise<PluginUnderTest> {
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
      clock: opts.clock,
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

export interface CaseResult {
  name: string;
  /** what the plugin did (absent when it could not run) */
  outcome?: CaseOutcome;
  diffs: Differences;
  /** what the guest logged, and the runtime's "plugin call failed" lines */
  logs: string[];
}

/**
 * Every case of a PluginTests file, each on a fresh instance and key-value store (a rate limit's
 * counts in one case never leak into the next). A case that throws is a failed case, not a rejection.
 */
export async function runPluginTests(
  compiled: CompiledPlugin,
  world: PluginKind,
  tests: PluginTests,
  opts: UnderTestOptions & { onResult?: (r: CaseResult) => void } = {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of tests.cases) {
    let r: CaseResult;
    try {
      const loaded = await loadCompiledForTest(compiled, { kind: compiled.kind ?? world, config: caseConfig(tests, c) }, opts);
      r = { name: c.name, ...runCase(world, loaded, c), logs: loaded.logs };
    } catch (e) {
      r = { name: c.name, diffs: [`error: ${e instanceof Error ? e.message : String(e)}`], logs: [] };
    }
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}
