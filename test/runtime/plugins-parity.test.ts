/**
 * The same built component gives the same decisions in the Node host and, through jco's output, on
 * Deno and on workerd (issue acceptance). The built-ins (dist/plugins/<name>.wasm, from
 * `node build.mjs`; WEFT_DIST may name another dist) are prepared once in Node as the loader does
 * it (transpile, JCO_DEBUG check out, every core module metered: plugins/prepare.ts), then the one
 * runtime-neutral driver (plugins/driver.ts, over core's createPluginRuntime and case runner) runs
 * every plugin's own cases in Node, in Deno (compiling the core modules at run time) and in workerd
 * (core modules bound as Wasm modules; it cannot compile at run time). The three decision lists
 * must be identical, and every case must meet its expectation. The plugins' clock is frozen, so the
 * rate limiter's buckets do not depend on how fast a runtime is.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll } from './harness.ts';
import { PLUGIN_TESTS } from './plugins/cases.ts';
import type { ParityRun, PreparedPlugin } from './plugins/driver.ts';
import { runPluginsInDeno, runPluginsInWorkerd } from './plugins/harness.ts';
import { preparePlugins } from './plugins/prepare.ts';
import { runPluginsInNode } from './plugins/run-node.ts';

const NAMES = ['ab-router', 'header-rewrite', 'jwt-claims', 'l4-allow-list', 'rate-limit'];
const pluginsDir = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');
const CHILD_MS = 90_000;

let dir: string;
let denoDir: string;
let plugins: PreparedPlugin[];
let node: ParityRun;
let deno: PromiseSettledResult<ParityRun>;
let workerd: PromiseSettledResult<ParityRun>;

beforeAll(async () => {
  for (const n of NAMES) if (!existsSync(join(pluginsDir, `${n}.wasm`))) throw new Error(`${join(pluginsDir, `${n}.wasm`)} is missing: run \`node build.mjs\` first`);
  dir = await mkdtemp(join(tmpdir(), 'weft-plugin-parity-'));
  denoDir = await mkdtemp(join(tmpdir(), 'weft-deno-'));
  plugins = await preparePlugins(pluginsDir, NAMES, dir);
  // the children start together and run while Node runs its own
  const children = Promise.allSettled([runPluginsInDeno(dir, denoDir, CHILD_MS), runPluginsInWorkerd(dir, plugins, CHILD_MS)]);
  node = await runPluginsInNode(dir, plugins);
  [deno, workerd] = await children;
}, 150_000);

afterAll(async () => {
  killAll();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (denoDir) await rm(denoDir, { recursive: true, force: true });
});

function settled(run: PromiseSettledResult<ParityRun>): ParityRun {
  if (run.status === 'rejected') throw run.reason;
  return run.value;
}

describe('built-in plugins on Node, Deno and workerd', () => {
  it('prepares every built-in with metered core modules', () => {
    expect(plugins.map((p) => p.name)).toEqual(NAMES);
    for (const p of plugins) {
      expect(p.fuelExport).toBe('weft_fuel');
      expect(p.modules.length).toBeGreaterThan(5);
    }
  });

  it("meets every case's expectation in Node", () => {
    expect(Object.keys(node.results)).toEqual(NAMES);
    for (const n of NAMES) {
      const records = node.results[n]!;
      expect(records.map((r) => r.name)).toEqual(PLUGIN_TESTS[n]!.cases.map((c) => c.name));
      for (const r of records) {
        expect(r.diffs, `${n}: ${r.name}`).toEqual([]);
        expect(r.outcome, `${n}: ${r.name}`).toBeDefined();
        // a failStrategy answer could pass a case by accident (rate-limit expects a 503 of its own)
        expect(r.logs.filter((l) => l.includes('plugin call failed')), `${n}: ${r.name}`).toEqual([]);
      }
    }
    // the decisions are real: a route, a cluster, a direct response and both L4 answers occur
    const tags = NAMES.flatMap((n) => node.results[n]!.map((r) => (r.outcome?.kind === 'http-filter' ? r.outcome.action.tag : r.outcome?.kind === 'l4-policy' ? r.outcome.decision.tag : '')));
    expect(new Set(tags)).toEqual(new Set(['continue', 'respond', 'route', 'cluster', 'allow', 'deny']));
  });

  it('decides identically in Deno', () => {
    const run = settled(deno);
    expect(run.runtime).toBe('deno');
    expect(run.results).toEqual(node.results);
  });

  it('decides identically in workerd, with the core modules bound as Wasm modules', () => {
    const run = settled(workerd);
    expect(run.runtime).toBe('workerd');
    expect(run.results).toEqual(node.results);
  });
});
