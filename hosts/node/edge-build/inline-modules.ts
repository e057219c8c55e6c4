/**
 * jco's glue builds a small JSPI trampoline with `new WebAssembly.Module(new Uint8Array([...]))`
 * inside `instantiate` (never called for Weft's components, but built every time). workerd refuses
 * run-time compilation, so that module becomes one more core module file the glue gets from
 * `getCoreModule`, like the others (the same step test/runtime/plugins/prepare.ts takes). It has no
 * loop, so it is not metered.
 */
const INLINE_MODULE = /new WebAssembly\.Module\(new Uint8Array\(\[([0-9a-fx,\s]*)\]\)\)/g;

export function extractInlineModules(glue: string): { glue: string; inline: Map<string, Uint8Array> } {
  const inline = new Map<string, Uint8Array>();
  const out = glue.replace(INLINE_MODULE, (_all, list: string) => {
    const bytes = Uint8Array.from(
      list
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map((s) => Number(s)),
    );
    const name = `p.inline${inline.size}.wasm`;
    inline.set(name, bytes);
    return `getCoreModule(${JSON.stringify(name)})`;
  });
  return { glue: out, inline };
}
