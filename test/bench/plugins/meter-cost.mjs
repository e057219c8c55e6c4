// What fuel metering (core/plugin/wasm-meter.ts) costs, on a real QuickJS plugin component:
// - time to meter each core module jco extracts (the 1.25 MB QuickJS engine is the one that counts),
// - per-call cost of a simple filter call (reads one header, sets one), metered vs unmetered,
//   100k calls after warm-up, p50/p99,
// - how fuel maps to time: fuel burnt per ms by a busy JS loop, fuel per JS loop iteration, and how
//   long a runaway call with a given budget takes to trap,
// - the raw cost of one check in a tight wasm loop.
// Usage: node test/bench/plugins/meter-cost.mjs [calls=100000]
// Builds the component once and caches it (with the bundled meter) under .tmp/meter/.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';

v8.setFlagsFromString('--experimental-wasm-extended-const');
const CALLS = Number(process.argv[2] ?? 100_000);
const root = resolve(import.meta.dirname, '../../..');
const tmp = `${root}/.tmp/meter`;
mkdirSync(tmp, { recursive: true });
writeFileSync(`${tmp}/package.json`, '{"type":"module"}');

await build({
  entryPoints: [`${root}/core/plugin/wasm-meter.ts`],
  outfile: `${tmp}/wasm-meter.mjs`,
  bundle: true,
  platform: 'neutral',
  format: 'esm',
  logLevel: 'warning',
});
const { meterModule } = await import(pathToFileURL(`${tmp}/wasm-meter.mjs`).href);

// x-mode: loop -> never returns; count -> x-n iterations of a busy loop; else read one header, set one
const guest = `
import { requestHeader, setRequestHeader } from 'weft:plugin/http@0.1.0';
export const filter = {
  wantedPhases() { return { requestHeaders: true }; },
  onRequestHeaders() {
    const mode = requestHeader('x-mode');
    if (mode === 'loop') { let i = 0; for (;;) { i++; } }
    if (mode === 'count') { const n = Number(requestHeader('x-n')); let i = 0; while (i < n) { i++; } setRequestHeader('x-i', String(i)); }
    else setRequestHeader('x-seen', mode ?? 'none');
    return { tag: 'continue' };
  },
  onRequestBody(eos) { return { tag: 'continue' }; },
  onResponseHeaders() { return { tag: 'continue' }; },
  onResponseBody(eos) { return { tag: 'continue' }; },
};
`;
const key = createHash('sha256').update(guest).digest('hex').slice(0, 12);
const componentPath = `${tmp}/bench-filter-${key}.wasm`;
if (!existsSync(componentPath)) {
  const { componentize } = await import('componentize-qjs');
  const { component } = await componentize({ witPath: `${root}/plugins/wit-0.1.0`, jsSource: guest, world: 'http-filter', stubWasi: true, sync: true });
  writeFileSync(componentPath, component);
}
const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
const t = await transpileBytes(readFileSync(componentPath), { name: 'p', instantiation: 'async', nodejsCompat: false });
const files = new Map(Object.entries(t.files instanceof Map ? Object.fromEntries(t.files) : t.files));
let glue = Buffer.from(files.get('p.js')).toString();
const debugCheck = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
if (!glue.includes(debugCheck)) throw new Error('JCO_DEBUG check not found in the glue');
glue = glue.replaceAll(debugCheck, 'return;');
writeFileSync(`${tmp}/bench-glue-${key}.js`, glue);
const { instantiate } = await import(pathToFileURL(`${tmp}/bench-glue-${key}.js`).href);

// ---- metering time ----
const metered = new Map();
console.log('core module          size      meter ms  loops  fuel');
for (const [name, bytes] of files) {
  if (!name.endsWith('.wasm')) continue;
  const u8 = new Uint8Array(bytes);
  meterModule(u8); // warm the JIT so the figure is the steady-state one
  const times = [];
  let m;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    m = meterModule(u8, { memoryMaxPages: 1024 });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  metered.set(name, m.bytes);
  if (!WebAssembly.validate(m.bytes)) throw new Error(`${name}: metered output does not validate`);
  console.log(`${name.padEnd(18)} ${String(u8.length).padStart(9)}  ${times[2].toFixed(2).padStart(8)}  ${String(m.loops).padStart(5)}  ${m.fuelExport || '-'}`);
}
{
  // first-ever call in a fresh isolate (cold JIT) on the largest module
  const [name, bytes] = [...files].filter(([n]) => n.endsWith('.wasm')).sort((a, b) => b[1].length - a[1].length)[0];
  console.log(`largest: ${name} (${bytes.length} bytes)`);
}

// ---- instantiate both ----
const kv = new Map();
const headers = new Map([['x-mode', 'plain']]);
const set = new Map();
const imports = {
  'weft:plugin/host': {
    log() {}, counterAdd() {}, histogramRecord() {}, monotonicNow: () => process.hrtime.bigint(),
    kvGet: (k) => kv.get(k), kvSet: (k, v) => kv.set(k, v), kvIncrement: () => 0n, config: () => '{}',
  },
  'weft:plugin/http': {
    method: () => 'GET', scheme: () => 'http', authority: () => 'a', path: () => '/',
    requestHeader: (n) => headers.get(n), setRequestHeader: (n, v) => set.set(n, v), appendRequestHeader() {}, removeRequestHeader() {},
    requestBody: () => new Uint8Array(), responseStatus: () => 0, responseHeader: () => undefined,
    setResponseHeader() {}, appendResponseHeader() {}, removeResponseHeader() {}, responseBody: () => new Uint8Array(),
    sourcePrincipal: () => '', sourceAddress: () => '',
  },
};
async function load(useMeter) {
  const fuel = [];
  const compiled = new Map();
  for (const [name, bytes] of files) if (name.endsWith('.wasm')) compiled.set(name, await WebAssembly.compile(useMeter ? metered.get(name) : bytes));
  const inst = await instantiate((n) => compiled.get(n), imports, async (module, imp) => {
    const instance = await WebAssembly.instantiate(module, imp);
    if (instance.exports.weft_fuel) fuel.push(instance.exports.weft_fuel);
    return instance;
  });
  return { filter: inst.filter, fuel };
}

const q = (ns, p) => (ns[Math.floor(p * (ns.length - 1))] / 1000).toFixed(2);
/** a and b alternate in blocks of 1000 calls, so machine load hits both alike */
function benchPair(labelA, a, labelB, b) {
  for (let i = 0; i < 20_000; i++) { a(); b(); }
  const na = new Float64Array(CALLS);
  const nb = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i += 1000) {
    for (let j = i; j < i + 1000 && j < CALLS; j++) {
      const t0 = process.hrtime.bigint();
      a();
      na[j] = Number(process.hrtime.bigint() - t0);
    }
    for (let j = i; j < i + 1000 && j < CALLS; j++) {
      const t0 = process.hrtime.bigint();
      b();
      nb[j] = Number(process.hrtime.bigint() - t0);
    }
  }
  na.sort();
  nb.sort();
  console.log(`${labelA.padEnd(48)} p50 ${q(na, 0.5)} us  p99 ${q(na, 0.99)} us`);
  console.log(`${labelB.padEnd(48)} p50 ${q(nb, 0.5)} us  p99 ${q(nb, 0.99)} us`);
}

function runaway(p, budget, label) {
  headers.set('x-mode', 'loop');
  for (const g of p.fuel) g.value = budget;
  const t0 = performance.now();
  let err;
  try {
    p.filter.onRequestHeaders();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  console.log(`runaway, ${label}, budget ${budget}: ${err?.constructor?.name} after ${ms.toFixed(1)} ms (${Math.round(budget / ms)} fuel/ms)`);
}

// first: a runaway on the first call of a freshly compiled module (V8's baseline tier, Liftoff:
// a wasm function that never returns is never tiered up)
runaway(await load(true), 1_000_000, 'first call, baseline tier');

const plain = await load(false);
const meter = await load(true);
console.log(`metered instance: ${meter.fuel.length} weft_fuel globals`);
const BUDGET = 10_000_000;
const setFuel = (g) => { for (let i = 0; i < g.length; i++) g[i].value = BUDGET; };
headers.set('x-mode', 'plain');
benchPair('unmetered onRequestHeaders', () => plain.filter.onRequestHeaders(),
  'metered, all fuel globals set before each call', () => { setFuel(meter.fuel); meter.filter.onRequestHeaders(); });
{
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) setFuel(meter.fuel);
  console.log(`setting the ${meter.fuel.length} fuel globals: ${(Number(process.hrtime.bigint() - t0) / CALLS).toFixed(0)} ns per call`);
  const g = meter.fuel[0];
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) g.value = BUDGET;
  console.log(`setting one fuel global: ${(Number(process.hrtime.bigint() - t1) / CALLS).toFixed(0)} ns per call`);
}
setFuel(meter.fuel);
meter.filter.onRequestHeaders();
console.log(`fuel used by one simple call: ${meter.fuel.map((g) => BUDGET - g.value).join(', ')} (per module with code)`);

// ---- fuel and time ----
headers.set('x-mode', 'count');
for (const n of [100_000, 1_000_000, 1_000_000]) {
  headers.set('x-n', String(n));
  setFuel(meter.fuel);
  const t0 = performance.now();
  meter.filter.onRequestHeaders();
  const ms = performance.now() - t0;
  const used = Math.max(...meter.fuel.map((g) => BUDGET - g.value));
  const p0 = performance.now();
  plain.filter.onRequestHeaders();
  const pms = performance.now() - p0;
  console.log(`count ${n}: metered ${ms.toFixed(1)} ms, unmetered ${pms.toFixed(1)} ms, fuel ${used} (${(used / n).toFixed(2)} per JS iteration, ${Math.round(n / ms)} iterations/ms, ${Math.round(used / ms)} fuel/ms)`);
}
for (const budget of [1_000_000, 10_000_000]) runaway(await load(true), budget, 'fresh instance, module warmed');

// ---- one check, in a tight wasm loop ----
// (module (func (export "run") (param i32) (result i32) (local i32)
//   (loop (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br_if 0 (i32.lt_u (local.get 1) (local.get 0)))) (local.get 1)))
const loopWasm = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x00,
  0x0a, 0x19, 0x01, 0x17, 0x01, 0x01, 0x7f,
  0x03, 0x40, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x20, 0x01, 0x20, 0x00, 0x49, 0x0d, 0x00, 0x0b,
  0x20, 0x01, 0x0b,
);
const N = 200_000_000;
for (const [label, bytes] of [['unmetered', loopWasm], ['metered', meterModule(loopWasm).bytes]]) {
  const { instance } = await WebAssembly.instantiate(bytes);
  instance.exports.run(1000);
  const t0 = performance.now();
  const r = instance.exports.run(N);
  const ms = performance.now() - t0;
  if (r !== N) throw new Error(`loop returned ${r}`);
  console.log(`tight wasm loop ${label.padEnd(9)}: ${((ms * 1e6) / N).toFixed(3)} ns per iteration`);
}
