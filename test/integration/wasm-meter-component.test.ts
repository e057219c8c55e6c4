/**
 * core/plugin/wasm-meter.ts on a real plugin: a QuickJS component built with componentize-qjs,
 * transpiled by jco, every core module metered, then run (the byte-level cases sit beside the code).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUEL_EXPORT, meterModule } from '../../core/plugin/wasm-meter.ts';

v8.setFlagsFromString('--experimental-wasm-extended-const');

const root = resolve(import.meta.dirname, '../..');
const tmp = `${root}/.tmp/meter`;
const guest = `
import { requestHeader, setRequestHeader } from 'weft:plugin/http@0.1.0';
export const filter = {
  wantedPhases() { return { requestHeaders: true }; },
  onRequestHeaders() {
    const mode = requestHeader('x-mode');
    if (mode === 'loop') { let i = 0; for (;;) { i++; } }
    if (mode === 'alloc') { const a = []; for (let i = 0; i < 1e7; i++) a.push('x'.repeat(64) + i); }
    setRequestHeader('x-seen', mode ?? 'none');
    return { tag: 'continue' };
  },
  onRequestBody(eos) { return { tag: 'continue' }; },
  onResponseHeaders() { return { tag: 'continue' }; },
  onResponseBody(eos) { return { tag: 'continue' }; },
};
`;

describe('meterModule on a QuickJS plugin component', () => {
  let files: Map<string, Uint8Array>;
  let instantiate: (get: (n: string) => WebAssembly.Module, imports: object, core: (m: WebAssembly.Module, i: WebAssembly.Imports) => Promise<WebAssembly.Instance>) => Promise<any>;
  const headers = new Map<string, string>();
  const set = new Map<string, string>();
  const imports = {
    'weft:plugin/host': {
      log() {}, counterAdd() {}, histogramRecord() {}, monotonicNow: () => 0n,
      kvGet: () => undefined, kvSet() {}, kvIncrement: () => 0n, config: () => '{}',
    },
    'weft:plugin/http': {
      method: () => 'GET', scheme: () => 'http', authority: () => 'a', path: () => '/',
      requestHeader: (n: string) => headers.get(n), setRequestHeader: (n: string, v: string) => set.set(n, v),
      appendRequestHeader() {}, removeRequestHeader() {}, requestBody: () => new Uint8Array(), responseStatus: () => 0,
      responseHeader: () => undefined, setResponseHeader() {}, appendResponseHeader() {}, removeResponseHeader() {},
      responseBody: () => new Uint8Array(), sourcePrincipal: () => '', sourceAddress: () => '',
    },
  };

  beforeAll(async () => {
    mkdirSync(tmp, { recursive: true });
    writeFileSync(`${tmp}/package.json`, '{"type":"module"}');
    const key = createHash('sha256').update(guest).digest('hex').slice(0, 12);
    const componentPath = `${tmp}/test-filter-${key}.wasm`;
    if (!existsSync(componentPath)) {
      const { componentize } = await import('componentize-qjs');
      const { component } = await componentize({ witPath: `${root}/plugins/wit-0.1.0`, jsSource: guest, world: 'http-filter', stubWasi: true, sync: true });
      writeFileSync(componentPath, component);
    }
    const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
    const t = await transpileBytes(readFileSync(componentPath), { name: 'p', instantiation: 'async', nodejsCompat: false });
    files = new Map(Object.entries(t.files as unknown as Record<string, Uint8Array>));
    const glue = Buffer.from(files.get('p.js')!).toString();
    const debugCheck = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
    expect(glue).toContain(debugCheck);
    const gluePath = `${tmp}/test-glue-${key}.js`;
    writeFileSync(gluePath, glue.replaceAll(debugCheck, 'return;'));
    ({ instantiate } = await import(/* @vite-ignore */ pathToFileURL(gluePath).href));
  }, 120_000);

  async function loadMetered(memoryMaxPages?: number) {
    const fuel: WebAssembly.Global[] = [];
    const compiled = new Map<string, WebAssembly.Module>();
    let loops = 0;
    for (const [name, bytes] of files) {
      if (!name.endsWith('.wasm')) continue;
      const m = meterModule(new Uint8Array(bytes), memoryMaxPages === undefined ? {} : { memoryMaxPages });
      loops += m.loops;
      compiled.set(name, await WebAssembly.compile(m.bytes));
    }
    let memory: WebAssembly.Memory | undefined;
    const inst = await instantiate(
      (n) => compiled.get(n)!,
      imports,
      async (module, imp) => {
        const instance = await WebAssembly.instantiate(module, imp);
        const g = instance.exports[FUEL_EXPORT];
        if (g instanceof WebAssembly.Global) fuel.push(g);
        if (instance.exports.memory instanceof WebAssembly.Memory) memory ??= instance.exports.memory;
        return instance;
      },
    );
    const refuel = (budget: number) => {
      for (const g of fuel) g.value = budget;
    };
    return { filter: inst.filter, fuel, refuel, loops, memory: memory! };
  }

  it('meters every core module quickly; normal calls work with a budget; a runaway call traps in bounded time', async () => {
    const engine = [...files].filter(([n]) => n.endsWith('.wasm')).sort((a, b) => b[1].length - a[1].length)[0]!;
    const t0 = performance.now();
    const m = meterModule(new Uint8Array(engine[1]));
    const ms = performance.now() - t0;
    console.log(`metering ${engine[0]} (${engine[1].length} bytes): ${ms.toFixed(1)} ms, ${m.loops} loops`);
    expect(m.loops).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(1000); // tens of ms cold on a quiet machine; room for a loaded one

    const p = await loadMetered();
    expect(p.fuel.length).toBeGreaterThan(1);
    headers.set('x-mode', 'plain');
    for (let i = 0; i < 100; i++) {
      p.refuel(10_000_000);
      set.clear();
      expect(p.filter.onRequestHeaders()).toEqual({ tag: 'continue' });
      expect(set.get('x-seen')).toBe('plain');
    }

    // 500k fuel: ~1/20 s of QuickJS in V8's baseline tier (Liftoff: a first call that never returns
    // is never tiered up, wasm has no on-stack replacement), a few ms once optimised; a plain call
    // above uses ~600
    headers.set('x-mode', 'loop');
    p.refuel(500_000);
    const t1 = performance.now();
    expect(() => p.filter.onRequestHeaders()).toThrow(WebAssembly.RuntimeError);
    const trapMs = performance.now() - t1;
    console.log(`runaway call trapped after ${trapMs.toFixed(1)} ms with a budget of 500k`);
    expect(trapMs).toBeLessThan(200);

    // the trap poisons that instance (jco); a fresh one serves again
    const q = await loadMetered();
    headers.set('x-mode', 'after');
    q.refuel(10_000_000);
    expect(q.filter.onRequestHeaders()).toEqual({ tag: 'continue' });
    expect(set.get('x-seen')).toBe('after');
  }, 60_000);

  it('memoryMaxPages stops a guest that allocates without bound', async () => {
    const first = await loadMetered();
    const pages = first.memory.buffer.byteLength / 65536;
    const p = await loadMetered(pages + 64); // 4 MiB of headroom
    headers.set('x-mode', 'plain');
    p.refuel(0x7fffffff);
    expect(p.filter.onRequestHeaders()).toEqual({ tag: 'continue' });
    headers.set('x-mode', 'alloc');
    p.refuel(0x7fffffff);
    expect(() => p.filter.onRequestHeaders()).toThrow(WebAssembly.RuntimeError);
    expect(p.memory.buffer.byteLength / 65536).toBeLessThanOrEqual(pages + 64);
  }, 60_000);
});
