/**
 * What differs when Weft runs as the single binary (build.mjs --binary, hosts/node/binary/sea-main.ts):
 * the built-in plugins and the capture addon come from assets embedded in the executable, `import()`
 * of a file needs a loader the SEA main script lacks, and there is no plugin toolchain (jco,
 * componentize-qjs, esbuild). sea-main.ts sets this once at start; in the npm bundle and in tests it
 * stays unset, and every caller keeps its usual path.
 */
export interface BinaryRuntime {
  /** the directory holding the built-in plugins (`<name>.wasm`, `prepared/`), extracted on first use */
  builtinDir(): string;
  /** the SO_ORIGINAL_DST addon's path, extracted on first use; undefined when the build had none */
  originalDstAddon(): string | undefined;
  /** `import()` of a file: or data: URL (the SEA main script has no dynamic import callback) */
  importModule(url: string): Promise<unknown>;
}

// On globalThis, not in a module variable: the binary's main script (its own bundle) sets it, and the
// program it then imports from the extracted dist (another bundle, with its own copy of this
// module) reads it.
const SLOT = Symbol.for('weft.binaryRuntime');
type Slot = { [SLOT]?: BinaryRuntime };

export function setBinaryRuntime(r: BinaryRuntime): void {
  (globalThis as Slot)[SLOT] = r;
}

/** set when running as the single binary */
export function binaryRuntime(): BinaryRuntime | undefined {
  return (globalThis as Slot)[SLOT];
}

/** what a load of a component nobody prepared says in the binary (no jco inside) */
export function notPreparedMessage(sha256: string, cacheDir: string | undefined): string {
  const cache = cacheDir ?? '<state dir>/plugin-cache';
  return (
    `plugin component ${sha256.slice(0, 12)} is not prepared, and the single weft binary cannot prepare one (no jco inside): ` +
    `it loads the built-in plugins and components prepared in ${cache}/. Prepare this one on a machine with Node ` +
    '(npm weft: `weft plugin build` makes components, and a weft run there with WEFT_STATE_DIR=DIR that loads it ' +
    `prepares it into DIR/plugin-cache/${sha256}/), then copy that directory into ${cache}/`
  );
}

/** why `weft plugin new|build|test` cannot run from the binary */
export const NO_TOOLCHAIN =
  'the single weft binary has no plugin toolchain (componentize-qjs, jco, esbuild, the plugin SDK stay out of it): ' +
  'run `weft plugin new|build|test` on a machine with Node (npm weft, or `node dist/weft.mjs plugin ...`) and copy the .wasm here; ' +
  'the binary loads it once its prepared form is in <state dir>/plugin-cache/ (see the error a load of it prints)';
