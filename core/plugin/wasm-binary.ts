/**
 * Reading and writing the WebAssembly binary format's framing for wasm-meter.ts: a bounds-checked
 * cursor, LEB128, and the module's sections (ids, order, boundaries). Runtime-neutral.
 */
import { concatBytes } from '../util/bytes.ts';

export class WasmMeterError extends Error {
  override name = 'WasmMeterError';
}

export const SEC_IMPORT = 2;
export const SEC_MEMORY = 5;
export const SEC_GLOBAL = 6;
export const SEC_EXPORT = 7;
export const SEC_CODE = 10;
/** position of each known section id in the module's required order (custom sections: anywhere) */
export const SECTION_RANK: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };

export interface Section {
  id: number;
  /** first byte of the section's id */
  start: number;
  /** first byte of its content */
  body: number;
  /** one past its last byte */
  end: number;
}

/** A cursor over a byte range; every read is bounds-checked against `end`. */
export class Reader {
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

export function lebSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export function writeU(out: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

export function encodeU(v: number): Uint8Array {
  const out = new Uint8Array(lebSize(v));
  writeU(out, 0, v);
  return out;
}

export function section(id: number, content: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of content) n += c.length;
  return concatBytes([Uint8Array.of(id), encodeU(n), ...content]);
}

export function readSections(bytes: Uint8Array): Section[] {
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
