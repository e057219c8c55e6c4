import { describe, expect, it } from 'vitest';
import type { PluginBinding } from './contract.ts';
import type { CompiledPlugin, PluginLoader } from './compiled-plugin.ts';
import { SharedKv } from './host-imports.ts';
import { RecordedExchange } from './recorded-exchange.ts';
import { createPluginRuntime } from './runtime.ts';

/** A guest written in JS: receives the import object, returns the world's export. */
type FakeGuest = (imports: any, instance: number) => Record<string, any>;

/** A loader whose "components" are JS guests, by url; counts loads and instances. */
function fakeLoader(guests: Record<string, FakeGuest | Error>) {
  const stats = { loads: 0, instances: 0 };
  const loader: PluginLoader = {
    async load(b) {
      stats.loads++;
      const g = guests[b.url];
      if (g === undefined) throw new Error(`no guest at ${b.url}`);
      if (g instanceof Error) throw g;
      const compiled: CompiledPlugin = {
        sha256: `sha-${b.url}`,
        instantiate: (_get, imports) => g(imports, ++stats.instances),
        getCoreModule: () => {
          throw new Error('no core modules');
        },
        fuelExport: '',
        memoryMaxBytes: 0,
      };
      return compiled;
    },
  };
  return { loader, stats };
}

const immediate = (fn: () => void) => fn();

function binding(over: Partial<PluginBinding>): PluginBinding {
  return { name: 'ns.a', kind: 'http-filter', url: 'a', phase: 'UNSPECIFIED_PHASE', priority: 0, failStrategy: 'FAIL_CLOSE', config: '{}', ports: [], workloads: [], ...over };
}

/** a filter that tags the request with its config and instance number; misbehaves on x-do */
const tagger: FakeGuest = (imports, n) => ({
  filter: {
    wantedPhases: () => ({ requestHeaders: true, responseHeaders: true }),
    onRequestHeaders() {
      const http = imports['weft:plugin/http'];
      const host = imports['weft:plugin/host'];
      const what = http.requestHeader('x-do');
      if (what === 'throw') throw new WebAssembly.RuntimeError('unreachable');
      if (what === 'oob') throw new WebAssembly.RuntimeError('memory access out of bounds');
      if (what === 'bad') return { tag: 'nope' };
      http.setRequestHeader('x-tag', `${host.config()}#${n}`);
      return { tag: 'continue' };
    },
    onRequestBody: () => ({ tag: 'continue' }),
    onResponseHeaders: () => ({ tag: 'continue' }),
    onResponseBody: () => ({ tag: 'continue' }),
  },
});

const run = (set: { httpFilters: readonly any[] }, headers: Record<string, string> = {}, i = 0) => {
  const x = new RecordedExchange({ headers });
  const action = set.httpFilters[i]!.onRequestHeaders(x);
  return { action, tag: x.requestHeaders.get('x-tag') };
};

describe('plugin runtime', () => {
  it('loads, reads wanted phases, and keeps a held set on its own version across a swap', async () => {
    const { loader } = fakeLoader({ a: tagger });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ config: 'v1' })]);
    const held = rt.plugins();
    expect(held.httpFilters[0]!.phases).toEqual({ requestHeaders: true, requestBody: false, responseHeaders: true, responseBody: false });
    expect(run(held).tag).toBe('v1#1');
    await rt.update([binding({ config: 'v2' })]);
    const now = rt.plugins();
    expect(now.version).toBeGreaterThan(held.version);
    expect(run(now).tag).toMatch(/^v2#/);
    expect(run(held).tag).toBe('v1#1');
    expect(rt.status()[0]).toMatchObject({ state: 'ready', servingSha256: 'sha-a', calls: 3 });
  });

  it('notifies swap listeners', async () => {
    const { loader } = fakeLoader({ a: tagger });
    const rt = createPluginRuntime(loader, { defer: immediate });
    const seen: number[] = [];
    rt.onSwap((s) => seen.push(s.version));
    await rt.update([binding({})]);
    await rt.update([]);
    expect(seen).toEqual([1, 2]);
    expect(rt.plugins().httpFilters).toHaveLength(0);
    expect(rt.status()).toEqual([]);
  });

  it('a failed load leaves the previous version serving and reports the error', async () => {
    const { loader } = fakeLoader({ a: tagger, broken: new Error('sha256 mismatch for broken: expected x, got y') });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ config: 'v1' })]);
    const before = rt.plugins().httpFilters[0];
    await rt.update([binding({ url: 'broken' })]);
    expect(rt.plugins().httpFilters[0]).toBe(before);
    expect(rt.status()[0]).toMatchObject({ state: 'ready', servingSha256: 'sha-a', error: 'sha256 mismatch for broken: expected x, got y' });
    // none serving: failed, and absent from the set
    await rt.update([binding({ url: 'broken' }), binding({ name: 'ns.b', url: 'missing' })]);
    const b = rt.status().find((s) => s.name === 'ns.b')!;
    expect(b).toMatchObject({ state: 'failed', error: 'no guest at missing' });
    expect(rt.plugins().httpFilters.map((f) => f.name)).toEqual(['ns.a']);
  });

  it('a warm-up failure (wanted-phases throws) never takes traffic', async () => {
    const bad: FakeGuest = () => ({ filter: { wantedPhases: () => { throw new Error('nope'); } } });
    const { loader } = fakeLoader({ bad });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ url: 'bad' })]);
    expect(rt.status()[0]).toMatchObject({ state: 'failed', error: 'wanted-phases failed: nope' });
    expect(rt.plugins().httpFilters).toHaveLength(0);
  });

  it('a metadata change re-binds the loaded version without loading again', async () => {
    const { loader, stats } = fakeLoader({ a: tagger });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({})]);
    await rt.update([binding({ priority: 5, failStrategy: 'FAIL_OPEN' })]);
    expect(stats.loads).toBe(1);
    expect(run(rt.plugins(), { 'x-do': 'throw' }).action).toEqual({ tag: 'continue' });
  });

  it('orders filters by phase, then priority (higher first), then name, and by port', async () => {
    const { loader } = fakeLoader({ a: tagger });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([
      binding({ name: 'ns.unspec' }),
      binding({ name: 'ns.stats', phase: 'STATS' }),
      binding({ name: 'ns.z-authz', phase: 'AUTHZ', priority: 10 }),
      binding({ name: 'ns.b-authz', phase: 'AUTHZ', priority: 1 }),
      binding({ name: 'ns.a-authz', phase: 'AUTHZ', priority: 1, ports: [8080] }),
      binding({ name: 'ns.authn', phase: 'AUTHN', priority: -5 }),
    ]);
    const set = rt.plugins();
    expect(set.httpFilters.map((f) => f.name)).toEqual(['ns.authn', 'ns.z-authz', 'ns.a-authz', 'ns.b-authz', 'ns.stats', 'ns.unspec']);
    expect(set.httpFiltersFor(9090).map((f) => f.name)).toEqual(['ns.authn', 'ns.z-authz', 'ns.b-authz', 'ns.stats', 'ns.unspec']);
    expect(set.httpFiltersFor(8080)).toHaveLength(6);
    expect(set.httpFiltersFor(9090)).toBe(set.httpFiltersFor(9090));
  });

  it('turns failures into the failStrategy answer, counts them, and recycles the instance', async () => {
    const { loader } = fakeLoader({ a: tagger });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ name: 'ns.close' }), binding({ name: 'ns.open', failStrategy: 'FAIL_OPEN' })]);
    const set = rt.plugins();
    expect(run(set, { 'x-do': 'throw' }, 0).action).toEqual({ tag: 'respond', val: { status: 503, headers: [], body: 'plugin ns.close failed\n' } });
    expect(run(set, { 'x-do': 'oob' }, 0).action.tag).toBe('respond');
    expect(run(set, { 'x-do': 'bad' }, 0).action.tag).toBe('respond');
    expect(run(set, { 'x-do': 'throw' }, 1).action).toEqual({ tag: 'continue' });
    // the next call runs on a fresh instance
    expect(run(set, {}, 0).tag).toMatch(/^\{\}#\d+$/);
    const close = rt.status().find((s) => s.name === 'ns.close')!;
    expect(close.failures).toEqual({ trap: 1, timeout: 0, memory: 0, error: 2 });
    expect(close.recycles).toBe(3);
    expect(close.calls).toBe(4);
  });

  it('a weft:plugin@0.2.0 filter: named values in, the outcome made on the exchange; a failed or unreadable outcome changes nothing', async () => {
    const seen: string[] = [];
    const packed: FakeGuest = (imports, n) => ({
      filter: {
        wantedPhases: () => ({ requestHeaders: true }),
        requestHeadersWanted: () => ['X-Do', ':path'],
        responseHeadersWanted: () => [],
        onRequestHeaders(values: string) {
          seen.push(values);
          const [what] = values.split('\u0000');
          if (what === 'throw') throw new WebAssembly.RuntimeError('unreachable');
          if (what === 'number') return 7;
          if (what === 'garbage') return 'qx-tag\u0000half';
          if (what === 'inject') return 'qx-tag\u0000a\r\nx-evil: 1\u0000';
          if (what === 'route') return `qx-tag\u0000${imports['weft:plugin/host'].config()}#${n}\u0000rbeta\u0000`;
          return `qx-tag\u0000${imports['weft:plugin/host'].config()}#${n}\u0000`;
        },
        onRequestBody: () => '',
        onResponseHeaders: () => '',
        onResponseBody: () => '',
      },
    });
    const { loader } = fakeLoader({ p: packed });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ name: 'ns.p', url: 'p' })]);
    const set = rt.plugins();
    expect(run(set, { 'x-do': 'ok' })).toEqual({ action: { tag: 'continue' }, tag: '{}#1' });
    expect(seen.at(-1)).toBe('ok\u0000/'); // lower-cased names, a pseudo-header, in order
    expect(run(set, {})).toEqual({ action: { tag: 'continue' }, tag: '{}#1' });
    expect(seen.at(-1)).toBe('\u0001\u0000/'); // absent
    expect(run(set, { 'x-do': 'route' })).toEqual({ action: { tag: 'route', val: 'beta' }, tag: '{}#1' });
    for (const bad of ['throw', 'number', 'garbage', 'inject']) {
      const r = run(set, { 'x-do': bad });
      expect(r.action).toEqual({ tag: 'respond', val: { status: 503, headers: [], body: 'plugin ns.p failed\n' } });
      expect(r.tag).toBeUndefined();
    }
    const st = rt.status().find((s) => s.name === 'ns.p')!;
    expect(st.failures).toEqual({ trap: 0, timeout: 0, memory: 0, error: 4 }); // an uncaught guest exception ends in unreachable: an error
    // each failure recycled the instance: the next call runs on another one
    expect(run(set, { 'x-do': 'ok' }).tag).not.toBe('{}#1');
  });

  it('l4 policies deny or allow on failure; pickers leave the choice to the balancer', async () => {
    const l4: FakeGuest = () => ({ connectionPolicy: { check: (c: any) => { if (c.sourcePort === 1) throw new Error('x'); return c.sourcePrincipal ? { tag: 'allow' } : { tag: 'deny', val: 'plaintext' }; } } });
    const picker: FakeGuest = () => ({ picker: { pick: (c: any[]) => (c.length === 3 ? [7] : c.map((_, i) => c.length - 1 - i)) } });
    const { loader } = fakeLoader({ l4, picker });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([
      binding({ name: 'ns.l4c', kind: 'l4-policy', url: 'l4', workloads: ['w1'] }),
      binding({ name: 'ns.l4o', kind: 'l4-policy', url: 'l4', failStrategy: 'FAIL_OPEN', priority: -1 }),
      binding({ name: 'ns.pick', kind: 'endpoint-picker', url: 'picker' }),
    ]);
    const set = rt.plugins();
    const conn = { sourcePrincipal: '', destinationPrincipal: '', sourceAddress: '', sourcePort: 5, destinationAddress: '', destinationPort: 80 };
    expect(set.l4Policies.map((p) => p.name)).toEqual(['ns.l4c', 'ns.l4o']);
    expect(set.l4Policies[0]!.workloads).toEqual(['w1']);
    expect(set.l4Policies[0]!.check(conn)).toEqual({ tag: 'deny', val: 'plaintext' });
    expect(set.l4Policies[0]!.check({ ...conn, sourcePort: 1 })).toEqual({ tag: 'deny', val: 'plugin ns.l4c failed' });
    expect(set.l4Policies[1]!.check({ ...conn, sourcePort: 1 })).toEqual({ tag: 'allow' });
    const cand = (a: string) => ({ address: a, labels: [], metrics: [] });
    const x = new RecordedExchange({});
    expect(set.endpointPicker!.pick(x, [cand('a'), cand('b')])).toEqual([1, 0]);
    expect(set.endpointPicker!.pick(x, [cand('a'), cand('b'), cand('c')])).toEqual([]);
    expect(rt.status().find((s) => s.name === 'ns.pick')!.failures.error).toBe(1);
  });

  it('host imports: log and metrics carry the plugin name; http imports read empty outside a call', async () => {
    const lines: string[] = [];
    const counters: string[] = [];
    let imp: any;
    const g: FakeGuest = (imports) => {
      imp = imports;
      return {
        filter: {
          wantedPhases: () => ({ requestHeaders: true }),
          onRequestHeaders() {
            imports['weft:plugin/host'].log('info', 'hi');
            imports['weft:plugin/host'].counterAdd('hits', 2n);
            return { tag: 'continue' };
          },
        },
      };
    };
    const { loader } = fakeLoader({ g });
    const rt = createPluginRuntime(loader, {
      defer: immediate,
      log: (p, l, m) => lines.push(`${p} ${l} ${m}`),
      metrics: { counterAdd: (p, n, d) => counters.push(`${p} ${n} ${d}`), histogramRecord() {} },
    });
    await rt.update([binding({ url: 'g' })]);
    run(rt.plugins(), { a: 'b' });
    expect(lines).toEqual(['ns.a info hi']);
    expect(counters).toEqual(['ns.a hits 2']);
    expect(imp['weft:plugin/http'].requestHeader('a')).toBeUndefined();
    expect(imp['weft:plugin/http'].path()).toBe('');
    expect(imp['weft:plugin/http'].responseStatus()).toBe(0);
    const t1 = imp['weft:plugin/host'].monotonicNow();
    expect(typeof t1).toBe('bigint');
    expect(imp['weft:plugin/host'].monotonicNow() >= t1).toBe(true);
  });

  it('shares one KV store per plugin name across versions', async () => {
    const g: FakeGuest = (imports) => ({
      filter: {
        wantedPhases: () => ({ requestHeaders: true }),
        onRequestHeaders() {
          const n = imports['weft:plugin/host'].kvIncrement('n', 1n, 0);
          imports['weft:plugin/http'].setRequestHeader('x-tag', String(n));
          return { tag: 'continue' };
        },
      },
    });
    const { loader } = fakeLoader({ g });
    const rt = createPluginRuntime(loader, { defer: immediate });
    await rt.update([binding({ url: 'g', config: '1' })]);
    expect(run(rt.plugins()).tag).toBe('1');
    await rt.update([binding({ url: 'g', config: '2' })]);
    expect(run(rt.plugins()).tag).toBe('2');
    expect(rt.kv('ns.a')!.get('n')).toBe('2');
  });
});

describe('SharedKv', () => {
  const clock = { t: 1000, monotonic() { return this.t; } };

  it('expires keys by their TTL; ttl 0 never expires', () => {
    const kv = new SharedKv(clock);
    kv.set('a', 'x', 100);
    kv.set('b', 'y', 0);
    clock.t += 99;
    expect(kv.get('a')).toBe('x');
    clock.t += 1;
    expect(kv.get('a')).toBeUndefined();
    clock.t += 1e9;
    expect(kv.get('b')).toBe('y');
  });

  it('increments from absent (0) and from text; the TTL starts when the key is created', () => {
    const kv = new SharedKv(clock);
    expect(kv.increment('n', 5n, 1000)).toBe(5n);
    clock.t += 600;
    expect(kv.increment('n', -2n, 1000)).toBe(3n);
    expect(kv.get('n')).toBe('3');
    clock.t += 400;
    expect(kv.get('n')).toBeUndefined();
    expect(kv.increment('n', 1n, 0)).toBe(1n);
    kv.set('s', '41', 0);
    expect(kv.increment('s', 1n, 0)).toBe(42n);
    kv.set('t', 'abc', 0);
    expect(kv.increment('t', 1n, 0)).toBe(1n);
  });

  it('drops the oldest key at the cap', () => {
    const kv = new SharedKv(clock, 3);
    for (const k of ['a', 'b', 'c', 'd']) kv.set(k, k, 0);
    expect(kv.size).toBe(3);
    expect(kv.get('a')).toBeUndefined();
    expect(kv.get('d')).toBe('d');
  });
});
