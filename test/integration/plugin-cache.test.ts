/**
 * Prepared plugin components (hosts/node/plugins/runtime/prepared-store.ts): a built-in prepared by
 * the build step loads without a child process; a new component is prepared by a child process
 * once, and a second runtime then loads it from the cache (metered modules included); a damaged
 * entry is ignored and prepared again; when no child can be started jco runs in this process.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginBinding } from '../../core/plugin/contract.ts';
import { RecordedExchange } from '../../core/plugin/recorded-exchange.ts';
import { createNodePluginRuntime, type NodePluginRuntimeOptions } from '../../hosts/node/plugins/loader.ts';
import type { Spawner } from '../../hosts/node/plugins/runtime/child-transpile.ts';
import { sha256Hex } from '../../hosts/node/plugins/runtime/fetch-component.ts';
import { prepareBuiltins } from '../../hosts/node/plugins/runtime/prepare-builtins.ts';

const dist = process.env.WEFT_DIST ?? 'dist';
const source = join(dist, 'plugins', 'header-rewrite.wasm');
let dir: string;
let builtins: string;
let sha: string;

function binding(over: Partial<PluginBinding> = {}): PluginBinding {
  return {
    name: 'ns.rewrite',
    kind: 'http-filter',
    url: 'file:///builtin/header-rewrite.wasm',
    phase: 'AUTHZ',
    priority: 0,
    failStrategy: 'FAIL_CLOSE',
    config: JSON.stringify({ request: { set: { 'x-added': 'yes' } } }),
    ports: [],
    workloads: [],
    ...over,
  };
}

/** a runtime whose children and preparations are counted */
function counted(o: NodePluginRuntimeOptions) {
  const seen = { spawned: 0, prepared: [] as string[] };
  const spawn: Spawner = (c, a, opts) => {
    seen.spawned++;
    return nodeSpawn(c, a, opts);
  };
  const rt = createNodePluginRuntime({ spawn, onPrepare: (how) => seen.prepared.push(how), ...o });
  return { rt, seen };
}

async function serves(rt: ReturnType<typeof createNodePluginRuntime>): Promise<void> {
  const st = rt.status()[0];
  expect(st?.error).toBeUndefined();
  expect(st?.state).toBe('ready');
  const x = new RecordedExchange({ headers: {} });
  rt.plugins().httpFilters[0]!.onRequestHeaders(x);
  expect(x.requestHeaders.get('x-added')).toBe('yes');
}

async function meteredWritten(cacheDir: string): Promise<boolean> {
  const f = join(cacheDir, sha, 'metered-1024', 'manifest.json');
  for (let i = 0; i < 250 && !existsSync(f); i++) await new Promise((r) => setTimeout(r, 20));
  return existsSync(f);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-plugin-cache-test-'));
  builtins = join(dir, 'builtin');
  mkdirSync(builtins);
  copyFileSync(source, join(builtins, 'header-rewrite.wasm'));
  sha = sha256Hex(readFileSync(source));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('prepared plugin components', () => {
  it('loads a built-in prepared by the build step without a child process or the meter', async () => {
    await prepareBuiltins(builtins);
    expect(existsSync(join(builtins, 'prepared', sha, 'metered-1024', 'manifest.json'))).toBe(true);
    const cacheDir = join(dir, 'cache-a');
    const { rt, seen } = counted({ builtinDir: builtins, cacheDir });
    await rt.update([binding()]);
    await serves(rt);
    expect(seen).toEqual({ spawned: 0, prepared: [] });
    // the writable cache is not even created
    expect(existsSync(cacheDir)).toBe(false);
    // a second run of the build step keeps the entry
    await prepareBuiltins(builtins);
    expect(existsSync(join(builtins, 'prepared', sha, 'manifest.json'))).toBe(true);
  }, 60_000);

  it('prepares a new component in a child process once, then serves it from the cache', async () => {
    const cacheDir = join(dir, 'cache-b');
    const first = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    const t = performance.now();
    await first.rt.update([binding()]);
    const firstMs = performance.now() - t;
    await serves(first.rt);
    expect(first.seen).toEqual({ spawned: 1, prepared: ['child'] });
    expect(existsSync(join(cacheDir, sha, 'manifest.json'))).toBe(true);
    // the metered modules are written after the first load, in the background
    expect(await meteredWritten(cacheDir)).toBe(true);

    const second = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    const t2 = performance.now();
    await second.rt.update([binding()]);
    const secondMs = performance.now() - t2;
    await serves(second.rt);
    expect(second.seen).toEqual({ spawned: 0, prepared: [] });
    console.log(`new component: ${firstMs.toFixed(0)} ms (child process); from the cache: ${secondMs.toFixed(0)} ms`);
  }, 60_000);

  it('prepares the components of one update in one child', async () => {
    copyFileSync(join(dist, 'plugins', 'ab-router.wasm'), join(builtins, 'ab-router.wasm'));
    const cacheDir = join(dir, 'cache-f');
    const { rt, seen } = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    const ab = binding({ name: 'ns.ab', url: 'file:///builtin/ab-router.wasm', config: '{}' });
    const t = performance.now();
    await rt.update([binding(), ab]);
    console.log(`two new components in one update: ${(performance.now() - t).toFixed(0)} ms (one child process)`);
    expect(rt.status().map((s) => s.state)).toEqual(['ready', 'ready']);
    expect(seen).toEqual({ spawned: 1, prepared: ['child', 'child'] });
  }, 60_000);

  it('ignores a damaged entry and prepares it again', async () => {
    const cacheDir = join(dir, 'cache-c');
    const first = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    await first.rt.update([binding()]);
    expect(first.seen.prepared).toEqual(['child']);
    expect(await meteredWritten(cacheDir)).toBe(true);

    // a core module that does not match the manifest
    const manifest = JSON.parse(readFileSync(join(cacheDir, sha, 'manifest.json'), 'utf8'));
    const big = manifest.modules.reduce((a: { bytes: number }, b: { bytes: number }) => (b.bytes > a.bytes ? b : a));
    const file = join(cacheDir, sha, big.name);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    rmSync(join(cacheDir, sha, 'metered-1024'), { recursive: true, force: true });
    const second = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    await second.rt.update([binding()]);
    await serves(second.rt);
    expect(second.seen).toEqual({ spawned: 1, prepared: ['child'] });

    // a manifest that names another component
    const m = JSON.parse(readFileSync(join(cacheDir, sha, 'manifest.json'), 'utf8'));
    writeFileSync(join(cacheDir, sha, 'manifest.json'), JSON.stringify({ ...m, sha256: '0'.repeat(64) }));
    const third = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    await third.rt.update([binding()]);
    await serves(third.rt);
    expect(third.seen).toEqual({ spawned: 1, prepared: ['child'] });
    expect(JSON.parse(readFileSync(join(cacheDir, sha, 'manifest.json'), 'utf8')).sha256).toBe(sha);
  }, 90_000);

  it('damaged metered modules are metered again', async () => {
    const cacheDir = join(dir, 'cache-b');
    const metered = join(cacheDir, sha, 'metered-1024');
    const m = JSON.parse(readFileSync(join(metered, 'manifest.json'), 'utf8'));
    writeFileSync(join(metered, m.modules[0].name), new Uint8Array([1, 2, 3]));
    const { rt, seen } = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    await rt.update([binding()]);
    await serves(rt);
    expect(seen).toEqual({ spawned: 0, prepared: [] });
  }, 60_000);

  it('runs jco in this process when no child can be started', async () => {
    const cacheDir = join(dir, 'cache-d');
    let tried = 0;
    const broken: Spawner = (_c, a, opts) => {
      tried++;
      return nodeSpawn(join(dir, 'no-such-node'), a, opts);
    };
    const prepared: string[] = [];
    const rt = createNodePluginRuntime({ builtinDir: builtins, preparedDirs: [], cacheDir, spawn: broken, onPrepare: (how) => prepared.push(how) });
    await rt.update([binding()]);
    await serves(rt);
    expect(tried).toBe(1);
    expect(prepared).toEqual(['in-process']);
    expect(existsSync(join(cacheDir, sha, 'manifest.json'))).toBe(true);
  }, 60_000);

  it('a component jco refuses fails its load with the transpiler message', async () => {
    const cacheDir = join(dir, 'cache-e');
    // a component header with nothing valid after it
    const bad = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 0xff, 0xff]);
    writeFileSync(join(builtins, 'bad.wasm'), bad);
    const { rt, seen } = counted({ builtinDir: builtins, preparedDirs: [], cacheDir });
    await rt.update([binding({ url: 'file:///builtin/bad.wasm' })]);
    expect(rt.status()[0]?.error).toMatch(/cannot transpile the component/);
    // refused by jco in the child: no second try in this process
    expect(seen).toEqual({ spawned: 1, prepared: [] });
    rmSync(join(builtins, 'bad.wasm'));
  }, 60_000);
});
