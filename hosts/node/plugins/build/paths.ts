/**
 * Where the plugin toolchain finds the WIT worlds and the SDK: beside the bundle first (build.mjs
 * copies them to <dist>/plugins/wit and <dist>/plugins/sdk, so an installed weft is self-contained),
 * then the source tree (tests run from source). Both are found by walking up from this module.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findUp(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'plugins', relative);
    if (existsSync(candidate)) return dirname(candidate);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find plugins/${relative} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

let witDir: string | undefined;
let sdkDir: string | undefined;

/** the directory holding weft-plugin.wit */
export function pluginWitDir(): string {
  return (witDir ??= findUp('wit/weft-plugin.wit'));
}

/** the directory holding the SDK's index.ts (what `@weft/plugin-sdk` means) */
export function pluginSdkDir(): string {
  return (sdkDir ??= findUp('sdk/index.ts'));
}
