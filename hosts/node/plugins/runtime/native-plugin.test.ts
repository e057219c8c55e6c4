// The trusted native plugin path (benchmarks, development): buildPlugin({ backend: 'native' })
// makes a plain ES module whose weft:plugin imports forward to the host's import table, and the
// Node loader runs it only with WEFT_PLUGINS_TRUSTED_NATIVE=1.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginBinding } from '../../../../core/plugin/contract.ts';
import { RecordedExchange } from '../../../../core/plugin/recorded-exchange.ts';
import { createPluginRuntime } from '../../../../core/plugin/runtime.ts';
import { buildPlugin, type BuiltPlugin } from '../build/build-plugin.ts';
import { createNodePluginLoader } from '../loader.ts';
import { pluginBinding } from '../../../../test/support/plugin-binding.ts';
import { TRUSTED_NATIVE_ENV } from './native-plugin.ts';

const builtin = (name: string) => join(import.meta.dirname, '..', '..', '..', '..', 'plugins', 'builtin', name);
let dir: string;
let rewrite: BuiltPlugin;
let limit: BuiltPlugin;

const binding = (b: Partial<PluginBinding> & { url: string }): PluginBinding => pluginBinding({ name: 'demo.p', ...b });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-native-plugin-'));
  rewrite = await buildPlugin({ dir: builtin('header-rewrite'), backend: 'native', outFile: join(dir, 'header-rewrite.mjs') });
  limit = await buildPlugin({ dir: builtin('rate-limit'), backend: 'native', outFile: join(dir, 'rate-limit.mjs') });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env[TRUSTED_NATIVE_ENV];
});

describe('native plugin builds', () => {
  it('are one ES module with the world export and __weftBind, and no weft:plugin import left', () => {
    const js = new TextDecoder().decode(rewrite.bytes);
    expect(rewrite.outFile.endsWith('.mjs')).toBe(true);
    expect(js).not.toMatch(/from\s*["']weft:/);
    expect(js).toMatch(/__weftBind/);
    expect(js).toMatch(/export\s*\{[^}]*filter/);
  });

  it('are refused without WEFT_PLUGINS_TRUSTED_NATIVE=1, with a message saying why', async () => {
    const loader = createNodePluginLoader();
    await expect(loader.load(binding({ url: pathToFileURL(rewrite.outFile).href }))).rejects.toThrow(/unsandboxed.*WEFT_PLUGINS_TRUSTED_NATIVE=1/);
    process.env[TRUSTED_NATIVE_ENV] = '0';
    await expect(loader.load(binding({ url: pathToFileURL(rewrite.outFile).href }))).rejects.toThrow(/refused/);
  });

  it('with the variable set, serve through the runtime like a component: config, host calls, phases', async () => {
    process.env[TRUSTED_NATIVE_ENV] = '1';
    const runtime = createPluginRuntime(createNodePluginLoader());
    const config = JSON.stringify({ request: { set: { 'x-tenant': 't-${header.x-user}' } }, response: { set: { 'x-status': '${response.status}' } } });
    await runtime.update([binding({ url: pathToFileURL(rewrite.outFile).href, sha256: rewrite.sha256, config })]);
    const st = runtime.status()[0]!;
    expect(st.state).toBe('ready');
    expect(st.servingSha256).toBe(rewrite.sha256);
    const f = runtime.plugins().httpFilters[0]!;
    expect(f.phases).toMatchObject({ requestHeaders: true, responseHeaders: true, requestBody: false });
    const x = new RecordedExchange({ headers: { 'x-user': 'ada' } });
    expect(f.onRequestHeaders(x)).toEqual({ tag: 'continue' });
    expect(x.requestHeaders.get('x-tenant')).toBe('t-ada');
    x.setResponse({ status: 201 });
    f.onResponseHeaders(x);
    expect(x.responseHeaders.get('x-status')).toBe('201');
    // a new config is a new version with its own module state
    await runtime.update([binding({ url: pathToFileURL(rewrite.outFile).href, config: JSON.stringify({ request: { set: { 'x-tenant': 'v2' } } }) })]);
    const y = new RecordedExchange({});
    runtime.plugins().httpFilters[0]!.onRequestHeaders(y);
    expect(y.requestHeaders.get('x-tenant')).toBe('v2');
  });

  it('pass u64 values as the host expects (rate-limit on the shared KV: the 2nd request over a burst of 1 gets 429)', async () => {
    process.env[TRUSTED_NATIVE_ENV] = '1';
    const runtime = createPluginRuntime(createNodePluginLoader());
    await runtime.update([binding({ url: pathToFileURL(limit.outFile).href, config: JSON.stringify({ requestsPerSecond: 1, burst: 1 }) })]);
    const f = runtime.plugins().httpFilters[0]!;
    expect(f.onRequestHeaders(new RecordedExchange({})).tag).toBe('continue');
    const second = f.onRequestHeaders(new RecordedExchange({}));
    expect(second).toMatchObject({ tag: 'respond', val: { status: 429 } });
    expect(runtime.status()[0]!.failures).toEqual({ trap: 0, timeout: 0, memory: 0, error: 0 });
  });

  it('are refused when the pinned sha256 differs', async () => {
    process.env[TRUSTED_NATIVE_ENV] = '1';
    await expect(createNodePluginLoader().load(binding({ url: pathToFileURL(rewrite.outFile).href, sha256: '0'.repeat(64) }))).rejects.toThrow(/sha256 mismatch/);
  });
});
