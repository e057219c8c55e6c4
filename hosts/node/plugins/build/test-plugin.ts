/**
 * `weft plugin test DIR`: builds the component (cached under DIR/dist), loads DIR/plugin.test.ts's
 * cases, and runs each against the COMPONENT through the proxies' own plugin runtime, so what passes
 * here is what a gateway will do. One fresh instance per case: a rate limit's counts or a cache in
 * one case never leak into the next.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompiledPlugin } from '../../../../core/plugin/compiled-plugin.ts';
import { runPluginTests, type CaseResult } from '../../../../core/plugin/plugin-under-test.ts';
import type { PluginTests } from '../../../../plugins/sdk/testing.ts';
import { compileForTest } from '../loader.ts';
import { buildPlugin, defaultCacheFile } from './build-plugin.ts';
import { bundlePlugin } from './bundle.ts';
import type { PluginBackend } from './componentize.ts';
import { formatSize } from './format.ts';

export interface TestPluginOptions {
  dir: string;
  backend?: PluginBackend;
  out: (line: string) => void;
}

export interface TestPluginResult {
  passed: number;
  failed: number;
}

export async function testPlugin({ dir, backend = 'quickjs', out }: TestPluginOptions): Promise<TestPluginResult> {
  const root = resolve(dir);
  const built = await buildPlugin({ dir: root, backend, cacheFile: defaultCacheFile(root, backend), onProgress: out });
  if (!built.cached) out(`built ${built.outFile} (${formatSize(built.size)}, ${built.ms} ms)`);
  const tests = await loadTests(root);
  let passed = 0;
  let failed = 0;
  const started = performance.now();
  const report = (r: CaseResult) => {
    if (r.diffs.length === 0) {
      passed++;
      out(`ok   ${r.name}`);
      return;
    }
    failed++;
    out(`FAIL ${r.name}`);
    for (const d of r.diffs) out(`       ${d}`);
    // what the guest logged, and the runtime's "plugin call failed (trap): ..." lines
    for (const l of r.logs) out(`       log ${l}`);
  };
  // compiled once (cached by sha256); each case then gets a fresh instance
  let compiled: CompiledPlugin | undefined;
  try {
    compiled = await compileForTest(built.bytes);
  } catch (e) {
    // every case fails with the load error, as a case that cannot load does
    for (const c of tests.cases) report({ name: c.name, diffs: [`error: ${(e as Error).message ?? String(e)}`], logs: [] });
  }
  if (compiled) await runPluginTests(compiled, built.world, tests, { onResult: report });
  const ms = Math.round(performance.now() - started);
  out(`${failed === 0 ? 'passed' : 'FAILED'}: ${passed} passed, ${failed} failed (${tests.cases.length} cases, ${ms} ms)`);
  return { passed, failed };
}

/** plugin.test.ts -> its default export, bundled (it may import the SDK or helpers of its own) */
async function loadTests(root: string): Promise<PluginTests> {
  if (!existsSync(join(root, 'plugin.test.ts'))) throw new Error(`${join(root, 'plugin.test.ts')} not found: nothing to test (see weft plugin new)`);
  const js = await bundlePlugin({ entry: join(root, 'plugin.test.ts'), platform: 'node' });
  const file = join(root, 'dist', 'plugin.test.mjs');
  await mkdir(join(root, 'dist'), { recursive: true });
  await writeFile(file, js);
  const mod = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { default?: PluginTests };
  const tests = mod.default;
  if (!tests || !Array.isArray(tests.cases)) throw new Error(`${join(root, 'plugin.test.ts')}: the default export must be { config?, cases: [...] } (PluginTests)`);
  return tests;
}
