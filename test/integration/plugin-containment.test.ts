/**
 * Plugin containment with real components (QuickJS guests built from test/fixtures/plugins):
 * a guest that loops, allocates without bound or throws fails its call by the failStrategy within
 * the budget, is counted, and the next call runs on a fresh instance; a component whose sha256 or
 * header is wrong never serves, and the previous version serves on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterAction, PluginBinding } from '../../core/plugin/contract.ts';
import { RecordedExchange } from '../../core/plugin/recorded-exchange.ts';
import { createNodePluginRuntime, loadPluginForTest } from '../../hosts/node/plugins/loader.ts';
import { sha256Hex } from '../../hosts/node/plugins/runtime/fetch-component.ts';
import { buildFixture } from '../fixtures/plugins/build-fixture.ts';

let dir: string;
let misbehaveUrl: string;
let basicUrl: string;
let basicSha: string;
let misbehaveSha: string;

function binding(over: Partial<PluginBinding>): PluginBinding {
  return { name: 'ns.p', kind: 'http-filter', url: misbehaveUrl, phase: 'AUTHZ', priority: 0, failStrategy: 'FAIL_CLOSE', config: '{}', ports: [], workloads: [], ...over };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-plugin-containment-'));
  const misbehave = await buildFixture('filter-misbehave.js', 'http-filter');
  const basic = await buildFixture('filter-basic.js', 'http-filter');
  writeFileSync(join(dir, 'misbehave.wasm'), misbehave);
  writeFileSync(join(dir, 'basic.wasm'), basic);
  // a core module header (\0asm version 1): not a component
  writeFileSync(join(dir, 'core.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  misbehaveUrl = pathToFileURL(join(dir, 'misbehave.wasm')).href;
  basicUrl = pathToFileURL(join(dir, 'basic.wasm')).href;
  basicSha = sha256Hex(basic);
  misbehaveSha = sha256Hex(misbehave);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Wall-time limits are loose: the machine is shared, and the first runaway call runs in V8's
 * baseline tier (Liftoff), about 5x slower per unit of fuel than after tier-up (measured: a 50 ms
 * budget stops a loop after 65-105 ms in Liftoff, 10-16 ms once optimized). Zero-filling is a
 * metered loop in QuickJS, so with the default budget "alloc" ends in the fuel check or at the
 * memory cap, whichever comes first.
 */
const FAILURES = [
  ['loop', ['timeout'], 400],
  ['alloc', ['timeout', 'memory'], 1500],
  ['throw', ['error'], 50],
] as const;

type Call = (doWhat?: string) => { action: FilterAction; ms: number; cpuMs: number; x: RecordedExchange };
type Status = () => { failures: Record<'trap' | 'timeout' | 'memory' | 'error', number>; recycles: number };

/** one request through the runtime's first filter, with `x-do: doWhat`; its wall and process CPU time (CPU includes V8's background tier-up compiles) */
function caller(rt: ReturnType<typeof createNodePluginRuntime>): Call {
  return (doWhat?: string) => {
    const x = new RecordedExchange({ headers: doWhat ? { 'x-do': doWhat } : {} });
    const f = rt.plugins().httpFilters[0]!;
    const t = performance.now();
    const cpu = process.cpuUsage();
    const action = f.onRequestHeaders(x);
    const used = process.cpuUsage(cpu);
    return { action, ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, x };
  };
}

/** the guest fails closed within its budget, is counted once, recycled, and the next call works */
async function failsThenServes(call: Call, st: Status, what: string, causes: readonly ('timeout' | 'memory' | 'error')[], limitMs: number): Promise<void> {
  const before = st();
  const { action, ms, cpuMs } = call(what);
  console.log(`${what}: failed after ${ms.toFixed(1)} ms (${cpuMs.toFixed(1)} ms CPU)`, JSON.stringify(st().failures));
  expect(action).toEqual({ tag: 'respond', val: { status: 503, headers: [], body: 'plugin ns.p failed\n' } });
  // CPU time, not wall time: on a loaded machine (CI beside other test files) the wall clock
  // measured the machine (402 ms wall for 174 ms of CPU seen), the CPU the guest's budget
  expect(cpuMs).toBeLessThan(limitMs);
  expect(ms).toBeLessThan(limitMs * 10);
  const after = st();
  const counted = causes.reduce((n, c) => n + after.failures[c] - before.failures[c], 0);
  expect(counted).toBe(1);
  expect(after.recycles).toBe(before.recycles + 1);
  const next = call();
  expect(next.action).toEqual({ tag: 'continue' });
  expect(next.x.requestHeaders.get('x-ok')).toBe('yes');
  expect(next.ms).toBeLessThan(100);
}

describe('plugin containment', () => {
  const rt = createNodePluginRuntime({ budgetMs: 50, memoryMaxMiB: 64 });

  const call = caller(rt);

  function st() {
    return rt.status().find((s) => s.name === 'ns.p')!;
  }

  it('loads and serves', async () => {
    const t = performance.now();
    await rt.update([binding({ sha256: misbehaveSha })]);
    console.log(`cold load ${(performance.now() - t).toFixed(0)} ms`);
    expect(st()).toMatchObject({ state: 'ready', servingSha256: misbehaveSha });
    const { action, x } = call();
    expect(action).toEqual({ tag: 'continue' });
    expect(x.requestHeaders.get('x-ok')).toBe('yes');
  }, 60_000);

  /** the spare is rebuilt on a timer after each failure: let it run */
  const settle = () => new Promise((r) => setTimeout(r, 20));

  for (const [what, causes, limitMs] of FAILURES) {
    it(`a guest that does "${what}" fails closed, is counted, and the next call works`, async () => {
      await settle();
      await failsThenServes(call, st, what, causes, limitMs);
    });
  }

  it('a second failure before the spare is rebuilt fails fast, then the spare serves', async () => {
    await settle();
    const before = st();
    call('throw'); // the spare takes over
    call('throw'); // no spare yet: the pool answers by failStrategy until one is built
    const fast = call();
    expect(fast.action.tag).toBe('respond');
    // no instantiation inside the call (that takes ~55 ms): loose, the machine may be loaded
    expect(fast.ms).toBeLessThan(40);
    await settle();
    expect(call().x.requestHeaders.get('x-ok')).toBe('yes');
    expect(st().failures.error).toBe(before.failures.error + 2);
  });

  it('the memory cap stops a guest that allocates without bound', async () => {
    const p = await loadPluginForTest(await buildFixture('filter-misbehave.js', 'http-filter'), {}, { memoryMaxMiB: 4, budgetMs: 5000 });
    const x = new RecordedExchange({ headers: { 'x-do': 'alloc' } });
    const t = performance.now();
    expect(p.filter!.onRequestHeaders(x).tag).toBe('respond');
    console.log(`alloc under a 4 MiB cap: failed after ${(performance.now() - t).toFixed(1)} ms`, p.logs.at(-1));
    expect(p.logs.at(-1)).toContain('(memory)');
    const ok = new RecordedExchange({});
    expect(p.filter!.onRequestHeaders(ok)).toEqual({ tag: 'continue' });
  }, 60_000);

  it('fails open when told to', async () => {
    await rt.update([binding({ sha256: misbehaveSha, failStrategy: 'FAIL_OPEN' })]);
    await settle();
    expect(call('throw').action).toEqual({ tag: 'continue' });
    expect(call().x.requestHeaders.get('x-ok')).toBe('yes');
  });

  it('refuses a component whose sha256 does not match, and the previous version serves on', async () => {
    const held = rt.plugins();
    await rt.update([binding({ url: basicUrl, sha256: 'ab'.repeat(32) })]);
    const s = st();
    expect(s.state).toBe('ready');
    expect(s.error).toContain('sha256 mismatch');
    expect(s.error).toContain('ab'.repeat(32));
    expect(s.error).toContain(basicSha);
    expect(s.servingSha256).toBe(misbehaveSha);
    expect(rt.plugins().httpFilters[0]).toBe(held.httpFilters[0]);
    expect(call().x.requestHeaders.get('x-ok')).toBe('yes');
  });

  it('swaps to a new version; a held set keeps the old one', async () => {
    const held = rt.plugins();
    const t = performance.now();
    await rt.update([binding({ url: basicUrl, sha256: basicSha, config: '{"tag":"v2"}' })]);
    console.log(`swap to a new component ${(performance.now() - t).toFixed(0)} ms`);
    const t2 = performance.now();
    await rt.update([binding({ url: basicUrl, sha256: basicSha, config: '{"tag":"v3"}' })]);
    console.log(`warm swap (cached component, new config) ${(performance.now() - t2).toFixed(0)} ms`);
    expect(st()).toMatchObject({ state: 'ready', servingSha256: basicSha });
    const x = new RecordedExchange({ headers: { 'x-user': 'u' } });
    expect(rt.plugins().httpFilters[0]!.onRequestHeaders(x)).toEqual({ tag: 'continue' });
    expect(x.requestHeaders.get('x-seen')).toBe('v3:u:1');
    const old = new RecordedExchange({});
    held.httpFilters[0]!.onRequestHeaders(old);
    expect(old.requestHeaders.get('x-ok')).toBe('yes');
  });

  it('refuses bytes that are not a component with a clear message', async () => {
    const rt2 = createNodePluginRuntime();
    await rt2.update([binding({ name: 'ns.core', url: pathToFileURL(join(dir, 'core.wasm')).href })]);
    const s = rt2.status()[0]!;
    expect(s.state).toBe('failed');
    expect(s.error).toMatch(/core WebAssembly module, not a component/);
    expect(rt2.plugins().httpFilters).toHaveLength(0);
  });

  it('refuses oci:// with a clear message', async () => {
    const rt2 = createNodePluginRuntime();
    await rt2.update([binding({ name: 'ns.oci', url: 'oci://example.com/p:1' })]);
    expect(rt2.status()[0]!.error).toMatch(/OCI images are not supported yet/);
  });

  it('loads an l4 policy and an endpoint picker, telling the kind from the component', async () => {
    const l4 = await loadPluginForTest(await buildFixture('l4-deny-plaintext.js', 'l4-policy'));
    const conn = { sourcePrincipal: '', destinationPrincipal: 'spiffe://td/ns/a/sa/b', sourceAddress: '10.0.0.1', sourcePort: 40000, destinationAddress: '10.0.0.2', destinationPort: 80 };
    expect(l4.l4!.check(conn)).toEqual({ tag: 'deny', val: 'plaintext' });
    expect(l4.l4!.check({ ...conn, sourcePrincipal: 'spiffe://td/ns/a/sa/c' })).toEqual({ tag: 'allow' });
    const picker = await loadPluginForTest(await buildFixture('picker-least-queue.js', 'endpoint-picker'));
    const cand = (address: string, q: number) => ({ address, labels: [['zone', 'a']] as [string, string][], metrics: [['queue-depth', q]] as [string, number][] });
    expect(picker.picker!.pick(new RecordedExchange({}), [cand('a:1', 5), cand('b:1', 1), cand('c:1', 3)])).toEqual([1, 2, 0]);
  }, 60_000);

  it('per-call cost through the handle (one header read, one set)', async () => {
    const p = await loadPluginForTest(await buildFixture('filter-misbehave.js', 'http-filter'));
    const f = p.filter!;
    const x = new RecordedExchange({});
    const N = 20_000;
    const ts = new Float64Array(N);
    for (let i = 0; i < 2000; i++) f.onRequestHeaders(x);
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      f.onRequestHeaders(x);
      ts[i] = performance.now() - t;
    }
    ts.sort();
    console.log(`per call (1 read, 1 set) p50 ${(ts[N / 2]! * 1000).toFixed(1)} us, p99 ${(ts[Math.floor(N * 0.99)]! * 1000).toFixed(1)} us`);
    expect(x.requestHeaders.get('x-ok')).toBe('yes');
  }, 60_000);

  it('per-call cost through the handle (config, counter, kv increment, header read and set)', async () => {
    const p = await loadPluginForTest(await buildFixture('filter-basic.js', 'http-filter'));
    const f = p.filter!;
    const x = new RecordedExchange({ headers: { 'x-user': 'u' } });
    const N = 20_000;
    const ts = new Float64Array(N);
    const W = 2000;
    for (let i = 0; i < W; i++) f.onRequestHeaders(x);
        for (let i = 0; i < N; i++) {
      const t = performance.now();
      f.onRequestHeaders(x);
      ts[i] = performance.now() - t;
    }
    ts.sort();
    console.log(`per call p50 ${(ts[N / 2]! * 1000).toFixed(1)} us, p99 ${(ts[Math.floor(N * 0.99)]! * 1000).toFixed(1)} us`);
    expect(p.counters.get('seen')).toBe(N + W);
    expect(p.kv.get('calls')).toBe(String(N + W));
  }, 60_000);
});

describe('plugin containment, weft:plugin@0.2.0 (values in, outcome out)', () => {
  const rt = createNodePluginRuntime({ budgetMs: 50, memoryMaxMiB: 64 });
  let url = '';

  const call = caller(rt);
  const st = () => rt.status().find((s) => s.name === 'ns.p')!;
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('loads and serves', async () => {
    const bytes = await buildFixture('filter-misbehave-v2.js', 'http-filter', 'wit');
    writeFileSync(join(dir, 'misbehave-v2.wasm'), bytes);
    url = pathToFileURL(join(dir, 'misbehave-v2.wasm')).href;
    await rt.update([binding({ url, sha256: sha256Hex(bytes) })]);
    expect(st()).toMatchObject({ state: 'ready' });
    const { action, x } = call();
    expect(action).toEqual({ tag: 'continue' });
    expect(x.requestHeaders.get('x-ok')).toBe('yes');
  }, 60_000);

  for (const [what, causes, limitMs] of FAILURES) {
    it(`a guest that does "${what}" fails closed, is counted, and the next call works`, async () => {
      await settle();
      await failsThenServes(call, st, what, causes, limitMs);
    });
  }
});
