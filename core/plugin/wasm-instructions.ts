/**
 * The instruction walk for wasm-meter.ts: every opcode's immediates, so a function body can be
 * scanned exactly (an unknown opcode is an error, never a guess) and its loop headers found.
 * Runtime-neutral.
 */
import { Reader, type Section } from './wasm-binary.ts';

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
export class IntList {
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
export function scanCode(bytes: Uint8Array, s: Section, bodies: IntList, sites: IntList): number {
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
