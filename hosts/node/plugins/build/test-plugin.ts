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
import type { EndpointPickerCase, HttpFilterCase, L4PolicyCase, PluginTests } from '../../../../plugins/sdk/testing.ts';
import { loadPluginForTest, type PluginUnderTest } from '../loader.ts';
import { buildPlugin, defaultCacheFile } from './build-plugin.ts';
import { bundlePlugin } from './bundle.ts';
import type { PluginBackend } from './componentize.ts';
import { formatSize } from './format.ts';
import { checkHttpFilterCase, checkL4Case, checkPickerCase, type Differences } from './run-cases.ts';

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
  for (const c of tests.cases) {
    const config = JSON.stringify(('config' in c && c.config !== undefined ? c.config : tests.config) ?? {});
    let diffs: Differences;
    const logs: string[] = [];
    try {
      diffs = await runCase(built.world, built.bytes, config, c, logs);
    } catch (e) {
      diffs = [`error: ${(e as Error).message ?? String(e)}`];
    }
    if (diffs.length === 0) {
      passed++;
      out(`ok   ${c.name}`);
    } else {
      failed++;
      out(`FAIL ${c.name}`);
      for (const d of diffs) out(`       ${d}`);
      // what the guest logged, and the runtime's "plugin call failed (trap): ..." lines
      for (const l of logs) out(`       log ${l}`);
    }
  }
  const ms = Math.round(performance.now() - started);
  out(`${failed === 0 ? 'passed' : 'FAILED'}: ${passed} passed, ${failed} failed (${tests.cases.length} cases, ${ms} ms)`);
  return { passed, failed };
}

async function runCase(world: string, bytes: Uint8Array, config: string, c: PluginTests['cases'][number], logs: string[]): Promise<Differences> {
  const loaded = await loadPluginForTest(bytes, { config });
  const diffs = checkCase(world, loaded, c);
  logs.push(...loaded.logs);
  return diffs;
}

function checkCase(world: string, loaded: PluginUnderTest, c: PluginTests['cases'][number]): Differences {
  if (world === 'http-filter') {
    if (!('request' in c) || !('expect' in c) || 'candidates' in c) return ['not an http-filter case (needs request and expect)'];
    if (!loaded.filter) return ['the component exports no filter'];
    return checkHttpFilterCase(loaded.filter, c as HttpFilterCase);
  }
  if (world === 'l4-policy') {
    if (!('connection' in c)) return ['not an l4-policy case (needs connection)'];
    if (!loaded.l4) return ['the component exports no connection-policy'];
    return checkL4Case(loaded.l4, c as L4PolicyCase);
  }
  if (!('candidates' in c)) return ['not an endpoint-picker case (needs candidates)'];
  if (!loaded.picker) return ['the component exports no picker'];
  return checkPickerCase(loaded.picker, c as EndpointPickerCase);
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
