/**
 * Refilling an instance's fuel counters before each guest call (instance-pool.ts) in one call.
 *
 * Why: a QuickJS component has ~11 metered core modules, each with its own `weft_fuel` global
 * (wasm-meter.ts), and every guest call must start with all of them full. Setting
 * `WebAssembly.Global#value` from JS is a call into the engine's C++ API each time; in process it
 * was the largest JS-side cost left per call (~0.2 us of a ~3 us call). A tiny module that imports
 * those same globals and sets them all from one exported function turns that into a single
 * JS-to-Wasm call. The result is exactly the same: every counter holds the budget.
 *
 * Where run-time compilation is refused (workerd), or a module cannot be made for any other
 * reason, `makeRefiller` returns undefined and the pool sets each global as before.
 */

type Compile = (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.Module;

/** compiled refill modules by counter count (pure code, the same for every instance) */
const modules = new Map<number, WebAssembly.Module>();

function leb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  leb(body.length, out);
  for (const b of body) out.push(b);
}

/** `(module (import "g" "<i>" (global (mut i32)))... (func (export "r") (param i32) local.get 0 global.set i ...))` */
export function refillModuleBytes(count: number): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  section(1, [0x01, 0x60, 0x01, 0x7f, 0x00], out); // type 0: (i32) -> ()
  const imports: number[] = [];
  leb(count, imports);
  for (let i = 0; i < count; i++) {
    imports.push(0x01, 0x67); // module "g"
    const name = String(i);
    leb(name.length, imports);
    for (let c = 0; c < name.length; c++) imports.push(name.charCodeAt(c));
    imports.push(0x03, 0x7f, 0x01); // global, i32, mutable
  }
  section(2, imports, out);
  section(3, [0x01, 0x00], out); // one function of type 0
  section(7, [0x01, 0x01, 0x72, 0x00, 0x00], out); // export "r" = func 0
  const body: number[] = [0x00]; // no locals
  for (let i = 0; i < count; i++) {
    body.push(0x20, 0x00, 0x24); // local.get 0; global.set i
    leb(i, body);
  }
  body.push(0x0b);
  const code: number[] = [0x01];
  leb(body.length, code);
  for (const b of body) code.push(b);
  section(10, code, out);
  return new Uint8Array(out);
}

/** One function that sets every given counter to its argument; undefined where none can be made. */
export function makeRefiller(globals: readonly WebAssembly.Global[], compile: Compile = (b) => new WebAssembly.Module(b)): ((budget: number) => void) | undefined {
  const n = globals.length;
  if (n < 2) return undefined;
  try {
    let m = modules.get(n);
    if (m === undefined) {
      m = compile(refillModuleBytes(n));
      modules.set(n, m);
    }
    const g: Record<string, WebAssembly.Global> = {};
    for (let i = 0; i < n; i++) g[String(i)] = globals[i]!;
    const r = new WebAssembly.Instance(m, { g }).exports.r;
    return typeof r === 'function' ? (r as (budget: number) => void) : undefined;
  } catch {
    // run-time compilation refused (workerd), or globals of another type: the caller sets each one
    return undefined;
  }
}
