import { describe, expect, it } from 'vitest';
import { GLUE_RULES, treatGlue } from './glue-treatment.ts';

/** The string helpers and one import trampoline as jco-transpile 0.1.1 writes them (whitespace included). */
const JCO_GLUE = `export function make(memory0, realloc0, requestHeader) {
  let dv = new DataView(new ArrayBuffer());
  const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);
  const utf8Decoder = new TextDecoder();
  
  const utf8Encoder = new TextEncoder();
  let utf8EncodedLen = 0;
  function utf8Encode(s, realloc, memory) {
    if (typeof s !== 'string') throw new TypeError('expected a string');
    if (s.length === 0) {
      utf8EncodedLen = 0;
      return 1;
    }
    let buf = utf8Encoder.encode(s);
    let ptr = realloc(0, 0, 1, buf.length);
    new Uint8Array(memory.buffer).set(buf, ptr);
    utf8EncodedLen = buf.length;
    return ptr;
  }
  function startCurrentTask(componentIdx, isAsync, entryFnName) {
    tasks.push(entryFnName);
    return tasks.length;
  }
  
  function endCurrentTask(componentIdx, taskId) {
    return tasks[tasks.length - 1];
  }
  const tasks = [];
  function trampoline48(arg0, arg1, arg2) {
    var ptr0 = arg0;
    var len0 = arg1;
    var result0 = utf8Decoder.decode(new Uint8Array(memory0.buffer, ptr0, len0));
    const _interface_call_currentTaskID = startCurrentTask(23, false, 'request-header');
    const ret = requestHeader(result0);
    endCurrentTask(23);
    dataView(memory0).setInt8(arg2 + 0, 1, true);
    var ptr1 = utf8Encode(ret, realloc0, memory0);
    dataView(memory0).setUint32(arg2 + 8, utf8EncodedLen, true);
    dataView(memory0).setUint32(arg2 + 4, ptr1, true);
  }
  return { trampoline48, tasks, debug() { if (!globalThis?.process?.env?.JCO_DEBUG) { return; } return 'debug'; } };
}
`;

/** the glue's module, built from its text (as the hosts import it from a file or data: URL) */
async function load(text: string) {
  const url = `data:text/javascript;base64,${btoa(unescape(encodeURIComponent(text)))}`;
  return (await import(/* @vite-ignore */ url)) as { make: (m: WebAssembly.Memory, r: (a: number, b: number, c: number, n: number) => number, h: (n: string) => string) => { trampoline48(p: number, l: number, ret: number): void; tasks: string[]; debug(): string | undefined } };
}

/** a request-header call as a guest makes it: the name in memory, the answer read back */
async function roundTrip(text: string, name: string, value: string, grow = false) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  let top = 1024;
  // `grow`: the guest's allocator grows its memory for the answer (the old buffer is detached)
  const realloc = (_o: number, _s: number, _a: number, n: number) => {
    if (grow) top = memory.grow(1) * 65536;
    return (top += n), top - n;
  };
  const seen: string[] = [];
  const m = (await load(text)).make(memory, realloc, (n) => (seen.push(n), value));
  const nameBytes = new TextEncoder().encode(name);
  new Uint8Array(memory.buffer).set(nameBytes, 16);
  m.trampoline48(16, nameBytes.length, 512);
  // a second call, after the first one's views were made (and, with `grow`, detached)
  m.trampoline48(16, nameBytes.length, 512);
  seen.pop();
  const view = new DataView(memory.buffer);
  const ptr = view.getUint32(512 + 4, true);
  const len = view.getUint32(512 + 8, true);
  return { seen, answer: new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len)), tasks: m.tasks, debug: m.debug() };
}

describe('glue treatment', () => {
  it('applies every rule to the glue jco 0.1.1 writes', () => {
    const out = treatGlue(JCO_GLUE);
    for (const r of GLUE_RULES) if (!r.regex) expect(out).toContain(r.replace);
    expect(out).toContain('weftUtf8Decode(memory0, ptr0, len0)');
    expect(out).toContain('dvMem');
    expect(out).not.toContain('utf8Decoder.decode(new Uint8Array(memory0');
    expect(out).not.toContain('JCO_DEBUG');
  });

  it('keeps what crosses the boundary: ASCII, UTF-8, empty and long strings both ways', async () => {
    const treated = treatGlue(JCO_GLUE);
    const long = 'v'.repeat(300);
    for (const [name, value] of [
      ['user-agent', 'wrk'],
      ['x-naïve', 'grüße ☃ 𝄞'],
      ['x-empty', ''],
      [`x-${'n'.repeat(100)}`, long],
      ['x-mixed', `${'a'.repeat(70)}é`],
    ] as const) {
      const before = await roundTrip(JCO_GLUE, name, value);
      const after = await roundTrip(treated, name, value);
      expect(after.seen).toEqual([name]);
      expect(after.answer).toBe(value);
      expect(after.seen).toEqual(before.seen);
      expect(after.answer).toBe(before.answer);
      const grown = await roundTrip(treated, name, value, true);
      expect(grown.answer).toBe(value);
      expect(grown.seen).toEqual([name]);
    }
  });

  it('reads a repeated string from its cache only when every byte matches (same slot, other bytes; non-ASCII; empty)', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    let top = 1024;
    const realloc = (_o: number, _s: number, _a: number, n: number) => ((top += n), top - n);
    const seen: string[] = [];
    const m = (await load(treatGlue(JCO_GLUE))).make(memory, realloc, (n) => (seen.push(n), 'v'));
    const ask = (name: string) => {
      const bytes = new TextEncoder().encode(name);
      // always at the same address, as a guest's reused buffer would be
      new Uint8Array(memory.buffer).set(bytes, 16);
      m.trampoline48(16, bytes.length, 512);
    };
    // same length, first and last byte: the same slot of the cache, different middles
    const names = ['x-aaa-b', 'x-abc-b', 'x-aaa-b', 'x-aaa-b', 'x-aéa-b', 'x-abc-b', 'X-abc-b', '', 'x-abc-b'];
    for (const n of names) ask(n);
    expect(seen).toEqual(names);
  });

  it('drops the per-call task bookkeeping and the debug switch', async () => {
    const before = await roundTrip(JCO_GLUE, 'a', 'b');
    const after = await roundTrip(treatGlue(JCO_GLUE), 'a', 'b');
    expect(before.debug).toBeUndefined();
    expect(after.debug).toBeUndefined();
    // untreated, the (test's) bookkeeping ran and left its trace; treated, it never runs
    expect(before.tasks).toEqual(['request-header', 'request-header']);
    expect(after.tasks).toEqual([]);
    expect(treatGlue(JCO_GLUE)).toContain('return 0; // weft');
  });

  it('lifts a payload-free result case as one frozen object; a case with a payload stays a new object', async () => {
    // an export's result lifting as jco 0.1.1 writes it
    const glue = `export function lift(d, s) {
    let variant6;
    switch (d) {
      case 0: {
        variant6= {
          tag: 'continue',
        };
        break;
      }
      case 2: {
        variant6= {
          tag: 'route',
          val: s
        };
        break;
      }
    }
    return variant6;
  }
`;
    const treated = treatGlue(glue);
    expect(treated).toContain('variant6 = WEFT_TAG_continue;');
    const m = (await load(treated)) as unknown as { lift(d: number, s?: string): { tag: string; val?: string } };
    const a = m.lift(0);
    expect(a).toEqual({ tag: 'continue' });
    expect(m.lift(0)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(m.lift(2, 'r')).toEqual({ tag: 'route', val: 'r' });
    expect(m.lift(2, 'r')).not.toBe(m.lift(2, 'r'));
  });

  it('leaves glue of another shape as it is', () => {
    const other = 'export function instantiate() { const d = new TextDecoder("utf-8"); return d; }\n';
    expect(treatGlue(other)).toBe(other);
  });
});
