// @ts-nocheck -- a fake plugin runtime and hand-made xDS updates.
import { describe, expect, it } from 'vitest';
import { encodePluginBinding } from '../../../core/xds/plugins.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { PluginHost } from './plugin-host.ts';

const binding = (name, url = `file:///builtin/${name}.wasm`) => ({ name, kind: 'http-filter', url, phase: 'UNSPECIFIED_PHASE', priority: 0, failStrategy: 'FAIL_CLOSE', config: '{}', ports: [], workloads: [] });
const update = (bs, removed = []) => ({ typeUrl: TYPE_URL.extensionConfig, systemVersion: '1', nonce: 'n', resources: bs.map((b) => ({ name: b.name, version: 'v', bytes: encodePluginBinding(b) })), removed });

/** A runtime whose loads fail for URLs containing "bad" (the previous version serving on). */
function fakeRuntime() {
  const r = {
    made: 0,
    updates: [],
    entries: new Map(),
    async update(bs) {
      r.updates.push(bs.map((b) => b.name));
      const next = new Map();
      for (const b of bs) {
        const prev = r.entries.get(b.name);
        next.set(b.name, b.url.includes('bad') ? { ...(prev ?? { name: b.name, kind: b.kind, url: b.url, calls: 0, failures: { trap: 0, timeout: 0, memory: 0, error: 0 }, recycles: 0 }), state: prev ? 'ready' : 'failed', error: 'fetch failed' } : { name: b.name, kind: b.kind, url: b.url, state: 'ready', calls: 3, failures: { trap: 1, timeout: 0, memory: 0, error: 0 }, recycles: 1 });
      }
      r.entries = next;
    },
    plugins: () => ({ version: r.updates.length }),
    status: () => [...r.entries.values()],
  };
  return r;
}

describe('PluginHost', () => {
  it('makes no runtime while no plugin is bound; loads it with the first binding; ACKs a good load', async () => {
    const rt = fakeRuntime();
    let made = 0;
    const host = new PluginHost({ log: () => {}, createRuntime: () => (made++, rt) });
    expect(host.apply(update([]))).toBeUndefined();
    expect(made).toBe(0);
    expect(host.plugins()).toBeUndefined();
    expect(await host.apply(update([binding('ns.a')]))).toBeUndefined();
    expect(made).toBe(1);
    expect(rt.updates).toEqual([['ns.a']]);
    expect(host.plugins()).toEqual({ version: 1 });
    // delta: a second resource adds to the held one; removal drops it
    expect(await host.apply(update([binding('ns.b')]))).toBeUndefined();
    expect(await host.apply(update([], ['ns.a']))).toBeUndefined();
    expect(rt.updates).toEqual([['ns.a'], ['ns.a', 'ns.b'], ['ns.b']]);
  });

  it('NACKs a load failure with the error; the next push is decoded against what serves', async () => {
    const rt = fakeRuntime();
    const host = new PluginHost({ log: () => {}, createRuntime: async () => rt });
    await host.apply(update([binding('ns.a')]));
    const nack = await host.apply(update([binding('ns.a', 'https://x/bad.wasm')]));
    expect(nack).toMatch(/ns\.a: fetch failed \(the previous version serves on\)/);
    expect(await host.apply(update([binding('ns.b')]))).toBeUndefined();
    expect(rt.updates.at(-1)).toEqual(['ns.a', 'ns.b']);
    expect(rt.entries.get('ns.a').url).toBe('file:///builtin/ns.a.wasm');
  });

  it('NACKs a malformed resource synchronously', () => {
    const host = new PluginHost({ log: () => {}, createRuntime: () => fakeRuntime() });
    const u = { typeUrl: TYPE_URL.extensionConfig, systemVersion: '1', nonce: 'n', resources: [{ name: 'x', version: 'v', bytes: new Uint8Array([1, 2, 3]) }], removed: [] };
    expect(typeof host.apply(u)).toBe('string');
  });

  it('renders weft_plugin_calls_total by result and the plugins own counters', async () => {
    const rt = fakeRuntime();
    const host = new PluginHost({ log: () => {}, createRuntime: () => rt });
    await host.apply(update([binding('ns.a')]));
    host.metrics.counterAdd('ns.a', 'hits', 2);
    host.metrics.histogramRecord('ns.a', 'size', 5);
    const text = host.metrics.metrics();
    expect(text).toContain('weft_plugin_calls_total{plugin="ns.a",result="ok"} 2');
    expect(text).toContain('weft_plugin_calls_total{plugin="ns.a",result="trap"} 1');
    expect(text).toContain('weft_plugin_hits_total{plugin="ns.a"} 2');
    expect(text).toContain('weft_plugin_size_count{plugin="ns.a"} 1');
  });
});
