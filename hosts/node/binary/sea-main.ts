/**
 * Entry point of the single binary (build.mjs --binary: Node's single executable application, this
 * file bundled as its one CommonJS main script). It sets the stage and hands over to the program:
 * the state directory (`--state DIR`, else $WEFT_STATE_DIR) goes into WEFT_STATE_DIR so every part
 * (the control plane's CA, the plugin cache, the extracted files) writes only there; the binary's
 * runtime (runtime.ts) is set: built-in plugins and the capture addon from the embedded assets,
 * `import()` through a vm.Script that has the default ESM loader (the SEA main script has none:
 * `import()` throws ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING there), and no plugin toolchain. Then the
 * npm build's own program (dist/weft.mjs and its chunks, packed into the assets and extracted with
 * the plugins) is imported through that loader, so a command loads only its own chunks, as with the
 * npm launcher: one CommonJS file holding the whole program kept every command's code in memory
 * (`weft up`: 115 MB idle against the launcher's 74; docs/benchmarks.md, "weft up memory").
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getAsset } from 'node:sea';
import vm from 'node:vm';
import { defaultStateDir } from '../ca/state-dir.ts';
import { extractOnce } from './assets.ts';
import { binaryRuntime, setBinaryRuntime } from './runtime.ts';

/** the asset names scripts/build-binary.mjs writes into the SEA config */
const ASSET_ARCHIVE = 'weft-assets.br';
const ASSET_ID = 'weft-assets.id';

/** `--state DIR` / `--state=DIR` before any `--` (commander parses it again for the command) */
function stateFlag(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (a === '--state' && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith('--state=')) return a.slice('--state='.length);
  }
  return undefined;
}

function assetText(key: string): string | undefined {
  try {
    return getAsset(key, 'utf8');
  } catch {
    return undefined;
  }
}

const flag = stateFlag(process.argv);
if (flag) process.env.WEFT_STATE_DIR = resolve(flag);

let extracted: string | undefined;
function extractedDir(): string {
  const id = assetText(ASSET_ID)?.trim();
  if (!id) throw new Error('this weft binary was built without its assets (build.mjs --binary packs dist/weft.mjs, dist/chunks and dist/plugins)');
  return (extracted ??= extractOnce(join(defaultStateDir(), 'binary'), id, () => new Uint8Array(getAsset(ASSET_ARCHIVE))));
}

// The one experimental warning the loader below causes is the binary's business, not the user's.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (typeof text === 'string' && text.includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

let importer: ((url: string) => Promise<unknown>) | undefined;
setBinaryRuntime({
  builtinDir: () => join(extractedDir(), 'plugins'),
  originalDstAddon: () => {
    const file = join(extractedDir(), 'original_dst.node');
    return existsSync(file) ? file : undefined;
  },
  importModule: (url) => {
    importer ??= new vm.Script('(url) => import(url)', {
      filename: 'weft-binary-import.js',
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }).runInThisContext() as (url: string) => Promise<unknown>;
    return importer(url);
  },
});

if (process.argv[2] === '-e' && process.env.WEFT_NETNS_HELPER !== undefined) {
  // capture's network-namespace helper (capture/netns-helper.ts) runs `<process.execPath> -e SCRIPT`:
  // here that executable is this binary, which runs the script as `node -e` would (CommonJS, with
  // require for Node's modules and process.send over the IPC channel its parent opened)
  (vm.runInThisContext(`(function (require) {${process.argv[3] ?? ''}\n})`, { filename: 'weft-netns-helper.js' }) as (r: NodeJS.Require) => void)(require);
} else {
  // dist/weft.mjs runs the CLI on process.argv when it is evaluated (hosts/node/main.ts)
  const fail = (err: unknown): void => {
    console.error(`weft: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  };
  try {
    binaryRuntime()!.importModule(pathToFileURL(join(extractedDir(), 'app', 'weft.mjs')).href).catch(fail);
  } catch (err) {
    fail(err);
  }
}
