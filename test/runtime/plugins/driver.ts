/**
 * The runtime-neutral half of the plugin parity test: given a prepared plugin (jco's glue
 * `instantiate` and its metered core modules, already compiled by whoever hosts this code), build
 * the CompiledPlugin a loader would, run the plugin's PluginTests cases through core's own runner
 * (core/plugin/plugin-under-test.ts, what `weft plugin test` runs) and return one compact record per
 * case. Imports core only: runs as it is on Node, Deno and workerd.
 */
import type { CompiledPlugin, GlueInstantiate } from '../../../core/plugin/compiled-plugin.ts';
import type { PluginKind } from '../../../core/plugin/contract.ts';
import { runPluginTests } from '../../../core/plugin/plugin-under-test.ts';
import type { CaseOutcome, Differences } from '../../../core/plugin/run-cases.ts';
import type { PluginTests } from '../../../plugins/sdk/testing.ts';

/** What the preparing step wrote beside each plugin's files (manifest.json). */
export interface PreparedPlugin {
  name: string;
  sha256: string;
  kind: PluginKind;
  fuelExport: string;
  memoryMaxBytes: number;
  /** core module files, by the names the glue asks for */
  modules: string[];
}

export interface CaseRecord {
  name: string;
  outcome?: CaseOutcome;
  diffs: Differences;
  /** guest log lines and the runtime's "plugin call failed" lines */
  logs: string[];
}

/** What each runtime reports: its name and version, and the records by plugin name. */
export interface ParityRun {
  runtime: string;
  version: string;
  results: Record<string, CaseRecord[]>;
}

/**
 * A clock that never moves: the rate limiter refills by the monotonic clock, so with a real one a
 * slow runtime could see a token come back between two repeats. Frozen, every runtime sees the
 * same buckets.
 */
const FROZEN_CLOCK = { monotonic: () => 1_000_000, now: () => Date.UTC(2026, 0, 1) };

export async function runPreparedPlugin(
  p: PreparedPlugin,
  instantiate: GlueInstantiate,
  getCoreModule: (name: string) => WebAssembly.Module,
  tests: PluginTests,
): Promise<CaseRecord[]> {
  const compiled: CompiledPlugin = {
    sha256: p.sha256,
    kind: p.kind,
    instantiate,
    getCoreModule,
    fuelExport: p.fuelExport,
    memoryMaxBytes: p.memoryMaxBytes,
  };
  const results = await runPluginTests(compiled, p.kind, tests, { clock: FROZEN_CLOCK });
  return results.map((r) => {
    const rec: CaseRecord = { name: r.name, diffs: r.diffs, logs: r.logs };
    if (r.outcome) rec.outcome = r.outcome;
    return rec;
  });
}

/** Every plugin of a manifest, in order; `load` gives a plugin's glue and compiled core modules. */
export async function runAll(
  plugins: readonly PreparedPlugin[],
  load: (p: PreparedPlugin) => Promise<{ instantiate: GlueInstantiate; modules: Map<string, WebAssembly.Module> }>,
  testsOf: (name: string) => PluginTests,
): Promise<Record<string, CaseRecord[]>> {
  const out: Record<string, CaseRecord[]> = {};
  for (const p of plugins) {
    const { instantiate, modules } = await load(p);
    const get = (n: string): WebAssembly.Module => {
      const m = modules.get(n);
      if (!m) throw new Error(`${p.name}: the glue asked for an unknown core module ${n}`);
      return m;
    };
    out[p.name] = await runPreparedPlugin(p, instantiate, get, testsOf(p.name));
  }
  return out;
}
