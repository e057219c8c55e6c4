/**
 * ES module -> WebAssembly component, with either engine (plugins/README.md has the measured cost
 * of each). Both run the module's top level at build time and snapshot the result.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginKindName } from './manifest.ts';
import { pluginWitDir } from './paths.ts';

// componentize-js reads `witWorld` from its options (src/componentize.js) though types.d.ts leaves it out
type StarlingMonkeyBuild = (opts: {
  sourcePath: string;
  witWorld: string;
  worldName: string;
  disableFeatures: string[];
}) => Promise<{ component: Uint8Array }>;

export type PluginBackend = 'quickjs' | 'starlingmonkey';
export const PLUGIN_BACKENDS: readonly PluginBackend[] = ['quickjs', 'starlingmonkey'];

export async function componentizeModule(jsSource: string, world: PluginKindName, backend: PluginBackend): Promise<Uint8Array> {
  try {
    return await (backend === 'starlingmonkey' ? starlingMonkey(jsSource, world) : quickJs(jsSource, world));
  } catch (e) {
    const message = String((e as Error).message ?? e).replace(/^[:\s]+/, '');
    // the usual cause: module top-level code called the host, which does not exist at build time;
    // the engine's message is a wasm backtrace ending in the import's name
    const host = /unknown import: `([^`]+)`/.exec(message)?.[1];
    if (host) {
      throw new Error(
        `componentizing with ${backend} failed: top-level code called ${host}, but code outside handlers runs at build time, where host functions do not exist: call it inside a handler (config() does so lazily)`,
      );
    }
    throw new Error(`componentizing with ${backend} failed: ${message}`);
  }
}

async function quickJs(jsSource: string, world: PluginKindName): Promise<Uint8Array> {
  const { componentize } = await import('componentize-qjs');
  // stubWasi: a plugin gets no file system, network or environment (design.md 6); sync: no async ABI,
  // which the hosts' jco glue would otherwise have to drive
  const { component } = await componentize({ witPath: pluginWitDir(), jsSource, world, stubWasi: true, sync: true });
  return new Uint8Array(component.buffer, component.byteOffset, component.byteLength);
}

async function starlingMonkey(jsSource: string, world: PluginKindName): Promise<Uint8Array> {
  const { componentize } = await import('@bytecodealliance/componentize-js');
  // WIT as text: componentize-js reads a WIT *path* inside WASI without preopens and fails
  const witWorld = await readFile(join(pluginWitDir(), 'weft-plugin.wit'), 'utf8');
  const dir = await mkdtemp(join(tmpdir(), 'weft-plugin-'));
  try {
    const sourcePath = join(dir, 'plugin.js');
    await writeFile(sourcePath, jsSource);
    const { component } = await (componentize as StarlingMonkeyBuild)({
      sourcePath,
      witWorld,
      worldName: world,
      // nothing of WASI: the plugin reaches the world only through weft:plugin/host
      disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
    });
    return component;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
