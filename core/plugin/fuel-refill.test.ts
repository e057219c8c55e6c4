import { describe, expect, it } from 'vitest';
import { makeRefiller, refillModuleBytes } from './fuel-refill.ts';

const counters = (n: number, start = 5) => Array.from({ length: n }, () => new WebAssembly.Global({ value: 'i32', mutable: true }, start));

describe('fuel refill', () => {
  it('makes a valid module for any counter count', () => {
    for (const n of [2, 11, 127, 128, 300]) expect(WebAssembly.validate(refillModuleBytes(n))).toBe(true);
  });

  it('sets every counter to the budget in one call, shared with the instances that export them', () => {
    for (const n of [2, 11, 200]) {
      const g = counters(n);
      const refill = makeRefiller(g);
      expect(refill).toBeTypeOf('function');
      refill!(4_750_000);
      expect(g.map((x) => x.value)).toEqual(Array(n).fill(4_750_000));
      // drained by the guest, then refilled: the same global objects, not copies
      g[n - 1]!.value = 0;
      refill!(0x7fffffff);
      expect(g.every((x) => x.value === 0x7fffffff)).toBe(true);
    }
  });

  it('leaves a single counter, a refused compile and counters of another type to the caller', () => {
    expect(makeRefiller(counters(1))).toBeUndefined();
    expect(
      makeRefiller(counters(3), () => {
        throw new Error('Wasm code generation disallowed by embedder');
      }),
    ).toBeUndefined();
    const immutable = [new WebAssembly.Global({ value: 'i32', mutable: false }, 1), new WebAssembly.Global({ value: 'i32', mutable: false }, 1)];
    expect(makeRefiller(immutable)).toBeUndefined();
    const i64 = [new WebAssembly.Global({ value: 'i64', mutable: true }, 1n), new WebAssembly.Global({ value: 'i64', mutable: true }, 1n)];
    expect(makeRefiller(i64)).toBeUndefined();
  });
});
