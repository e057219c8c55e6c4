/**
 * bundlePlugins: a plugin that is not a prepared built-in is prepared into the plugin cache (jco in
 * a child process, as a proxy would), then written in the layout the edge host loads; the result
 * loads and runs with the edge host's own loader (prepared-dir.ts, plugins.ts) and core's runtime.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { PluginBinding } from '../../../core/plugin/contract.ts';
import { loadPreparedDir } from '../../edge/prepared-dir.ts';
import { bundledPluginLoader } from '../../edge/plugins.ts';
import { enableWasmFeatures } from '../plugins/runtime/compile-component.ts';
import { bundlePlugins } from './plugins.ts';

const pluginsDir = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');
let dir = '';
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('bundlePlugins', () => {
  it('prepares a plugin found in no prepared root into the cache, and writes what the edge host loads', async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-edge-plugins-'));
    const file = join(pluginsDir, 'ab-router.wasm');
    const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
    const binding: PluginBinding = { name: 'web.ab', kind: 'http-filter', url: pathToFileURL(file).href, sha256, phase: 'UNSPECIFIED_PHASE', priority: 0, failStrategy: 'FAIL_CLOSE', config: '{}', ports: [], workloads: [] };
    const cache = join(dir, 'cache');
    const out = join(dir, 'plugins');
    const lines: string[] = [];
    const manifest = await bundlePlugins([binding, { ...binding, name: 'web.ab-again' }], out, { builtinDir: pluginsDir, preparedDirs: [], cacheDir: cache, log: (l) => lines.push(l) });
    expect(manifest.map((p) => [p.name, p.sha256, p.kind])).toEqual([['ab-router', sha256, 'http-filter']]);
    expect(lines.join('\n')).toMatch(/prepared now/);
    expect(existsSync(join(cache, sha256, 'manifest.json'))).toBe(true);
    const glue = readFileSync(join(out, 'ab-router', 'glue.mjs'), 'utf8');
    // nothing left for the runtime to compile from bytes (workerd refuses it)
    expect(glue).not.toMatch(/new WebAssembly\.Module\(/);
    for (const m of manifest[0]!.modules) expect(existsSync(join(out, 'ab-router', m)), m).toBe(true);
    expect(manifest[0]!.fuelExport).not.toBe('');
    // the edge host's loader takes it as it is
    enableWasmFeatures();
    const bundled = await loadPreparedDir(out, { readText: (p) => readFile(p, 'utf8'), readBytes: async (p) => new Uint8Array(await readFile(p)), importFile: (p) => import(pathToFileURL(p).href) });
    const compiled = await bundledPluginLoader(bundled).load(binding);
    expect(compiled.sha256).toBe(sha256);
    expect(compiled.kind).toBe('http-filter');
    // a second build finds it in the cache
    const again: string[] = [];
    await bundlePlugins([binding], join(dir, 'plugins2'), { builtinDir: pluginsDir, preparedDirs: [], cacheDir: cache, log: (l) => again.push(l) });
    expect(again.join('\n')).toMatch(/plugin cache/);
  }, 120_000);

  it('refuses a component whose bytes do not match the pinned sha256', async () => {
    const file = join(pluginsDir, 'ab-router.wasm');
    const binding = { name: 'web.ab', kind: 'http-filter', url: pathToFileURL(file).href, sha256: '0'.repeat(64) } as PluginBinding;
    await expect(bundlePlugins([binding], join(dir, 'x'), { builtinDir: pluginsDir, preparedDirs: [], cacheDir: join(dir, 'cache') })).rejects.toThrow(/sha256/);
  });
});
