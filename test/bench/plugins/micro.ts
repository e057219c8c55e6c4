/**
 * The plugins bench's in-process side, each measurement in a fresh child process (no JIT or heap
 * left over from another plugin): calls through the handle a proxy uses (createNodePluginRuntime ->
 * PluginSet -> HttpFilterHandle / L4PolicyHandle) on a RecordedExchange, per call and per request;
 * memory per instance (RSS delta over extra instances); cold load (the first plugin of a process);
 * warm swaps (update() with a new config, and with a component never seen, until the new PluginSet
 * serves).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HttpFilterHandle, PluginSet } from '../../../core/plugin/contract.ts';
import { RecordedExchange } from '../../../core/plugin/recorded-exchange.ts';
import { createNodePluginRuntime } from '../../../hosts/node/plugins/loader.ts';
import { cachedHttpFilter } from '../../support/plugin-fixtures.ts';
import { BUILTINS, CONN, REQUEST, RESPONSE, REWRITE_CONFIG, SPECS, binding, type Builtin } from './specs.ts';

export { BUILTINS, SPECS, binding, type Builtin };

export interface MicroResult {
  plugin: string;
  variant: 'wasm' | 'native';
  phases: string;
  /** the first call of a request (onRequestHeaders; check() for l4), us */
  callP50: number;
  callP99: number;
  /** every phase the plugin wants, per request, us */
  reqP50: number;
  reqP99: number;
  /** RSS delta per instance, MB */
  instMb: number;
  failures: number;
}

function pct(xs: Float64Array, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const rss = () => process.memoryUsage().rss;

/** --role micro: one plugin, one variant */
/**
 * --role micro: one plugin, one variant. `memory` measures only memory per instance, `time` only
 * the calls: each in its own process, as 40 more instances in the heap measurably slow the calls
 * of the one being timed (seen here: 14 -> 36 us per request for header-rewrite).
 */
export async function runMicroRole(o: { plugin: Builtin; variant: 'wasm' | 'native'; url: string; builtinDir: string; calls: number; extraInstances: number; mode: 'time' | 'memory' }): Promise<Partial<MicroResult>> {
  if (o.variant === 'native') process.env.WEFT_PLUGINS_TRUSTED_NATIVE = '1';
  const spec = SPECS[o.plugin];
  const runtime = createNodePluginRuntime({ builtinDir: o.builtinDir });
  const base = binding('bench.p', o.url, spec.kind, spec.config);
  await runtime.update([base]);
  const st = runtime.status()[0]!;
  if (st.state !== 'ready') throw new Error(`${o.plugin} (${o.variant}) did not load: ${st.error}`);
  if (o.mode === 'time') return timeCalls(o, runtime);
  // memory first, before the timing loop's garbage can hide or inflate it: more bindings of the
  // same version (compiled once, cached by sha256), two instances each (serving + spare), each
  // binding called once so that lazily built state exists (in its serving instance)
  const call = (s: PluginSet) => {
    const mx = new RecordedExchange(REQUEST, RESPONSE);
    for (const f of s.httpFilters) f.onRequestHeaders(mx);
    for (const l of s.l4Policies) l.check(CONN);
  };
  call(runtime.plugins());
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const before = rss();
  const extra = Array.from({ length: o.extraInstances / 2 }, (_, i) => binding(`bench.extra-${i}`, o.url, spec.kind, spec.config));
  await runtime.update([base, ...extra]);
  call(runtime.plugins());
  // warm() built each binding's serving and spare instance; let deferred work settle
  await new Promise((r) => setTimeout(r, 100));
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const instMb = (rss() - before) / extra.length / 2 / (1024 * 1024);
  return { instMb };
}

async function timeCalls(o: { plugin: Builtin; variant: 'wasm' | 'native'; calls: number }, runtime: ReturnType<typeof createNodePluginRuntime>): Promise<Partial<MicroResult>> {
  const spec = SPECS[o.plugin];
  const set = runtime.plugins();
  const warm = Math.min(20_000, o.calls);
  const first = new Float64Array(o.calls);
  const whole = new Float64Array(o.calls);
  let phases: string;
  if (spec.kind === 'l4-policy') {
    const h = set.l4Policies[0]!;
    phases = 'check';
    if (h.check(CONN).tag !== 'allow') throw new Error('l4-allow-list denied the bench connection');
    for (let i = -warm; i < o.calls; i++) {
      const t0 = performance.now();
      h.check(CONN);
      const d = (performance.now() - t0) * 1000;
      if (i >= 0) first[i] = whole[i] = d;
    }
  } else {
    const h: HttpFilterHandle = set.httpFilters[0]!;
    const p = h.phases;
    phases = [p.requestHeaders && 'req', p.requestBody && 'req body', p.responseHeaders && 'resp', p.responseBody && 'resp body'].filter(Boolean).join('+');
    // one exchange for every call: the filters here only set headers to the same values again
    const x = new RecordedExchange(REQUEST, RESPONSE);
    const a = h.onRequestHeaders(x);
    if (a.tag !== 'continue') throw new Error(`${o.plugin}: the bench request was not let through: ${JSON.stringify(a)}`);
    for (let i = -warm; i < o.calls; i++) {
      const t0 = performance.now();
      if (p.requestHeaders) h.onRequestHeaders(x);
      const t1 = performance.now();
      if (p.responseHeaders) h.onResponseHeaders(x);
      const t2 = performance.now();
      if (i >= 0) {
        first[i] = (t1 - t0) * 1000;
        whole[i] = (t2 - t0) * 1000;
      }
    }
  }
  const failures = Object.values(runtime.status()[0]!.failures).reduce((s, n) => s + n, 0);
  return { plugin: o.plugin, variant: o.variant, phases, callP50: pct(first, 50), callP99: pct(first, 99), reqP50: pct(whole, 50), reqP99: pct(whole, 99), failures };
}

/**
 * --role cold: the first plugin of a fresh process, from update() to its PluginSet serving, ms.
 * `shipped`: the built-in header-rewrite with the loader's default caches (what a proxy starting
 * with a built-in pays); otherwise a user's filter (rebuiltGuest) this process and its empty cache
 * dir have never seen (what the first custom plugin of a proxy pays).
 */
export async function runColdRole(o: { builtinDir: string; tmp: string; shipped: boolean }): Promise<{ ms: number }> {
  let url = 'file:///builtin/header-rewrite.wasm';
  let cacheDir: string | undefined;
  let config: unknown = REWRITE_CONFIG;
  if (!o.shipped) {
    const dir = mkdtempSync(join(o.tmp, 'cold-'));
    const file = join(dir, 'rebuilt-cold.wasm');
    writeFileSync(file, await rebuiltGuest('cold'));
    url = pathToFileURL(file).href;
    cacheDir = join(dir, 'cache');
    config = { version: 'cold' };
  }
  const t0 = performance.now();
  const runtime = createNodePluginRuntime({ builtinDir: o.builtinDir, shapeCache, ...(cacheDir ? { cacheDir } : {}) });
  await runtime.update([binding('bench.p', url, 'http-filter', config)]);
  const ms = performance.now() - t0;
  if (runtime.status()[0]!.state !== 'ready') throw new Error(`cold load failed: ${runtime.status()[0]!.error}`);
  return { ms };
}

/**
 * The user's edit: the same small filter rebuilt with one constant changed, as `weft plugin build`
 * makes it (componentize-qjs, QuickJS). It sets `x-version` from its config and `x-build` from its
 * code, so a swap is seen to serve both (test/support/plugin-fixtures.ts builds and caches it).
 */
export async function rebuiltGuest(build: string, repo = process.cwd()): Promise<Uint8Array> {
  const jsSource = `import { config } from 'weft:plugin/host@0.2.0';
const BUILD = '${build}';
let version;
export const filter = {
  wantedPhases() { return { requestHeaders: true, requestBody: false, responseHeaders: false, responseBody: false }; },
  requestHeadersWanted() { return []; },
  responseHeadersWanted() { return []; },
  // weft:plugin@0.2.0 without the SDK: the outcome string sets two request headers
  onRequestHeaders(h) {
    version ??= String(JSON.parse(config()).version);
    return 'qx-version\\u0000' + version + '\\u0000qx-build\\u0000' + BUILD + '\\u0000';
  },
  onRequestBody(h, eos) { return ''; },
  onResponseHeaders(h) { return ''; },
  onResponseBody(h, eos) { return ''; },
};
`;
  return cachedHttpFilter(repo, 'rebuilt', jsSource);
}

/** the bench's "before": WEFT_BENCH_SHAPE_CACHE=0 loads every new component through jco, as before shape-cache.ts */
const shapeCache = process.env.WEFT_BENCH_SHAPE_CACHE !== '0';

/** --role swap: in a warm process, update() to a new config, then to a new component, until the new set serves (ms each) */
export async function runSwapRole(o: { builtinDir: string; tmp: string; times: number }): Promise<{ configMs: number[]; componentMs: number[] }> {
  // a cache dir of its own: the bench leaves nothing in the default one
  const runtime = createNodePluginRuntime({ builtinDir: o.builtinDir, cacheDir: mkdtempSync(join(o.tmp, 'swap-cache-')), shapeCache });
  const cfg = (v: string) => ({ request: { set: { 'x-version': v } } });
  const check = (v: string) => {
    const x = new RecordedExchange(REQUEST);
    runtime.plugins().httpFilters[0]!.onRequestHeaders(x);
    if (x.requestHeaders.get('x-version') !== v) throw new Error(`swap to ${v} not serving (got ${x.requestHeaders.get('x-version')})`);
  };
  // warm: a first plugin loaded and serving (the transpiler worker, the runtime's code)
  await runtime.update([binding('bench.p', 'file:///builtin/header-rewrite.wasm', 'http-filter', cfg('0'))]);
  check('0');
  const configMs: number[] = [];
  for (let i = 1; i <= o.times; i++) {
    const t0 = performance.now();
    await runtime.update([binding('bench.p', 'file:///builtin/header-rewrite.wasm', 'http-filter', cfg(`c${i}`))]);
    configMs.push(performance.now() - t0);
    check(`c${i}`);
  }
  // the user's edits: the same filter rebuilt with another constant each time (built before the clock starts)
  const files: string[] = [];
  for (let i = 1; i <= o.times; i++) {
    const file = join(mkdtempSync(join(o.tmp, 'swap-')), `rebuilt-${i}.wasm`);
    writeFileSync(file, await rebuiltGuest(`swap-${i}`));
    files.push(file);
  }
  const componentMs: number[] = [];
  for (let i = 1; i <= o.times; i++) {
    const t0 = performance.now();
    await runtime.update([binding('bench.p', pathToFileURL(files[i - 1]!).href, 'http-filter', { version: `n${i}` })]);
    componentMs.push(performance.now() - t0);
    const st = runtime.status()[0]!;
    if (st.error) throw new Error(`component swap ${i} failed: ${st.error}`);
    const x = new RecordedExchange(REQUEST);
    runtime.plugins().httpFilters[0]!.onRequestHeaders(x);
    if (x.requestHeaders.get('x-version') !== `n${i}` || x.requestHeaders.get('x-build') !== `swap-${i}`) {
      throw new Error(`swap to build swap-${i} not serving (got ${x.requestHeaders.get('x-version')} / ${x.requestHeaders.get('x-build')})`);
    }
  }
  return { configMs, componentMs };
}

/** runs this bench script again with a role; its last stdout line is the JSON result */
export function childRole<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', process.argv[1]!, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`role ${args.join(' ')} exited with ${code}: ${out.slice(-500)}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`role ${args.join(' ')} printed no result: ${out.slice(-500)}`));
      }
    });
  });
}
