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
 * before each guest call (in one Wasm call that sets them all where the runtime can compile one:
 * fuel-refill.ts, 5-15 ns instead of 160-290 ns for 11 setters). Set all of them for a component of unknown origin (~40 ns each; the
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
import { encodeU, lebSize, readSections, Reader, SEC_CODE, SEC_EXPORT, SEC_GLOBAL, SEC_IMPORT, SEC_MEMORY, section, SECTION_RANK, WasmMeterError, writeU, type Section } from './wasm-binary.ts';
import { IntList, scanCode } from './wasm-instructions.ts';

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
export { WasmMeterError };

export const FUEL_EXPORT = 'weft_fuel';
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
