import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { FUEL_EXPORT, meterModule, WasmMeterError } from './wasm-meter.ts';

// The meter on a real QuickJS plugin component: test/integration/wasm-meter-component.test.ts.

/** WAT -> bytes through binaryen (test only: it is far too slow for load time) */
function wat(text: string): Uint8Array<ArrayBuffer> {
  const m = binaryen.parseText(text);
  m.setFeatures(binaryen.Features.All);
  if (!m.validate()) throw new Error('test module does not validate');
  const bytes = m.emitBinary() as Uint8Array<ArrayBuffer>;
  m.dispose();
  return bytes;
}

function validates(bytes: Uint8Array): boolean {
  const m = binaryen.readBinary(bytes);
  m.setFeatures(binaryen.Features.All);
  const ok = !!m.validate();
  m.dispose();
  return ok;
}

type Exports = Record<string, any> & { weft_fuel: WebAssembly.Global };
async function load(bytes: Uint8Array<ArrayBuffer>, imports: WebAssembly.Imports = {}): Promise<Exports> {
  const { instance } = await WebAssembly.instantiate(bytes, imports);
  return instance.exports as Exports;
}

const COUNT = `(module
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $i)))`;

describe('meterModule on small modules', () => {
  it('counts to N with enough fuel and traps with too little; one unit per loop iteration and call', async () => {
    const m = meterModule(wat(COUNT));
    expect(m.fuelExport).toBe(FUEL_EXPORT);
    expect(m.loops).toBe(1);
    expect(WebAssembly.validate(m.bytes)).toBe(true);
    expect(validates(m.bytes)).toBe(true);
    const e = await load(m.bytes);
    expect(e.weft_fuel.value).toBe(0x7fffffff); // starts full: unmetered behaviour until the host sets it
    // count(n) passes n+2 checks (entry + n+1 loop headers); the check traps when the counter reaches 0
    e.weft_fuel.value = 1000 + 3;
    expect(e.count(1000)).toBe(1000);
    expect(e.weft_fuel.value).toBe(1);
    e.weft_fuel.value = 1000 + 2;
    expect(() => e.count(1000)).toThrow(WebAssembly.RuntimeError);
    e.weft_fuel.value = 50;
    expect(() => e.count(1_000_000)).toThrow(/unreachable/);
    e.weft_fuel.value = 0;
    expect(() => e.count(0)).toThrow(WebAssembly.RuntimeError);
    e.weft_fuel.value = -5; // a negative budget is no budget
    expect(() => e.count(0)).toThrow(WebAssembly.RuntimeError);
  });

  it('stops an infinite loop', async () => {
    const e = await load(meterModule(wat(`(module (func (export "spin") (loop $l (br $l))))`)).bytes);
    e.weft_fuel.value = 10_000_000;
    const t0 = performance.now();
    expect(() => e.spin()).toThrow(WebAssembly.RuntimeError);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('nested loops: each header burns one unit', async () => {
    const m = meterModule(
      wat(`(module
        (func (export "grid") (param $a i32) (param $b i32) (result i32) (local $i i32) (local $j i32) (local $n i32)
          (block $oend (loop $outer
            (br_if $oend (i32.ge_u (local.get $i) (local.get $a)))
            (local.set $j (i32.const 0))
            (block $iend (loop $inner
              (br_if $iend (i32.ge_u (local.get $j) (local.get $b)))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $inner)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $outer)))
          (local.get $n)))`),
    );
    expect(m.loops).toBe(2);
    const e = await load(m.bytes);
    const budget = 1_000_000;
    e.weft_fuel.value = budget;
    expect(e.grid(30, 40)).toBe(1200);
    expect(budget - e.weft_fuel.value).toBe(1 + 31 + 30 * 41);
  });

  it('br_table dispatch in a loop behaves as before', async () => {
    const src = wat(`(module
      (func (export "run") (param $n i32) (result i32) (local $acc i32)
        (block $exit
          (loop $l
            (block $b2 (block $b1 (block $b0
              (br_table $b0 $b1 $b2 (i32.rem_u (local.get $n) (i32.const 3))))
              (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
              (br $b2))
              (local.set $acc (i32.add (local.get $acc) (i32.const 10))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (i32.gt_s (local.get $n) (i32.const 0)))))
        (local.get $acc)))`);
    const m = meterModule(src);
    expect(m.loops).toBe(1);
    const plain = await load(src);
    const e = await load(m.bytes);
    for (const n of [1, 2, 3, 10, 1001]) {
      e.weft_fuel.value = 10_000;
      expect(e.run(n)).toBe(plain.run(n));
    }
    e.weft_fuel.value = 100;
    expect(() => e.run(1000)).toThrow(WebAssembly.RuntimeError);
  });

  it('function entries are counted: loop-free exponential recursion is stopped', async () => {
    const m = meterModule(
      wat(`(module (func $fib (export "fib") (param $n i32) (result i32)
        (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
          (then (local.get $n))
          (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2))))))))`),
    );
    expect(m.loops).toBe(0);
    const e = await load(m.bytes);
    e.weft_fuel.value = 1_000_000;
    expect(e.fib(20)).toBe(6765);
    e.weft_fuel.value = 1_000_000;
    expect(() => e.fib(40)).toThrow(WebAssembly.RuntimeError);
  });

  it('the fuel global comes after imported and defined globals without shifting them; sections are added when absent', async () => {
    const m = meterModule(
      wat(`(module
        (import "env" "g" (global $g i32))
        (global $x (mut i32) (i32.const 5))
        (func (export "get") (result i32) (i32.add (global.get $g) (global.get $x)))
        (func (export "bump") (global.set $x (i32.add (global.get $x) (i32.const 1)))))`),
    );
    const e = await load(m.bytes, { env: { g: new WebAssembly.Global({ value: 'i32' }, 100) } });
    e.bump();
    expect(e.get()).toBe(106);
    expect(e.weft_fuel.value).toBe(0x7fffffff - 2); // two calls, no loops
    // no global or export section at all (binaryen drops empty ones)
    const bare = meterModule(wat(`(module (func $f (loop $l)) (start $f))`));
    expect(bare.loops).toBe(1);
    const mod = new WebAssembly.Module(bare.bytes);
    expect(WebAssembly.Module.exports(mod)).toEqual([{ name: FUEL_EXPORT, kind: 'global' }]);
    await WebAssembly.instantiate(mod);
  });

  it('memoryMaxPages caps growth; memory.grow past it returns -1', async () => {
    const grower = (limits: string) =>
      wat(`(module (memory (export "mem") ${limits})
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    const e = await load(meterModule(grower('1'), { memoryMaxPages: 4 }).bytes);
    expect(e.grow(2)).toBe(1);
    expect(e.grow(2)).toBe(-1);
    expect(e.grow(1)).toBe(3);
    expect(e.grow(1)).toBe(-1);
    const lowered = await load(meterModule(grower('1 100'), { memoryMaxPages: 4 }).bytes);
    expect(lowered.grow(4)).toBe(-1);
    const kept = await load(meterModule(grower('1 2'), { memoryMaxPages: 4 }).bytes);
    expect(kept.grow(2)).toBe(-1);
    expect(kept.grow(1)).toBe(1);
    const shared = meterModule(grower('1 100 shared'), { memoryMaxPages: 4 });
    const s = await load(shared.bytes);
    expect(s.mem.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(s.grow(4)).toBe(-1);
    expect(() => meterModule(grower('8'), { memoryMaxPages: 4 })).toThrow(/over the cap of 4/);
    // a module without code but with a memory is capped too
    const dataOnly = meterModule(wat(`(module (memory (export "mem") 1))`), { memoryMaxPages: 2 });
    expect(dataOnly.fuelExport).toBe('');
    const mem = (await load(dataOnly.bytes)).mem as WebAssembly.Memory;
    expect(() => mem.grow(2)).toThrow(RangeError);
  });

  it('a module without code passes through unchanged', () => {
    const src = wat(`(module (memory 1) (global (export "g") i32 (i32.const 7)) (data (i32.const 0) "hi"))`);
    const m = meterModule(src);
    expect(m).toEqual({ bytes: src, fuelExport: '', loops: 0 });
    const empty = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
    expect(meterModule(empty).bytes).toBe(empty);
  });

  it('decodes SIMD, atomics, bulk memory, exceptions, typed select, multi-value and reference immediates', () => {
    const src = wat(`(module
      (type $sig (func (param i32) (result i32)))
      (memory 1 1 shared)
      (table 2 funcref)
      (elem declare func $id)
      (data $d "\\03\\03\\03")
      (tag $t (param i32))
      (func $id (type $sig) (local.get 0))
      (func (export "all") (param $p i32) (result i32) (local $v v128) (local $r funcref)
        (loop $a (br_if $a (i32.eqz (i32.const 3))))
        (local.set $v (v128.const i32x4 3 3 3 3))
        (local.set $v (i8x16.shuffle 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 (local.get $v) (local.get $v)))
        (local.set $v (v128.load offset=3 align=4 (i32.const 3)))
        (local.set $v (v128.load8_lane offset=3 3 (i32.const 0) (local.get $v)))
        (drop (i8x16.extract_lane_u 3 (local.get $v)))
        (drop (i32x4.relaxed_laneselect (local.get $v) (local.get $v) (local.get $v)))
        (drop (i32.atomic.rmw.add offset=3 (i32.const 0) (i32.const 3)))
        (atomic.fence)
        (drop (memory.atomic.notify (i32.const 0) (i32.const 3)))
        (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3))
        (memory.copy (i32.const 3) (i32.const 0) (i32.const 3))
        (memory.fill (i32.const 0) (i32.const 3) (i32.const 3))
        (data.drop $d)
        (drop (i32.trunc_sat_f64_s (f64.const 3.3)))
        (drop (f32.const 3.3))
        (drop (i64.const 0x0303030303))
        (local.set $r (ref.func $id))
        (drop (ref.is_null (ref.null func)))
        (table.set (i32.const 1) (local.get $r))
        (drop (table.size))
        (drop (select (result i32) (i32.const 3) (i32.const 3) (local.get $p)))
        (drop (call_indirect (type $sig) (i32.const 3) (i32.const 0)))
        (try (do (throw $t (i32.const 3))) (catch $t (drop)) (catch_all))
        (drop (block $out (result i32)
          (try_table (result i32) (catch $t $out) (i32.const 3))))
        (block (result i32 i32) (i32.const 3) (i32.const 3))
        drop
        drop
        (i32.const 3)
        (loop $b (param i32) (result i32) (br_if $b (i32.eqz (local.get 0))) (i32.const 0) (i32.add))
        drop
        (loop $c (result i32) (i32.const 3))
        (i32.add (memory.size))))`);
    const m = meterModule(src);
    expect(m.loops).toBe(3);
    expect(validates(m.bytes)).toBe(true);
  });

  it('refuses malformed input with WasmMeterError', () => {
    const good = wat(COUNT);
    expect(() => meterModule(good.subarray(0, good.length - 3))).toThrow(WasmMeterError);
    expect(() => meterModule(good.subarray(0, 5))).toThrow(/shorter than its header/);
    expect(() => meterModule(Uint8Array.of(1, 2, 3, 4, 1, 0, 0, 0))).toThrow(/bad magic/);
    expect(() => meterModule(Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0))).toThrow(/a component/);
    // an opcode that does not exist: 0x27 in place of the last `local.get`
    const bad = good.slice();
    const at = bad.lastIndexOf(0x20);
    bad[at] = 0x27;
    expect(() => meterModule(bad)).toThrow(/unknown opcode 0x27/);
    // a body size that runs past the section
    const code = findSection(good, 10);
    const long = good.slice();
    long[code + 1]! += 1; // first body's size (after the count)
    expect(() => meterModule(long)).toThrow(WasmMeterError);
    expect(() => meterModule(meterModule(good).bytes)).toThrow(/already exports 'weft_fuel'/);
  });
});

/** content start of section `id` (assumes one-byte section size, fine for the small modules here) */
function findSection(b: Uint8Array, id: number): number {
  let p = 8;
  while (p < b.length) {
    const sid = b[p]!;
    const size = b[p + 1]!;
    if (sid === id) return p + 2;
    p += 2 + size;
  }
  throw new Error(`no section ${id}`);
}

// ---- the real thing: a QuickJS plugin component through componentize-qjs and jco ----
