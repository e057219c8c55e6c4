/**
 * A component's core modules and its "shape", read straight from the component binary, so that a
 * host can load a rebuilt plugin without running jco again (issue 5: a swap under 200 ms; jco's
 * transpile took ~1 s of the ~1.1 s a new component cost).
 *
 * Why this is enough: jco's instantiation-mode glue is made from the component's types, imports,
 * exports, core instances, aliases and canonical functions, and from each core module's imports and
 * exports; it takes every core module's bytes from the host (`getCoreModule`) by name. A plugin
 * rebuilt with the same toolchain and world differs only in what its core modules compute (the
 * embedded JS sits in code and data), so:
 * - `modules`: the core modules in the order jco numbers them (`p.core.wasm`, `p.core2.wasm`, ...:
 *   wasmtime's static module index, the order they appear in the bytes, nested components
 *   depth-first). The loader checks this against jco's own output for every component it does
 *   transpile before it trusts the order for that shape.
 * - `shape`: the component's bytes with each core module's code, data and custom sections, its
 *   globals' initial values and its memories' initial sizes left out (its types, imports, function/table/memory/global declarations
 *   and exports kept). Two components
 *   with equal shapes get the same glue; anything the glue could depend on is in the shape, so a
 *   difference there is only a miss (jco runs), never a wrong glue.
 * The module bytes themselves are keyed by their own hash by the host, so an engine differing in a
 * single byte is metered and compiled anew.
 *
 * Runtime-neutral: plain bytes, no hashing (the host hashes `shape` with what it has).
 */
import { concatBytes } from '../util/bytes.ts';
import { encodeU, Reader } from './wasm-binary.ts';

export interface ComponentParts {
  modules: Uint8Array[];
  shape: Uint8Array;
}

const SEC_CUSTOM = 0;
const SEC_CORE_MODULE = 1;
const SEC_COMPONENT = 4;
const SEC_MEMORY = 5;
const SEC_GLOBAL = 6;
/** core module sections that carry what a module computes, not what it links to */
const CORE_BODY_SECTIONS = new Set([0, 10, 11]);

/** undefined: not a component this reader understands (the caller takes jco's path) */
export function componentParts(bytes: Uint8Array): ComponentParts | undefined {
  try {
    const modules: Uint8Array[] = [];
    const shape = walkComponent(bytes, modules);
    return { modules, shape };
  } catch {
    return undefined;
  }
}

function isComponent(b: Uint8Array): boolean {
  // \0asm, version 0x0d, layer 1
  return b.length >= 8 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d && b[4] === 0x0d && b[5] === 0 && b[6] === 1 && b[7] === 0;
}

function framed(id: number, content: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(id), encodeU(content.length), content]);
}

function walkComponent(b: Uint8Array, modules: Uint8Array[]): Uint8Array {
  if (!isComponent(b)) throw new Error('not a component');
  const r = new Reader(b, 8, b.length);
  const out: Uint8Array[] = [b.subarray(0, 8)];
  while (r.p < b.length) {
    const start = r.p;
    const id = r.byte();
    const size = r.u32();
    const body = r.p;
    r.skip(size);
    if (id > 12) throw new Error(`unknown component section ${id}`);
    const content = b.subarray(body, r.p);
    if (id === SEC_CORE_MODULE) {
      modules.push(content);
      out.push(framed(id, moduleSkeleton(content)));
    } else if (id === SEC_COMPONENT) {
      out.push(framed(id, walkComponent(content, modules)));
    } else if (id === SEC_CUSTOM) {
      // kept: a component-level custom section is rare and small, and keeping it costs only a miss
      out.push(b.subarray(start, r.p));
    } else {
      out.push(b.subarray(start, r.p));
    }
  }
  return concatBytes(out);
}

/** a core module without its code, data and custom sections */
function moduleSkeleton(m: Uint8Array): Uint8Array {
  if (m.length < 8 || m[0] !== 0 || m[1] !== 0x61 || m[2] !== 0x73 || m[3] !== 0x6d || m[4] !== 1 || m[5] !== 0 || m[6] !== 0 || m[7] !== 0) throw new Error('not a core module');
  const r = new Reader(m, 8, m.length);
  const out: Uint8Array[] = [m.subarray(0, 8)];
  while (r.p < m.length) {
    const start = r.p;
    const id = r.byte();
    const size = r.u32();
    r.skip(size);
    if (id === SEC_GLOBAL) out.push(framed(id, globalTypes(m, start, r.p)));
    else if (id === SEC_MEMORY) out.push(framed(id, memoryKinds(m, start, r.p)));
    else if (!CORE_BODY_SECTIONS.has(id)) out.push(m.subarray(start, r.p));
  }
  return concatBytes(out);
}

/**
 * The global section without its initial values: a rebuilt plugin moves its stack and heap bases
 * (its data grew or shrank), which the glue never reads; the globals' types and mutability stay.
 */
function globalTypes(m: Uint8Array, start: number, end: number): Uint8Array {
  const r = new Reader(m, start, end);
  r.byte();
  r.u32();
  const count = r.u32();
  const out: Uint8Array[] = [encodeU(count)];
  for (let i = 0; i < count; i++) {
    const t = r.p;
    r.valtype();
    r.byte(); // mutability
    out.push(m.subarray(t, r.p));
    constExpr(r);
  }
  if (r.p !== end) r.fail('global section longer than its globals');
  return concatBytes(out);
}

/**
 * The memory section without each memory's initial size (a rebuilt plugin's data, hence its first
 * memory, grows and shrinks; the glue never reads it): flags and maximum stay.
 */
function memoryKinds(m: Uint8Array, start: number, end: number): Uint8Array {
  const r = new Reader(m, start, end);
  r.byte();
  r.u32();
  const count = r.u32();
  const out: Uint8Array[] = [encodeU(count)];
  for (let i = 0; i < count; i++) {
    const flags = r.byte();
    if (flags > 0x0f) r.fail(`unknown limits flags 0x${flags.toString(16)}`);
    r.u64();
    const max = r.p;
    if (flags & 1) r.u64();
    if (flags & 8) r.u32();
    out.push(Uint8Array.of(flags), m.subarray(max, r.p));
  }
  if (r.p !== end) r.fail('memory section longer than its memories');
  return concatBytes(out);
}

/** skips a constant expression up to its `end` (MVP, extended-const and reference forms); anything else: not understood */
function constExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42) r.sleb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0x23 || op === 0xd2) r.u32();
    else if (op === 0xd0) r.sleb();
    else if (op >= 0x6a && op <= 0x6c) continue;
    else if (op >= 0x7c && op <= 0x7e) continue;
    else r.fail(`opcode 0x${op.toString(16)} in a constant expression`);
  }
}
