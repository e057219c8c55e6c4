import { describe, expect, it } from 'vitest';
import { componentParts } from './component-parts.ts';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sec = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => [s.length, ...[...s].map((c) => c.charCodeAt(0))];

/** a core module: one function `f` with a constant body, a memory, a global, a data segment */
function coreModule(o: { ret?: number; data?: number[]; global?: number; globalInit?: number[]; memMin?: number; exportName?: string } = {}): number[] {
  return [
    ...MAGIC, 1, 0, 0, 0,
    ...sec(1, [1, 0x60, 0, 1, 0x7f]),
    ...sec(3, [1, 0]),
    ...sec(5, [1, 0, o.memMin ?? 1]),
    ...sec(6, [1, 0x7f, 1, ...(o.globalInit ?? [0x41, o.global ?? 16]), 0x0b]),
    ...sec(7, [1, ...name(o.exportName ?? 'f'), 0, 0]),
    ...sec(10, [1, ...leb(4), 0, 0x41, o.ret ?? 7, 0x0b]),
    ...sec(11, [1, 0, 0x41, 0, 0x0b, ...leb((o.data ?? [1]).length), ...(o.data ?? [1])]),
    ...sec(0, [...name('name'), 1, 2, 3]),
  ];
}

/** a component: module A, a nested component holding module B, then a top-level section of its own */
function component(a: number[], b: number[], tail: number[] = sec(0, [...name('producers'), 9])): Uint8Array {
  const nested = [...MAGIC, 0x0d, 0, 1, 0, ...sec(1, b)];
  return Uint8Array.from([...MAGIC, 0x0d, 0, 1, 0, ...sec(1, a), ...sec(4, nested), ...tail]);
}

describe('componentParts', () => {
  it('reads the core modules in jco order: as they appear, nested components depth-first', () => {
    const a = coreModule({ ret: 1 });
    const b = coreModule({ ret: 2 });
    const p = componentParts(component(a, b))!;
    expect(p.modules.map((m) => [...m])).toEqual([a, b]);
    // each is a core module WebAssembly accepts as it is
    for (const m of p.modules) expect(WebAssembly.validate(m as Uint8Array<ArrayBuffer>)).toBe(true);
  });

  it('gives a rebuilt plugin the same shape: code, data, custom sections, global values and memory minimum may differ', () => {
    const before = componentParts(component(coreModule(), coreModule()))!;
    const after = componentParts(component(coreModule({ ret: 9, data: [5, 6, 7, 8], global: 32, memMin: 3 }), coreModule({ ret: 3 })))!;
    expect(after.modules[0]).not.toEqual(before.modules[0]);
    expect([...after.shape]).toEqual([...before.shape]);
  });

  it('gives another shape for anything the glue is made from: a core export, a core module more, a top-level section', () => {
    const base = componentParts(component(coreModule(), coreModule()))!.shape;
    expect([...componentParts(component(coreModule({ exportName: 'g' }), coreModule()))!.shape]).not.toEqual([...base]);
    const three = Uint8Array.from([...component(coreModule(), coreModule()), ...sec(1, coreModule())]);
    expect([...componentParts(three)!.shape]).not.toEqual([...base]);
    expect([...componentParts(component(coreModule(), coreModule(), sec(0, [...name('producers'), 8])))!.shape]).not.toEqual([...base]);
  });

  it('declines what it does not understand (the loader then runs jco)', () => {
    expect(componentParts(Uint8Array.from(coreModule()))).toBeUndefined();
    expect(componentParts(Uint8Array.from([...MAGIC, 0x0d, 0, 1, 0, 0xff, 0x01]))).toBeUndefined();
    const truncated = component(coreModule(), coreModule());
    expect(componentParts(truncated.subarray(0, truncated.length - 3))).toBeUndefined();
    // a global initialised by an instruction that is not a constant expression: not guessed at
    expect(componentParts(component(coreModule({ globalInit: [0x20, 0] }), coreModule()))).toBeUndefined();
    // extended-const (QuickJS output uses it) is understood
    expect(componentParts(component(coreModule({ globalInit: [0x41, 1, 0x41, 2, 0x6a] }), coreModule()))).toBeDefined();
  });
});
