/**
 * Fuel metering for core WebAssembly modules (design.md section 6: a plugin that never returns
 * must fail its request, never hang the proxy).
 *
 * Why a rewriter: a synchronous WebAssembly call cannot be pre-empted on the thread that made it,
 * and a worker-thread round trip costs ~27 us. Instead each core module a component is made of is
 * rewritten at load time so that it counts down a fuel counter of its own and traps when it runs
 * out; the call stays on the calling thread and a runaway guest ends in a `WebAssembly.RuntimeError`
 * (`unreachable`), which the host treats like any other trap (fail the request, recycle the
 * instance). binaryen can do this too but takes ~1 s on the 1.25 MB QuickJS engine module; this
 * walks the bytes once, keeps every section but global/export/memory/code byte-for-byte, and is
 * runtime-neutral (plain Uint8Array, no I/O), so Node, Deno and workerd (at deploy time) share it.
 *
 * What it does to a module that has code:
 * - appends one mutable i32 global F (index = imported + defined globals, so no index shifts),
 *   initialised to i32 max, exported as `weft_fuel`;
 * - at each function entry and right after each `loop`'s block type inserts (16 bytes when F < 128)
 *     global.get F; i32.const 1; i32.sub; global.set F;
 *     global.get F; i32.const 0; i32.le_s; if unreachable end
 *   i.e. every loop iteration and every call burns one unit and the check traps once the counter
 *   reaches zero. Function entries are counted too because a guest can run for ever without a loop
 *   (exponential recursion); plain infinite recursion already ends in a stack-overflow trap.
 * - `memoryMaxPages` caps the maximum of every memory the module defines (growth past it makes
 *   memory.grow return -1; QuickJS then throws out-of-memory, which becomes a trap). Imported
 *   memories are capped where they are defined (in jco output, one module defines the memory).
 *
 * The host's side: every core module that has code gets its own counter, so the host records the
 * `weft_fuel` export of each instance (jco's `instantiateCore` hook) and sets `.value = budget`
 * before each guest call. Set all of them for a component of unknown origin (~40 ns each; the
 * QuickJS components here have 11); the loop-free ones (jco's adapter shims) burn one unit per call
 * through them, so where the component comes from `weft plugin build` setting only the modules with
 * loops per call and topping up the rest every million calls or so is enough.
 *
 * Fuel and time (test/bench/plugins/meter-cost.mjs; Node 20, 2 cores, measured under a load
 * average of ~12, so absolute times are pessimistic):
 * - QuickJS burns 9 fuel per iteration of `while (i < n) i++` (its bytecode dispatch is a wasm
 *   `loop`, so fuel is roughly bytecodes executed): 120k-310k fuel per ms (13k-34k JS iterations
 *   per ms) once V8 has optimised the engine. A plain filter call uses ~570.
 * - A guest that loops on the very first call of a freshly compiled module runs in V8's baseline
 *   tier (Liftoff; wasm has no on-stack replacement, so that call is never tiered up): 6k-22k fuel
 *   per ms. Budgets must be chosen for that case: 1M fuel trapped after 45-170 ms cold, 3 ms warm;
 *   10M after 66 ms warm.
 * - One check costs ~1.7 ns in a tight wasm loop (1.5 -> 3.2 ns per iteration). Per plugin call
 *   the metered component measured p50 27.8 us vs 27.1 us unmetered (p99 227 vs 202 us), the
 *   difference being mostly the 11 global writes (~0.46 us).
 * - Metering the 1.31 MB QuickJS engine module (2300 loops, the count wasm-tools prints too)
 *   takes ~10-20 ms with a warm JIT, 45-100 ms for the first module in a process.
 *
 * Debug custom sections (DWARF) that point into the code section are left as they are and go
 * stale; the name section stays correct (no index changes).
 */

import { concatBytes } from '../util/bytes.ts';

export interface MeterOptions {
  /** cap every defined memory's maximum (64 KiB pages); a module whose min exceeds it is refused */
  memoryMaxPages?: number;
}

export interface MeteredModule {
  /** backed by an ArrayBuffer, as WebAssembly.compile wants */
  bytes: Uint8Array<ArrayBuffer>;
  /** 'weft_fuel', or '' when the module has no code (it is then returned unmetered) */
  fuelExport: string;
  /** how many loop headers got a check */
  loops: number;
}

export class WasmMeterError extends Error {
  override name = 'WasmMeterError';
}

export const FUEL_EXPORT = 'weft_fuel';

const SEC_IMPORT = 2;
const SEC_MEMORY = 5;
const SEC_GLOBAL = 6;
const SEC_EXPORT = 7;
const SEC_CODE = 10;
/** position of each known section id in the module's required order (custom sections: anywhere) */
const SECTION_RANK: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };

interface Section {
  id: number;
  /** first byte of the section's id */
  start: number;
  /** first byte of its content */
  body: number;
  /** one past its last byte */
  end: number;
}

/** A cursor over a byte range; every read is bounds-checked against `end`. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    public end: number,
  ) {}

  fail(what: string): never {
    throw new WasmMeterError(`malformed module at byte ${this.p}: ${what}`);
  }

  byte(): number {
    if (this.p >= this.end) this.fail('unexpected end');
    return this.b[this.p++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) this.fail('LEB128 u32 too long');
    }
    if (result > 0xffffffff) this.fail('LEB128 u32 out of range');
    return result;
  }

  /** an unsigned LEB up to 64 bits, as a number (memory64 limits; exact below 2^53) */
  u64(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) this.fail('LEB128 u64 too long');
    }
  }

  /** a signed LEB (s33 block/heap types, s32/s64 constants) up to 10 bytes; returns the value for one byte, else NaN */
  sleb(): number {
    const first = this.byte();
    if ((first & 0x80) === 0) return first & 0x40 ? first - 0x80 : first;
    for (let n = 1; ; n++) {
      if (n >= 10) this.fail('LEB128 too long');
      if ((this.byte() & 0x80) === 0) return NaN;
    }
  }

  skip(n: number): void {
    if (this.p + n > this.end) this.fail('unexpected end');
    this.p += n;
  }

  name(): string {
    const n = this.u32();
    this.skip(n);
    let s = '';
    for (let i = this.p - n; i < this.p; i++) s += String.fromCharCode(this.b[i]!);
    return s;
  }

  /** valtype, with the typed-reference forms (0x63/0x64 followed by a heap type) */
  valtype(): void {
    const t = this.byte();
    if (t === 0x63 || t === 0x64) this.sleb();
  }

  /** limits; returns the flags */
  limits(): number {
    const flags = this.byte();
    if (flags > 0x0f) this.fail(`unknown limits flags 0x${flags.toString(16)}`);
    this.u64();
    if (flags & 1) this.u64();
    if (flags & 8) this.u32();
    return flags;
  }

  blocktype(): void {
    // 0x40 (empty) and single-byte valtypes decode as negative s33; 0x63/0x64 (ref null? ht) are
    // followed by a heap type; anything else is a type index
    const v = this.sleb();
    if (v === -29 || v === -28) this.sleb();
  }

  memarg(): void {
    const align = this.u32();
    if (align & 0x40) this.u32(); // multi-memory: a memory index follows
    this.u64(); // offset (u64 under memory64)
  }
}

function lebSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeU(out: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

function encodeU(v: number): Uint8Array {
  const out = new Uint8Array(lebSize(v));
  writeU(out, 0, v);
  return out;
}

function section(id: number, content: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of content) n += c.length;
  return concatBytes([Uint8Array.of(id), encodeU(n), ...content]);
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8) throw new WasmMeterError('not a WebAssembly module: shorter than its header');
  if (bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new WasmMeterError('not a WebAssembly module: bad magic');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new WasmMeterError(
      bytes[6] === 1 ? 'a component, not a core module: meter the core modules jco extracts' : 'unsupported WebAssembly version',
    );
  }
  const r = new Reader(bytes, 8, bytes.length);
  const sections: Section[] = [];
  let lastRank = 0;
  while (r.p < bytes.length) {
    const start = r.p;
    const id = r.byte();
    const size = r.u32();
    const body = r.p;
    r.skip(size);
    if (id !== 0) {
      const rank = SECTION_RANK[id];
      if (rank === undefined) throw new WasmMeterError(`malformed module: unknown section id ${id} at byte ${start}`);
      if (rank <= lastRank) throw new WasmMeterError(`malformed module: section ${id} out of order at byte ${start}`);
      lastRank = rank;
    }
    sections.push({ id, start, body, end: r.p });
  }
  return sections;
}

function countImportedGlobals(bytes: Uint8Array, s: Section | undefined): number {
  if (!s) return 0;
  const r = new Reader(bytes, s.body, s.end);
  let globals = 0;
  for (let n = r.u32(); n > 0; n--) {
    r.skip(r.u32()); // module
    r.skip(r.u32()); // field
    const kind = r.byte();
    switch (kind) {
      case 0x00: // func
        r.u32();
        break;
      case 0x01: // table
        r.valtype();
        r.limits();
        break;
      case 0x02: // memory
        r.limits();
        break;
      case 0x03: // global
        r.valtype();
        r.byte();
        globals++;
        break;
      case 0x04: // tag
        r.byte();
        r.u32();
        break;
      default:
        r.fail(`unknown import kind 0x${kind.toString(16)}`);
    }
  }
  if (r.p !== s.end) r.fail('import section size mismatch');
  return globals;
}

function capMemories(bytes: Uint8Array, s: Section, maxPages: number): Uint8Array {
  const r = new Reader(bytes, s.body, s.end);
  const n = r.u32();
  const parts: Uint8Array[] = [encodeU(n)];
  for (let i = 0; i < n; i++) {
    const flags = r.byte();
    if (flags > 0x0f) r.fail(`unknown memory limits flags 0x${flags.toString(16)}`);
    if (flags & 8) throw new WasmMeterError('memory with a custom page size: memoryMaxPages counts 64 KiB pages, refusing to guess');
    const min = r.u64();
    const max = flags & 1 ? r.u64() : Infinity;
    if (min > maxPages) {
      throw new WasmMeterError(`memory ${i} needs at least ${min} pages (64 KiB), over the cap of ${maxPages}`);
    }
    // shared (0x02) and memory64 (0x04) bits are kept; a max is always present now
    parts.push(Uint8Array.of(flags | 1), encodeU(min), encodeU(Math.min(max, maxPages)));
  }
  if (r.p !== s.end) r.fail('memory section size mismatch');
  return section(SEC_MEMORY, parts);
}

/** Export names of the module (to refuse one already metered). */
function hasExport(bytes: Uint8Array, s: Section | undefined, name: string): boolean {
  if (!s) return false;
  const r = new Reader(bytes, s.body, s.end);
  let found = false;
  for (let n = r.u32(); n > 0; n--) {
    if (r.name() === name) found = true;
    r.byte();
    r.u32();
  }
  if (r.p !== s.end) r.fail('export section size mismatch');
  return found;
}

// Immediate kinds by opcode, so the walk below is one table load and a small switch per
// instruction: metering runs once per module at load time, mostly before the JIT has warmed up,
// and a flat loop over local variables is what V8 runs fast cold (on-stack replacement).
const enum K {
  NONE,
  LEB, // one LEB128 immediate (index, label, or a signed constant: skipped alike)
  LEB2,
  BLOCK,
  LOOP,
  MEMARG,
  BYTES4,
  BYTES8,
  BR_TABLE,
  SELECT_T,
  TRY_TABLE,
  PREFIX,
  UNKNOWN = 255,
}
const KIND = new Uint8Array(256).fill(K.UNKNOWN);
{
  const set = (kind: number, ...ops: number[]) => ops.forEach((op) => (KIND[op] = kind));
  // unreachable nop else throw_ref end return catch_all drop select ref.is_null ref.eq ref.as_non_null
  set(K.NONE, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd3, 0xd4);
  for (let op = 0x45; op <= 0xc4; op++) KIND[op] = K.NONE; // numeric, incl. sign extension
  // catch throw rethrow br br_if call return_call call_ref return_call_ref delegate
  set(K.LEB, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x18);
  // local.get/set/tee global.get/set table.get/set memory.size/grow
  set(K.LEB, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3f, 0x40);
  // i32.const i64.const ref.null(heap type) ref.func br_on_null br_on_non_null
  set(K.LEB, 0x41, 0x42, 0xd0, 0xd2, 0xd5, 0xd6);
  set(K.LEB2, 0x11, 0x13); // call_indirect, return_call_indirect: type, table
  set(K.BLOCK, 0x02, 0x04, 0x06); // block if try
  set(K.LOOP, 0x03);
  for (let op = 0x28; op <= 0x3e; op++) KIND[op] = K.MEMARG; // loads and stores
  set(K.BYTES4, 0x43);
  set(K.BYTES8, 0x44);
  set(K.BR_TABLE, 0x0e);
  set(K.SELECT_T, 0x1c);
  set(K.TRY_TABLE, 0x1f);
  set(K.PREFIX, 0xfb, 0xfc, 0xfd, 0xfe);
}

function scanRare(r: Reader, op: number): void {
  switch (op) {
    case 0x0e: // br_table: vec(label) default
      for (let n = r.u32(); n >= 0; n--) r.u32();
      return;
    case 0x1c: // select t*
      for (let n = r.u32(); n > 0; n--) r.valtype();
      return;
    case 0x1f: // try_table bt vec(catch)
      r.blocktype();
      for (let n = r.u32(); n > 0; n--) {
        const kind = r.byte();
        if (kind > 3) r.fail(`unknown try_table catch kind ${kind}`);
        if (kind < 2) r.u32(); // tag
        r.u32(); // label
      }
      return;
    case 0xfb:
      return scanGc(r);
    case 0xfc:
      return scanMisc(r);
    case 0xfd:
      return scanSimd(r);
    case 0xfe:
      return scanAtomic(r);
  }
  r.p--;
  r.fail(`unknown opcode 0x${op.toString(16)}`);
}

function scanMisc(r: Reader): void {
  const sub = r.u32();
  if (sub <= 7) return; // saturating truncations
  switch (sub) {
    case 8: // memory.init data mem
    case 10: // memory.copy mem mem
    case 12: // table.init elem table
    case 14: // table.copy table table
      r.u32();
      r.u32();
      return;
    case 9: // data.drop
    case 11: // memory.fill
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      r.u32();
      return;
  }
  r.fail(`unknown 0xfc opcode ${sub}`);
}

/** opcodes 0x5e..0x113 with no immediates, minus the unassigned holes */
const SIMD_HOLES = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]);

function scanSimd(r: Reader): void {
  const sub = r.u32();
  if (sub <= 11) return r.memarg(); // v128.load*, v128.store
  if (sub === 12 || sub === 13) return r.skip(16); // v128.const, i8x16.shuffle
  if (sub <= 20) return; // swizzle, splats
  if (sub <= 34) return r.skip(1); // extract/replace lane
  if (sub <= 83) return; // comparisons, bitwise
  if (sub <= 91) {
    r.memarg(); // load/store lane
    return r.skip(1);
  }
  if (sub <= 93) return r.memarg(); // load32_zero, load64_zero
  if (sub <= 0x113 && !SIMD_HOLES.has(sub)) return; // arithmetic, conversions, relaxed SIMD
  r.fail(`unknown 0xfd opcode ${sub}`);
}

function scanAtomic(r: Reader): void {
  const sub = r.u32();
  if (sub === 3) {
    // atomic.fence
    if (r.byte() !== 0) r.fail('atomic.fence takes a zero byte');
    return;
  }
  if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) return r.memarg();
  r.fail(`unknown 0xfe opcode ${sub}`);
}

function scanGc(r: Reader): void {
  const sub = r.u32();
  switch (sub) {
    case 15: // array.len
    case 26: // any.convert_extern
    case 27: // extern.convert_any
    case 28: // ref.i31
    case 29: // i31.get_s
    case 30: // i31.get_u
      return;
    case 0: // struct.new
    case 1: // struct.new_default
    case 6: // array.new
    case 7: // array.new_default
    case 11: // array.get
    case 12: // array.get_s
    case 13: // array.get_u
    case 14: // array.set
    case 16: // array.fill
      r.u32();
      return;
    case 2: // struct.get type field
    case 3:
    case 4:
    case 5: // struct.set
    case 8: // array.new_fixed type n
    case 9: // array.new_data type data
    case 10: // array.new_elem type elem
    case 17: // array.copy type type
    case 18: // array.init_data
    case 19: // array.init_elem
      r.u32();
      r.u32();
      return;
    case 20: // ref.test ht
    case 21: // ref.test null ht
    case 22: // ref.cast ht
    case 23: // ref.cast null ht
      r.sleb();
      return;
    case 24: // br_on_cast flags label ht ht
    case 25: // br_on_cast_fail
      r.byte();
      r.u32();
      r.sleb();
      r.sleb();
      return;
  }
  r.fail(`unknown 0xfb opcode ${sub}`);
}

/** Growable Int32Array list (the site and body tables: no per-entry objects, little GC). */
class IntList {
  a = new Int32Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const g = new Int32Array(this.a.length * 2);
      g.set(this.a);
      this.a = g;
    }
    this.a[this.n++] = v;
  }
}

/**
 * Walks every function body of the code section, recording per body [start, first instruction,
 * end, sites so far] in `bodies` and, in `sites`, the position right after each `loop`'s block
 * type. Every immediate is decoded, so a 0x03 byte inside an immediate is never taken for a loop;
 * an unknown opcode is an error. LEB128s are skipped without bounds checks: an overrun shows as a
 * walk that does not end exactly at its body's end.
 *
 * One function with one long loop over local variables on purpose: metering runs once per module
 * at load time, before the JIT has warmed up, and V8 optimises a long-running loop in place
 * (on-stack replacement) where thousands of short calls would mostly run in the interpreter.
 */
function scanCode(bytes: Uint8Array, s: Section, bodies: IntList, sites: IntList): number {
  const b = bytes;
  const r = new Reader(bytes, s.body, s.end);
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const start = r.p;
    const end = start + size;
    if (end > s.end) r.fail(`function body ${i} runs past the code section`);
    r.end = end;
    for (let n = r.u32(); n > 0; n--) {
      r.u32();
      r.valtype();
    }
    bodies.push(start);
    bodies.push(r.p);
    bodies.push(end);
    let p = r.p;
    while (p < end) {
      const op = b[p++]!;
      switch (KIND[op]) {
        case K.NONE:
          break;
        case K.LEB:
          while (b[p++]! & 0x80);
          break;
        case K.MEMARG: {
          let align = b[p++]!;
          if (align & 0x80) {
            r.p = p - 1;
            align = r.u32();
            p = r.p;
          }
          if (align & 0x40) while (b[p++]! & 0x80); // multi-memory: a memory index follows
          while (b[p++]! & 0x80); // offset
          break;
        }
        case K.LOOP: {
          const x = b[p++]!;
          if (x & 0x80 || x === 0x63 || x === 0x64) while (b[p++]! & 0x80);
          sites.push(p);
          break;
        }
        case K.BLOCK: {
          // 0x40 and single-byte valtypes; 0x63/0x64 (ref null? ht) then a heap type; else an s33 type index
          const x = b[p++]!;
          if (x & 0x80 || x === 0x63 || x === 0x64) while (b[p++]! & 0x80);
          break;
        }
        case K.LEB2:
          while (b[p++]! & 0x80);
          while (b[p++]! & 0x80);
          break;
        case K.BYTES4:
          p += 4;
          break;
        case K.BYTES8:
          p += 8;
          break;
        default:
          // the rare ones, through the bounds-checked reader
          r.p = p;
          scanRare(r, op);
          p = r.p;
      }
    }
    r.p = p;
    if (p !== end) r.fail(`function body ${i}: instructions run past its end`);
    if (b[end - 1] !== 0x0b) r.fail(`function body ${i} does not end with 'end'`);
    bodies.push(sites.n);
    r.end = s.end;
  }
  if (r.p !== s.end) r.fail('code section size mismatch');
  return count;
}

/** The metered code section, written straight into the output (it is most of the module). */
interface CodeWriter {
  size: number;
  loops: number;
  write(out: Uint8Array, o: number): number;
}

/** copies bytes[from, to) to out at o; short runs by hand (a subarray view per run costs more) */
function copy(out: Uint8Array, o: number, bytes: Uint8Array, from: number, to: number): number {
  if (to - from > 64) {
    out.set(bytes.subarray(from, to), o);
    return o + to - from;
  }
  while (from < to) out[o++] = bytes[from++]!;
  return o;
}

function meterCode(bytes: Uint8Array, s: Section, check: Uint8Array): CodeWriter {
  const bodies = new IntList();
  const sites = new IntList();
  const count = scanCode(bytes, s, bodies, sites);
  const B = bodies.a;
  const S = sites.a;
  const c = check.length;
  let contentSize = lebSize(count);
  for (let i = 0, prev = 0; i < count; i++) {
    const n = B[i * 4 + 3]! - prev;
    prev = B[i * 4 + 3]!;
    const newSize = B[i * 4 + 2]! - B[i * 4]! + (n + 1) * c;
    contentSize += lebSize(newSize) + newSize;
  }
  const size = 1 + lebSize(contentSize) + contentSize;
  const write = (out: Uint8Array, o: number): number => {
    const o0 = o;
    out[o++] = SEC_CODE;
    o = writeU(out, o, contentSize);
    o = writeU(out, o, count);
    for (let i = 0, k = 0; i < count; i++) {
      const start = B[i * 4]!;
      const code = B[i * 4 + 1]!;
      const end = B[i * 4 + 2]!;
      const lastSite = B[i * 4 + 3]!;
      o = writeU(out, o, end - start + (lastSite - k + 1) * c);
      o = copy(out, o, bytes, start, code);
      o = copy(out, o, check, 0, c);
      let from = code;
      for (; k < lastSite; k++) {
        const at = S[k]!;
        o = copy(out, o, bytes, from, at);
        o = copy(out, o, check, 0, c);
        from = at;
      }
      o = copy(out, o, bytes, from, end);
    }
    if (o - o0 !== size) throw new WasmMeterError(`internal error: code section size ${o - o0} != ${size}`);
    return o;
  };
  return { size, loops: sites.n, write };
}

/** The check: burn one unit of fuel, trap when none is left. */
function fuelCheck(global: number): Uint8Array {
  const g = encodeU(global);
  return concatBytes([
    Uint8Array.of(0x23), g, Uint8Array.of(0x41, 0x01, 0x6b, 0x24), g, // global.get F; i32.const 1; i32.sub; global.set F
    Uint8Array.of(0x23), g, Uint8Array.of(0x41, 0x00, 0x4c, 0x04, 0x40, 0x00, 0x0b), // global.get F; i32.const 0; i32.le_s; if unreachable end
  ]);
}

/**
 * Returns the module with a fuel counter (see the header comment); throws WasmMeterError on
 * malformed input. A module without code comes back unchanged but for the memory cap.
 */
export function meterModule(bytes: Uint8Array, opts: MeterOptions = {}): MeteredModule {
  const sections = readSections(bytes);
  const find = (id: number) => sections.find((s) => s.id === id);
  const cap = opts.memoryMaxPages;
  if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0)) {
    throw new WasmMeterError(`memoryMaxPages must be a non-negative integer, got ${cap}`);
  }
  const code = find(SEC_CODE);
  const hasCode = code !== undefined && new Reader(bytes, code.body, code.end).u32() > 0;
  const memory = find(SEC_MEMORY);
  if (!hasCode && (cap === undefined || !memory)) {
    return { bytes: bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice(), fuelExport: '', loops: 0 };
  }

  const replaced = new Map<Section, Uint8Array | CodeWriter>();
  if (cap !== undefined && memory) replaced.set(memory, capMemories(bytes, memory, cap));
  let loops = 0;
  const extra: { id: number; bytes: Uint8Array }[] = [];
  if (hasCode) {
    const exports = find(SEC_EXPORT);
    if (hasExport(bytes, exports, FUEL_EXPORT)) throw new WasmMeterError(`module already exports '${FUEL_EXPORT}' (metered twice?)`);
    const globals = find(SEC_GLOBAL);
    const defined = globals ? new Reader(bytes, globals.body, globals.end).u32() : 0;
    const fuel = countImportedGlobals(bytes, find(SEC_IMPORT)) + defined;

    // (mut i32) (i32.const 0x7fffffff): starts full, so a host that never sets it sees no change
    const newGlobal = Uint8Array.of(0x7f, 0x01, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x0b);
    if (globals) {
      const gr = new Reader(bytes, globals.body, globals.end);
      gr.u32();
      replaced.set(globals, section(SEC_GLOBAL, [encodeU(defined + 1), bytes.subarray(gr.p, globals.end), newGlobal]));
    } else {
      extra.push({ id: SEC_GLOBAL, bytes: section(SEC_GLOBAL, [encodeU(1), newGlobal]) });
    }

    const name = new TextEncoder().encode(FUEL_EXPORT);
    const entry = concatBytes([encodeU(name.length), name, Uint8Array.of(0x03), encodeU(fuel)]);
    if (exports) {
      const er = new Reader(bytes, exports.body, exports.end);
      const n = er.u32();
      replaced.set(exports, section(SEC_EXPORT, [encodeU(n + 1), bytes.subarray(er.p, exports.end), entry]));
    } else {
      extra.push({ id: SEC_EXPORT, bytes: section(SEC_EXPORT, [encodeU(1), entry]) });
    }

    const metered = meterCode(bytes, code!, fuelCheck(fuel));
    replaced.set(code!, metered);
    loops = metered.loops;
  }

  // reassemble: original order, replaced sections swapped in, new ones placed before the first
  // known section that must follow them
  const parts: (Uint8Array | CodeWriter)[] = [bytes.subarray(0, 8)];
  for (const s of sections) {
    if (s.id !== 0) {
      while (extra.length > 0 && SECTION_RANK[extra[0]!.id]! < SECTION_RANK[s.id]!) parts.push(extra.shift()!.bytes);
    }
    parts.push(replaced.get(s) ?? bytes.subarray(s.start, s.end));
  }
  for (const e of extra) parts.push(e.bytes);
  let size = 0;
  for (const p of parts) size += p instanceof Uint8Array ? p.length : p.size;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, o);
      o += p.length;
    } else {
      o = p.write(out, o);
    }
  }
  return { bytes: out, fuelExport: hasCode ? FUEL_EXPORT : '', loops };
}
